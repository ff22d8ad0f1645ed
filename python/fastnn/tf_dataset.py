"""TensorFlow's ``tf.data.Dataset`` over fastnn tensors, reached as ``fn.data.Dataset``.

    import fastnn as tf
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1024).batch(32)
    for xb, yb in ds:               # fastnn tensors, the structure as given
        ...
    model.fit(ds, epochs=5, validation_data=val_ds)

A pipeline is a chain of lazy steps, run again from the start on every iteration. Inside,
elements are numpy arrays in tuples/dicts; iteration hands them out as fastnn tensors, and
``map`` functions receive and return tensors, as in TensorFlow. When nothing between
``from_tensor_slices`` and ``batch`` looks at the elements (shuffle, take, skip, repeat,
prefetch, cache), the steps move row indices instead of rows and ``batch`` gathers each
batch with one fancy index per array: the same batches as stacking rows, without a Python
call per element. dtypes follow TensorFlow: numpy arrays keep theirs, Python floats become
float32, ints int32 (int64 when they do not fit) and bools bool (fastnn's nearest dtype).
The arrays given to ``from_tensor_slices`` are read in place, not copied.
"""

from __future__ import annotations

import itertools
import numbers

import numpy as np

from . import _C
from .dataset_elements import (first_dims, flatten, map_structure, pack, stack, structure,
                               to_numpy, to_tensors)
from .tensor import Tensor, no_grad

AUTOTUNE = -1
INFINITE_CARDINALITY = -1
UNKNOWN_CARDINALITY = -2


class _Cardinality(int):
    """What ``cardinality()`` returns: an int that also has ``.numpy()``, since TensorFlow
    code writes ``ds.cardinality().numpy()``."""

    def numpy(self):
        return np.int64(self)


def _count(value, who, arg, minimum):
    if isinstance(value, Tensor):
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
            or value < minimum:
        expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{who}: expected {arg} to be {expected}, got {value!r}")
    return int(value)


def _draw_seed():
    """A 64-bit seed from fastnn's generator (so fn.manual_seed fixes shuffles)."""
    u = np.asarray(_C.uniform([2], 0.0, 1.0, "float64", "cpu"))
    return [int(u[0] * 2**53), int(u[1] * 2**53)]


# --- datasets -----------------------------------------------------------------------------------


class Dataset:
    """A sequence of elements (tensors, or tuples/dicts of them), as ``tf.data.Dataset``.

    Make one with ``from_tensor_slices``, ``from_tensors``, ``range``, ``zip`` or
    ``from_generator``; each method returns a new Dataset. Iterating yields fastnn tensors
    (in the element's tuples/dicts); ``as_numpy_iterator()`` yields numpy arrays.
    """

    # Set by each kind of dataset: cardinality (>= 0, INFINITE_CARDINALITY or
    # UNKNOWN_CARDINALITY), how many batch() steps its elements carry (None: unknown), and
    # whether its stream can be of row indices into a _Slices root.
    _cardinality = UNKNOWN_CARDINALITY
    _depth = None
    _indexed = False

    def _stream(self, indices=False):
        """A fresh iterator over the elements (numpy structures), or over row indices of
        ``_root()`` when ``indices`` (only where ``_indexed``)."""
        raise NotImplementedError

    def _root(self):
        raise NotImplementedError

    # --- making datasets ---

    @staticmethod
    def from_tensor_slices(tensors, name=None):
        """One element per row of ``tensors`` (an array/tensor, or a tuple or dict of them
        sharing their first dimension)."""
        return _Slices(tensors)

    @staticmethod
    def from_tensors(tensors, name=None):
        """A single element: ``tensors`` as a whole."""
        return _FromTensors(tensors)

    @staticmethod
    def range(*args, dtype="int64", name=None):
        """range(stop), range(start, stop[, step]) as scalars of ``dtype`` (int64)."""
        who = "Dataset.range"
        if not 1 <= len(args) <= 3:
            raise ValueError(f"{who}: expected 1 to 3 arguments (start, stop, step), got "
                             f"{len(args)}")
        for a in args:
            if isinstance(a, (bool, np.bool_)) or not isinstance(a, numbers.Integral):
                raise ValueError(f"{who}: expected integer arguments, got {a!r}")
        bounds = range(*(int(a) for a in args))  # range's own checks (step 0)
        return _Range(bounds, np.dtype(dtype))

    @staticmethod
    def zip(*datasets, name=None):
        """Elements of several datasets side by side: ``zip(a, b)`` or ``zip((a, b))``
        gives (a_i, b_i); a dict of datasets gives dicts. Ends with the shortest."""
        if len(datasets) == 1 and isinstance(datasets[0], (tuple, list, dict)):
            datasets = datasets[0]
        if isinstance(datasets, list):
            datasets = tuple(datasets)
        if not datasets or any(not isinstance(d, Dataset) for d in flatten(datasets)):
            raise TypeError("Dataset.zip: expected datasets (as arguments, or one tuple or "
                            "dict of them)")
        return _Zip(datasets)

    @staticmethod
    def from_generator(generator, output_types=None, output_shapes=None, args=None,
                       output_signature=None, name=None):
        """Elements from ``generator(*args)``, called again on every iteration (a callable,
        as in TensorFlow, not a generator object). The types and shapes are not needed:
        each element is converted as it comes."""
        if not callable(generator):
            raise TypeError("Dataset.from_generator: expected generator to be a callable "
                            f"that returns an iterator, got {type(generator).__name__}")
        return _FromGenerator(generator, tuple(args or ()))

    # --- transformations ---

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True, name=None):
        """Random order through a buffer of ``buffer_size`` elements, as TensorFlow: the
        buffer fills with the first elements, each output is a random one of the buffer
        and its place takes the next input. A buffer as large as the dataset shuffles it
        fully; a small one only mixes nearby elements. The order comes from fastnn's
        generator (or from ``seed``), and is new on every iteration unless
        ``reshuffle_each_iteration=False``."""
        buffer_size = _count(buffer_size, "Dataset.shuffle", "buffer_size", 1)
        if seed is not None:
            seed = _count(seed, "Dataset.shuffle", "seed", 0)
        return _Shuffle(self, buffer_size, seed, bool(reshuffle_each_iteration))

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None,
              deterministic=None, name=None):
        """Consecutive elements stacked into batches of ``batch_size`` along a new first
        axis (the last one smaller unless ``drop_remainder``)."""
        batch_size = _count(batch_size, "Dataset.batch", "batch_size", 1)
        return _Batch(self, batch_size, bool(drop_remainder))

    def unbatch(self, name=None):
        """Each element's rows as separate elements (the inverse of batch)."""
        return _Unbatch(self)

    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        """``map_func`` applied to every element: a tuple element is passed as separate
        arguments, anything else as one; it receives and returns fastnn tensors (numpy
        arrays and Python numbers are accepted back, a list is taken as a tuple). It runs
        under ``no_grad``, element by element, in this thread (``num_parallel_calls`` is
        accepted)."""
        if not callable(map_func):
            raise TypeError(f"Dataset.map: expected map_func to be callable, got "
                            f"{type(map_func).__name__}")
        return _Map(self, map_func)

    def filter(self, predicate, name=None):
        """The elements for which ``predicate`` (called as map's function) is true."""
        if not callable(predicate):
            raise TypeError(f"Dataset.filter: expected predicate to be callable, got "
                            f"{type(predicate).__name__}")
        return _Filter(self, predicate)

    def repeat(self, count=None, name=None):
        """The dataset ``count`` times over (None or -1: forever)."""
        count = -1 if count is None else _count(count, "Dataset.repeat", "count", -1)
        return _Repeat(self, count)

    def take(self, count, name=None):
        """The first ``count`` elements (-1: all)."""
        return _Take(self, _count(count, "Dataset.take", "count", -1))

    def skip(self, count, name=None):
        """All but the first ``count`` elements (-1: skips everything)."""
        return _Skip(self, _count(count, "Dataset.skip", "count", -1))

    def enumerate(self, start=0, name=None):
        """(index, element) pairs, the index an int64 scalar counting from ``start``."""
        start = _count(start, "Dataset.enumerate", "start", -2**62)
        return _Enumerate(self, start)

    def concatenate(self, dataset, name=None):
        """This dataset's elements, then ``dataset``'s."""
        if not isinstance(dataset, Dataset):
            raise TypeError(f"Dataset.concatenate: expected a Dataset, got "
                            f"{type(dataset).__name__}")
        return _Concatenate(self, dataset)

    def prefetch(self, buffer_size, name=None):
        """Accepted for TensorFlow code; returns an equivalent dataset. TensorFlow prepares
        the next batches on background threads while the model trains. Here a batch is
        a fancy index of in-memory arrays (microseconds beside a step), and a background
        thread would contend for the GIL with the training loop and draw from fastnn's
        generator (shuffle, map functions) concurrently with the step's dropout, making
        results depend on timing. So elements are made on demand, in order."""
        if buffer_size is not None:
            _count(buffer_size, "Dataset.prefetch", "buffer_size", -1)
        return _Passthrough(self)

    def cache(self, filename="", name=None):
        """Keeps the elements of the first complete iteration in memory and replays them
        afterwards (what comes before the cache, a shuffle included, then runs once)."""
        if filename:
            raise ValueError("Dataset.cache: fastnn caches in memory only; call cache() "
                             "without a filename")
        return _Cache(self)

    def apply(self, transformation_func):
        return transformation_func(self)

    # --- reading ---

    def __iter__(self):
        for element in self._stream():
            yield to_tensors(element)

    def as_numpy_iterator(self):
        """Iterates the elements as numpy arrays (numpy scalars for 0-d components)."""
        for element in self._stream():
            yield to_numpy(element)

    def cardinality(self):
        """The number of elements, INFINITE_CARDINALITY (-1) or UNKNOWN_CARDINALITY (-2)."""
        return _Cardinality(self._cardinality)

    def __len__(self):
        n = self._cardinality
        if n == INFINITE_CARDINALITY:
            raise TypeError("The dataset is infinite.")
        if n == UNKNOWN_CARDINALITY:
            raise TypeError("The dataset length is unknown.")
        return n

    def __bool__(self):
        return True  # not len(): an infinite dataset is still a dataset

    def __repr__(self):
        n = {INFINITE_CARDINALITY: "infinite", UNKNOWN_CARDINALITY: "unknown"}.get(
            self._cardinality, self._cardinality)
        return f"<{type(self).__name__.lstrip('_')}Dataset cardinality={n}>"


class _Slices(Dataset):
    _indexed = True
    _depth = 0

    def __init__(self, tensors):
        who = "Dataset.from_tensor_slices"
        self.structure = structure(tensors, who)
        self._cardinality = first_dims(self.structure, who)

    def _root(self):
        return self

    def gather(self, index):
        return map_structure(lambda a: a[index], self.structure)

    def _stream(self, indices=False):
        if indices:
            return iter(range(self._cardinality))
        return (map_structure(lambda a, i=i: a[i, ...], self.structure)
                for i in range(self._cardinality))


class _FromTensors(Dataset):
    _cardinality = 1

    def __init__(self, tensors):
        self.element = structure(tensors, "Dataset.from_tensors")

    def _stream(self, indices=False):
        return iter([self.element])


class _Range(Dataset):
    """Dataset.range: rows made from their index, nothing stored."""

    _indexed = True
    _depth = 0

    def __init__(self, bounds, dtype):
        self.bounds, self.dtype = bounds, dtype
        self._cardinality = len(bounds)

    def _root(self):
        return self

    def gather(self, index):
        return (self.bounds.start + self.bounds.step * index).astype(self.dtype)

    def _stream(self, indices=False):
        if indices:
            return iter(range(self._cardinality))
        return (np.array(v, dtype=self.dtype) for v in self.bounds)


class _FromGenerator(Dataset):
    def __init__(self, generator, args):
        self.generator, self.args = generator, args

    def _stream(self, indices=False):
        for value in self.generator(*self.args):
            yield structure(value, "Dataset.from_generator", lists_are_tuples=True)


class _Passthrough(Dataset):
    """A step that selects or orders elements without looking at them (prefetch as such;
    shuffle, take, skip, repeat, cache by overriding ``_transform``): it works on the
    parent's row indices as well as on its elements."""

    def __init__(self, parent):
        self.parent = parent
        self._indexed, self._depth = parent._indexed, parent._depth
        self._cardinality = self._count(parent._cardinality)

    def _count(self, n):
        return n

    def _root(self):
        return self.parent._root()

    def _transform(self, stream, indices):
        return stream(indices)

    def _stream(self, indices=False):
        return self._transform(self.parent._stream, indices)


class _Shuffle(_Passthrough):
    def __init__(self, parent, buffer_size, seed, reshuffle):
        super().__init__(parent)
        self.buffer_size, self.seed, self.reshuffle = buffer_size, seed, reshuffle
        self._iterations = 0
        self._fixed_seed = None

    def _rng(self):
        if self.seed is not None:
            key = [self.seed, self._iterations] if self.reshuffle else [self.seed]
            self._iterations += 1
            return np.random.default_rng(key)
        if self.reshuffle:
            return np.random.default_rng(_draw_seed())
        if self._fixed_seed is None:  # drawn once: the same order on every iteration
            self._fixed_seed = _draw_seed()
        return np.random.default_rng(self._fixed_seed)

    def _transform(self, stream, indices):
        rng = self._rng()
        source = stream(indices)
        buffer = list(itertools.islice(source, self.buffer_size))
        uniforms, used = rng.random(4096), 0
        while buffer:
            if used == len(uniforms):
                uniforms, used = rng.random(4096), 0
            k = min(int(uniforms[used] * len(buffer)), len(buffer) - 1)
            used += 1
            chosen = buffer[k]
            nxt = next(source, _END)
            if nxt is not _END:
                buffer[k] = nxt
            else:
                buffer[k] = buffer[-1]
                buffer.pop()
            yield chosen


_END = object()


class _Take(_Passthrough):
    def __init__(self, parent, count):
        self.n = count
        super().__init__(parent)

    def _count(self, n):
        if self.n < 0:
            return n
        if n == INFINITE_CARDINALITY:
            return self.n
        return n if n == UNKNOWN_CARDINALITY else min(n, self.n)

    def _transform(self, stream, indices):
        return stream(indices) if self.n < 0 else itertools.islice(stream(indices), self.n)


class _Skip(_Passthrough):
    def __init__(self, parent, count):
        self.n = count
        super().__init__(parent)

    def _count(self, n):
        if self.n < 0:
            return 0
        return n if n < 0 else max(0, n - self.n)

    def _transform(self, stream, indices):
        if self.n < 0:
            return iter(())
        return itertools.islice(stream(indices), self.n, None)


class _Repeat(_Passthrough):
    def __init__(self, parent, count):
        self.n = count
        super().__init__(parent)

    def _count(self, n):
        if self.n < 0:
            return 0 if n == 0 else INFINITE_CARDINALITY
        if self.n == 0:
            return 0
        return n if n < 0 else n * self.n

    def _transform(self, stream, indices):
        passes = itertools.count() if self.n < 0 else range(self.n)
        for _ in passes:
            empty = True
            for element in stream(indices):
                empty = False
                yield element
            if empty:  # an empty dataset repeated forever is empty, not a hang
                return


class _Cache(_Passthrough):
    def __init__(self, parent):
        super().__init__(parent)
        self._saved = {}

    def _transform(self, stream, indices):
        if indices in self._saved:
            yield from self._saved[indices]
            return
        kept = []
        for element in stream(indices):
            kept.append(element)
            yield element
        self._saved[indices] = kept  # only a complete pass is kept


class _Batch(Dataset):
    def __init__(self, parent, batch_size, drop_remainder):
        self.parent, self.batch_size, self.drop_remainder = parent, batch_size, drop_remainder
        self._depth = None if parent._depth is None else parent._depth + 1
        n = parent._cardinality
        if n < 0:
            self._cardinality = n
        else:
            self._cardinality = n // batch_size if drop_remainder else -(-n // batch_size)

    def _stream(self, indices=False):
        parent, b = self.parent, self.batch_size
        source = parent._stream(parent._indexed)
        while True:
            chunk = list(itertools.islice(source, b))
            if not chunk or (self.drop_remainder and len(chunk) < b):
                return
            if parent._indexed:
                yield parent._root().gather(np.asarray(chunk, dtype=np.int64))
            else:
                yield stack(chunk, "Dataset.batch")


class _Unbatch(Dataset):
    def __init__(self, parent):
        self.parent = parent
        self._depth = None if parent._depth is None else max(0, parent._depth - 1)

    def _stream(self, indices=False):
        for element in self.parent._stream():
            n = first_dims(element, "Dataset.unbatch")
            for i in range(n):
                yield map_structure(lambda a, i=i: a[i, ...], element)


def _call(fn, element):
    """``fn`` on an element as tf.data calls it: a plain tuple spread into arguments."""
    args = to_tensors(element)
    with no_grad():
        return fn(*args) if type(args) is tuple else fn(args)


class _Map(Dataset):
    def __init__(self, parent, fn):
        self.parent, self.fn = parent, fn
        self._cardinality, self._depth = parent._cardinality, parent._depth

    def _stream(self, indices=False):
        for element in self.parent._stream():
            yield structure(_call(self.fn, element), "Dataset.map (the function's result)",
                            lists_are_tuples=True)


class _Filter(Dataset):
    def __init__(self, parent, predicate):
        self.parent, self.predicate = parent, predicate
        self._depth = parent._depth

    def _stream(self, indices=False):
        for element in self.parent._stream():
            keep = _call(self.predicate, element)
            if isinstance(keep, Tensor):
                if keep.numel() != 1:
                    raise ValueError("Dataset.filter: the predicate must return a scalar "
                                     f"boolean, got a tensor of shape {tuple(keep.shape)}")
                keep = keep.item()
            if bool(keep):
                yield element


class _Zip(Dataset):
    def __init__(self, datasets):
        self.datasets = datasets
        members = flatten(datasets)
        depths = [d._depth for d in members]
        self._depth = None if None in depths else min(depths)
        counts = [d._cardinality for d in members]
        if UNKNOWN_CARDINALITY in counts:
            self._cardinality = UNKNOWN_CARDINALITY
        else:
            finite = [n for n in counts if n != INFINITE_CARDINALITY]
            self._cardinality = min(finite) if finite else INFINITE_CARDINALITY

    def _stream(self, indices=False):
        members = flatten(self.datasets)
        for parts in zip(*(d._stream() for d in members)):
            yield pack(self.datasets, parts)


class _Enumerate(Dataset):
    def __init__(self, parent, start):
        self.parent, self.start = parent, start
        self._cardinality, self._depth = parent._cardinality, parent._depth

    def _stream(self, indices=False):
        for i, element in enumerate(self.parent._stream(), self.start):
            yield (np.array(i, dtype=np.int64), element)


class _Concatenate(Dataset):
    def __init__(self, first, second):
        self.first, self.second = first, second
        self._depth = first._depth if first._depth == second._depth else None
        a, b = first._cardinality, second._cardinality
        if INFINITE_CARDINALITY in (a, b):
            self._cardinality = INFINITE_CARDINALITY
        elif UNKNOWN_CARDINALITY in (a, b):
            self._cardinality = UNKNOWN_CARDINALITY
        else:
            self._cardinality = a + b

    def _stream(self, indices=False):
        yield from self.first._stream()
        yield from self.second._stream()


class _Experimental:
    """``tf.data.experimental``'s names that older tutorials use."""

    AUTOTUNE = AUTOTUNE
    INFINITE_CARDINALITY = INFINITE_CARDINALITY
    UNKNOWN_CARDINALITY = UNKNOWN_CARDINALITY

    @staticmethod
    def cardinality(dataset):
        return dataset.cardinality()


experimental = _Experimental()

__all__ = ["Dataset", "AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY", "experimental"]
