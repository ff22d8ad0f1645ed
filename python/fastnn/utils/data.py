"""PyTorch's ``torch.utils.data`` over fastnn tensors.

    from fastnn.utils.data import DataLoader, TensorDataset, random_split
    train, val = random_split(TensorDataset(x, y), [0.8, 0.2])
    loader = DataLoader(train, batch_size=64, shuffle=True)
    for xb, yb in loader:            # fastnn tensors, collated as torch's default_collate
        ...
    model.fit(loader, epochs=5)      # fit/evaluate/predict take a DataLoader too

Names, arguments, defaults and results follow torch 2.x. Random orders (``shuffle=True``,
``RandomSampler``, ``random_split``) come from fastnn's seeded generator, so
``fn.manual_seed`` fixes them; a ``generator=`` argument (an object with ``initial_seed()``,
such as ``torch.Generator().manual_seed(0)``) gives a stream of its own instead. Everything
runs in the calling process: ``num_workers`` is accepted, and no worker process is started
(fastnn's kernels already use every core, and batches of in-memory data are cheap to make).
"""

from __future__ import annotations

import bisect
import itertools
import math
import numbers
import warnings

import numpy as np

from .. import _C
from ..tensor import Tensor
from ._collate import array_tensor, default_collate, default_convert

# --- random streams -----------------------------------------------------------------------------

# One numpy stream per generator object given as generator=, seeded from its initial_seed():
# successive draws differ (as a torch.Generator advances), and a re-seeded object starts over.
_streams: dict = {}


def _stream(generator, who):
    seed = getattr(generator, "initial_seed", None)
    if not callable(seed):
        raise TypeError(f"{who}: expected generator to be None (fastnn's global generator) or "
                        f"a generator with initial_seed(), such as torch.Generator(), got "
                        f"{type(generator).__name__}")
    seed = int(seed())
    entry = _streams.get(id(generator))
    if entry is None or entry[0] is not generator or entry[1] != seed:
        # The object itself is kept in the entry so its id cannot be reused by another.
        entry = _streams[id(generator)] = (generator, seed, np.random.default_rng(seed))
    return entry[2]


def _randperm(n, generator, who):
    if generator is None:
        return _C.permutation(int(n))
    return _stream(generator, who).permutation(int(n))


def _randint(high, size, generator, who):
    """``size`` integers uniform in [0, high)."""
    if generator is None:
        u = np.asarray(_C.uniform([int(size)], 0.0, 1.0, "float64", "cpu"))
        return np.minimum((u * high).astype(np.int64), high - 1)
    return _stream(generator, who).integers(0, high, size=int(size), dtype=np.int64)


# --- datasets -----------------------------------------------------------------------------------


class Dataset:
    """A map-style dataset: subclasses define ``__getitem__(index)`` and usually ``__len__``."""

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset read by iterating it (``__iter__``), e.g. a stream; the DataLoader batches
    what it yields in order (no sampler, no shuffle)."""

    def __iter__(self):
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other):
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Samples are rows of the given tensors: ``dataset[i] == (t0[i], t1[i], ...)``.

    Tensors or numpy arrays (kept in their dtype, as ``torch.from_numpy``), all with the same
    first dimension. A DataLoader over it (or a Subset of it) gathers each batch in one
    ``take_rows`` per tensor instead of stacking single rows: the same batches, faster.
    """

    def __init__(self, *tensors):
        who = "TensorDataset"
        if not tensors:
            raise ValueError(f"{who}: expected at least one tensor")
        converted = []
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                array = np.asarray(t)
                if array.dtype.kind not in "biuf":
                    raise TypeError(f"{who}: expected tensors or numeric arrays, but "
                                    f"tensors[{i}] is {type(t).__name__} of dtype {array.dtype}")
                t = array_tensor(array)
            if t.ndim == 0:
                raise ValueError(f"{who}: tensors[{i}] is a 0-d tensor; each needs a first "
                                 "dimension to index samples along")
            converted.append(t)
        sizes = [t.shape[0] for t in converted]
        if any(s != sizes[0] for s in sizes):
            raise ValueError(f"{who}: size mismatch between tensors: every tensor needs the "
                             f"same first dimension, got {sizes}")
        self.tensors = tuple(converted)

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        items = getattr(self.dataset, "__getitems__", None)
        if callable(items):
            return items([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several map-style datasets one after the other."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset: does not support IterableDataset (use "
                                "ChainDataset)")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("ConcatDataset: absolute value of index should not exceed "
                                 "dataset length")
            idx = len(self) + idx
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][idx - start]


class ChainDataset(IterableDataset):
    """Several iterable datasets chained."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            yield from d

    def __len__(self):
        return sum(len(d) for d in self.datasets)


def random_split(dataset, lengths, generator=None):
    """Splits ``dataset`` into non-overlapping Subsets of the given lengths, in a random order
    from fastnn's generator (or ``generator``'s). As torch 2.x, ``lengths`` may be fractions
    summing to 1: each split gets floor(n * fraction) samples, and the remainder goes one by
    one to the first splits."""
    who = "random_split"
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError(f"{who}: expected lengths to be a non-empty list, got []")
    for i, v in enumerate(lengths):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"{who}: expected lengths to be integers or fractions, but "
                            f"lengths[{i}] is {v!r}")
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"{who}: fraction at index {i} is not between 0 and 1: {frac!r}")
            sizes.append(int(math.floor(n * frac)))
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        lengths = sizes
        for i, length in enumerate(lengths):
            if length == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an "
                              "empty dataset.", stacklevel=2)
    for i, v in enumerate(lengths):
        if v != int(v) or v < 0:
            raise ValueError(f"{who}: lengths must be non-negative integers or fractions "
                             f"summing to 1, got {lengths}")
    lengths = [int(v) for v in lengths]
    if sum(lengths) != n:
        raise ValueError(f"{who}: sum of input lengths ({sum(lengths)}) does not equal the "
                         f"length of the input dataset ({n})")
    indices = _randperm(n, generator, who).tolist()
    return [Subset(dataset, indices[end - length:end])
            for end, length in zip(itertools.accumulate(lengths), lengths)]


# --- samplers -----------------------------------------------------------------------------------


class Sampler:
    """Yields dataset indices (or lists of them, for a batch sampler)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A new random order on every pass (from fastnn's generator, or ``generator``'s);
    ``replacement=True`` draws ``num_samples`` indices independently."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        who = "RandomSampler"
        if not isinstance(replacement, bool):
            raise TypeError(f"{who}: replacement should be a boolean value, got "
                            f"{replacement!r}")
        self.data_source, self.replacement = data_source, replacement
        self._num_samples, self.generator = num_samples, generator
        if (isinstance(self.num_samples, bool) or not isinstance(self.num_samples, numbers.Integral)
                or self.num_samples <= 0):
            raise ValueError(f"{who}: num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples!r}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n, who = len(self.data_source), "RandomSampler"
        if self.replacement:
            yield from _randint(n, self.num_samples, self.generator, who).tolist()
            return
        for _ in range(self.num_samples // n):
            yield from _randperm(n, self.generator, who).tolist()
        rest = self.num_samples % n
        if rest:
            yield from _randperm(n, self.generator, who)[:rest].tolist()

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a new random order on every pass."""

    def __init__(self, indices, generator=None):
        self.indices, self.generator = indices, generator

    def __iter__(self):
        for i in _randperm(len(self.indices), self.generator, "SubsetRandomSampler").tolist():
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class BatchSampler(Sampler):
    """Groups ``sampler``'s indices into lists of ``batch_size`` (the last one shorter unless
    ``drop_last``)."""

    def __init__(self, sampler, batch_size, drop_last):
        who = "BatchSampler"
        if (isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral)
                or batch_size <= 0):
            raise ValueError(f"{who}: batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"{who}: drop_last should be a boolean value, but got "
                             f"drop_last={drop_last!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, int(batch_size), drop_last

    def __iter__(self):
        it = iter(self.sampler)
        while True:
            batch = list(itertools.islice(it, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def _rows_source(dataset):
    """(tensors, index map or None) when ``dataset`` is a TensorDataset or Subsets of one, so
    a batch is one take_rows per tensor; None otherwise. The map sends a sample index of
    ``dataset`` to a row of the tensors (the Subsets' indices composed once per pass)."""
    chain = []
    while isinstance(dataset, Subset):
        chain.append(dataset.indices)
        dataset = dataset.dataset
    if type(dataset) is not TensorDataset:  # a subclass may override __getitem__
        return None
    index_map = None
    for indices in reversed(chain):  # innermost first: map = inner[outer]
        indices = np.asarray(indices)
        if indices.dtype.kind not in "iu" or indices.ndim != 1:
            return None  # unusual indices: leave them to Subset.__getitem__
        size = len(dataset) if index_map is None else len(index_map)
        if len(indices) and (indices.min() < -size or indices.max() >= size):
            return None  # let __getitem__ raise its own IndexError
        indices = np.where(indices < 0, indices + size, indices).astype(np.int64)
        index_map = indices if index_map is None else index_map[indices]
    return dataset.tensors, index_map


# --- the loader ---------------------------------------------------------------------------------


class DataLoader:
    """Batches of a dataset, as ``torch.utils.data.DataLoader``.

    ``dataset``: map-style (``__getitem__`` and ``__len__``, e.g. TensorDataset, Subset, your
    own Dataset) or an IterableDataset. Each batch is ``collate_fn`` (default_collate) of
    ``batch_size`` samples; ``shuffle=True`` draws a new order from fastnn's generator every
    pass; ``drop_last`` skips a last, smaller batch; ``sampler``/``batch_sampler`` choose
    indices yourself; ``batch_size=None`` yields single samples (default_convert).
    ``num_workers``, ``pin_memory``, ``timeout``, ``worker_init_fn``, ``prefetch_factor``,
    ``persistent_workers`` and the rest are accepted and checked as torch does; batches are
    made in the calling process. ``len(loader)`` is the number of batches per pass.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        who = "DataLoader"
        if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) \
                or num_workers < 0:
            raise ValueError(f"{who}: num_workers option should be non-negative; use "
                             f"num_workers=0 to disable multiprocessing, got {num_workers!r}")
        if not isinstance(timeout, numbers.Real) or timeout < 0:
            raise ValueError(f"{who}: timeout option should be non-negative, got {timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(f"{who}: prefetch_factor option could only be specified in "
                             "multiprocessing; let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None")
        if persistent_workers and num_workers == 0:
            raise ValueError(f"{who}: persistent_workers option needs num_workers > 0")
        iterable = isinstance(dataset, IterableDataset)
        if not iterable and not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise TypeError(f"{who}: expected a map-style dataset (with __getitem__ and "
                            f"__len__) or an IterableDataset, got {type(dataset).__name__}; "
                            "wrap arrays in TensorDataset(x, y)")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
                batch_size, numbers.Integral) or batch_size <= 0):
            raise ValueError(f"{who}: batch_size should be a positive integer value or None, "
                             f"but got batch_size={batch_size!r}")
        if iterable:
            if shuffle not in (False, None):
                raise ValueError(f"{who} with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise ValueError(f"{who} with IterableDataset: expected unspecified sampler "
                                 "and batch_sampler options")
        elif sampler is not None and shuffle:
            raise ValueError(f"{who}: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(f"{who}: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError(f"{who}: batch_size=None option disables auto-batching and is "
                             "mutually exclusive with drop_last")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"{who}: expected collate_fn to be callable, got "
                            f"{type(collate_fn).__name__}")
        if sampler is None and not iterable:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None and not iterable:
            batch_sampler = BatchSampler(sampler, batch_size, bool(drop_last))
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = int(num_workers)
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self._auto_collation = batch_sampler is not None or (iterable and batch_size is not None)
        self._default_collate = collate_fn is None
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    def __len__(self):
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)  # TypeError where the dataset has no length, as torch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self._auto_collation else self.sampler)

    def __iter__(self):
        if isinstance(self.dataset, IterableDataset):
            yield from self._iter_iterable()
            return
        if not self._auto_collation:
            for index in self.sampler:
                yield self.collate_fn(self.dataset[index])
            return
        rows = _rows_source(self.dataset) if self._default_collate else None
        items = getattr(self.dataset, "__getitems__", None)
        for indices in self.batch_sampler:
            if rows is not None:
                yield self._gather(rows, indices)
            elif callable(items):
                yield self.collate_fn(items(indices))
            else:
                yield self.collate_fn([self.dataset[i] for i in indices])

    @staticmethod
    def _gather(rows, indices):
        """default_collate of TensorDataset samples at ``indices``: a list of one batch per
        tensor, gathered by take_rows (stacking the rows would give the same tensors)."""
        tensors, index_map = rows
        index = np.asarray(indices)
        if index.dtype.kind not in "iu":
            raise IndexError(f"DataLoader: sampler indices must be integers, got {indices!r}")
        n = tensors[0].shape[0] if index_map is None else len(index_map)
        bad = (index < -n) | (index >= n)
        if bad.any():
            raise IndexError(f"DataLoader: index {int(index[np.argmax(bad)])} is out of range "
                             f"for a dataset of {n} samples")
        index = np.where(index < 0, index + n, index).astype(np.int64)
        if index_map is not None:
            index = index_map[index]
        index = _C.from_numpy(np.ascontiguousarray(index))
        return [_C.take_rows(t, index) for t in tensors]

    def _iter_iterable(self):
        it = iter(self.dataset)
        if not self._auto_collation:
            for sample in it:
                yield self.collate_fn(sample)
            return
        while True:
            batch = list(itertools.islice(it, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield self.collate_fn(batch)

    def __repr__(self):
        return (f"DataLoader({type(self.dataset).__name__}, batch_size={self.batch_size}, "
                f"drop_last={self.drop_last})")


__all__ = [
    "Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset",
    "random_split", "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
    "BatchSampler", "DataLoader", "default_collate", "default_convert",
]
