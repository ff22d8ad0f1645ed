"""The data side of structured.py: x, y and sample weights for several inputs and outputs
as Groups of arrays in the model's order (from lists, dicts, or the batches of an iterable),
checked and converted once, like feeding.py does for one array."""

from __future__ import annotations

import numpy as np

from .capture import Rows
from .data import DataLoader
from .feeding import _DEFAULT_BATCH, _ClassWeight, _Source, _check_int, _describe
from .tensor import Tensor


class Group:
    """Arrays with one row per sample (one per model input, or per trained output) that
    are sliced and gathered together: ``len`` is the number of samples."""

    __slots__ = ("arrays",)

    def __init__(self, arrays):
        self.arrays = tuple(arrays)

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        if not isinstance(index, slice):
            raise TypeError(f"Group: expected a slice of rows, got {type(index).__name__}")
        return Group(a[index] for a in self.arrays)

    @property
    def shape(self):
        return tuple(tuple(a.shape) for a in self.arrays)


def _parts(value):
    """The arrays of a batch of a Group (sliced or gathered as Rows), or (value,)."""
    if value is None:
        return ()
    if isinstance(value, Group):
        return value.arrays
    if isinstance(value, Rows) and isinstance(value.array, Group):
        return tuple(Rows(a, value.index) for a in value.array.arrays)
    return (value,)


def _is_array(value):
    return isinstance(value, (np.ndarray, Tensor, Rows)) or hasattr(value, "__array__")


def _is_structure(x):
    """Whether x is several inputs: a dict of arrays, or a list/tuple of two or more arrays
    or tensors (a list of numbers or of lists stays one array, as numpy reads it)."""
    if isinstance(x, dict):
        return bool(x) and all(_is_array(v) for v in x.values())
    return (isinstance(x, (list, tuple)) and len(x) >= 2
            and all(isinstance(v, (np.ndarray, Tensor)) for v in x))


class _StructuredBatches:
    """An iterable of batches whose x, y and sample weights (lists or dicts) are turned into
    Groups in the model's order, batch by batch."""

    def __init__(self, model, batches, who):
        self.model, self.batches, self.who = model, batches, who

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        model = self.model
        for k, batch in enumerate(self.batches):
            where = f"{self.who} (batch {k})"
            if isinstance(batch, dict) or not isinstance(batch, (tuple, list)) or (
                    isinstance(batch, list) and len(batch) == len(model._input_names) > 1
                    and all(_is_array(b) for b in batch)):
                yield model._input_group(where, batch)
                continue
            if len(batch) not in (1, 2, 3):
                raise ValueError(f"{where}: expected (x, y) or (x, y, sample_weight), got a "
                                 f"{type(batch).__name__} of {len(batch)} items")
            items = [model._input_group(where, batch[0])]
            trained = getattr(model, "_trained_outputs", None)
            if len(batch) > 1:
                items.append(model._target_group(where, batch[1]) if trained else batch[1])
            if len(batch) > 2:
                items.append(model._weight_group(where, batch[2]) if trained else batch[2])
            yield tuple(items)


class StructuredFeeding:
    """fit/evaluate/predict's data for a model with several inputs or outputs (the
    structure comes from structured.StructuredTraining: ``_structured``, ``_input_names``,
    ``_trained_outputs`` ...); the plain path otherwise."""

    def _input_group(self, who, x):
        """x as a Group in the order of the model's inputs (a list in that order, a dict by
        input name, or one array for a model with one input), each array checked."""
        if isinstance(x, Group):
            return x
        names = self._input_names
        n = len(names)
        if isinstance(x, dict):
            missing = [k for k in names if k not in x]
            unknown = [k for k in x if k not in names]
            if missing or unknown:
                raise ValueError(f"{who}: expected x as a dict with the model's input names "
                                 f"{names}, got the keys {list(x)} (missing {missing}, "
                                 f"unknown {unknown})")
            arrays = [x[k] for k in names]
        elif isinstance(x, (list, tuple)) and (n > 1 or (len(x) == 1 and _is_array(x[0]))):
            if len(x) != n:
                raise ValueError(f"{who}: the model has {n} inputs {names}; expected x as a "
                                 f"list of {n} arrays in that order (or a dict by input name), "
                                 f"got a {type(x).__name__} of {len(x)}")
            arrays = list(x)
        elif n == 1:
            arrays = [x]
        else:
            raise ValueError(f"{who}: the model has {n} inputs {names}; expected x as a list "
                             f"of {n} arrays in that order or a dict by input name, got "
                             f"{_describe(x)}")
        return Group(self._check_array(who, a, f"x[{name!r}]") for a, name in zip(arrays, names))

    def _by_output(self, who, arg, value):
        """Targets or sample weights per trained output: a dict by output name, a list (one
        per output, or one per output with a loss), or one array (one trained output; for
        sample weights, every output)."""
        outputs = self._trained_outputs
        names = self._output_names
        trained = [o.name for o in outputs]
        if isinstance(value, Group):
            return value
        if isinstance(value, dict):
            unknown = [k for k in value if k not in names]
            missing = [k for k in trained if k not in value]
            if unknown or missing:
                raise ValueError(f"{who}: expected {arg} as a dict by output name with the "
                                 f"outputs that have a loss {trained}, got the keys "
                                 f"{list(value)} (missing {missing}, unknown {unknown})")
            arrays = [value[k] for k in trained]
        elif isinstance(value, (list, tuple)) and (len(names) > 1 or (
                len(value) == 1 and _is_array(value[0]))):
            if len(value) == len(names):
                arrays = [value[o.index] for o in outputs]
            elif len(value) == len(outputs):
                arrays = list(value)
            else:
                raise ValueError(f"{who}: the model has {len(names)} outputs {names} "
                                 f"({len(outputs)} with a loss); expected {arg} as a list of "
                                 f"{len(names)} arrays in that order (or a dict by output "
                                 f"name), got a {type(value).__name__} of {len(value)}")
        elif len(outputs) == 1 or arg == "sample_weight":
            arrays = [value] * len(outputs)
        else:
            raise ValueError(f"{who}: the model has {len(outputs)} outputs with a loss "
                             f"{trained}; expected {arg} as a list of arrays in the order of "
                             f"the outputs or a dict by output name, got {_describe(value)}")
        return Group(self._check_array(who, a, f"{arg}[{o.name!r}]")
                     for a, o in zip(arrays, outputs))

    def _target_group(self, who, y):
        return self._by_output(who, "y", y)

    def _weight_group(self, who, w):
        return self._by_output(who, "sample_weight", w)

    @staticmethod
    def _iterable(x):
        return isinstance(x, DataLoader) or (
            not isinstance(x, (dict, list, tuple, np.ndarray, Tensor, Group))
            and not hasattr(x, "__array__") and hasattr(x, "__iter__")) or (
            isinstance(x, list) and bool(x) and isinstance(x[0], tuple))

    def _adapt(self, who, x, y, batch_size, need_y, shuffle=False, sample_weight=None):
        if not self._graph:
            self._adopt_structure(x[0] if isinstance(x, tuple) and y is None and need_y
                                  and len(x) in (2, 3) else x)
        if not self._structured:
            return super()._adapt(who, x, y, batch_size, need_y, shuffle, sample_weight)
        if x is None:
            raise ValueError(f"{who}: x is required")
        if isinstance(x, tuple) and y is None and need_y:
            if len(x) not in (2, 3):
                raise ValueError(f"{who}: x given as a tuple must be (x, y) or (x, y, "
                                 f"sample_weight), got a tuple of {len(x)} items")
            if len(x) == 3:
                if sample_weight is not None:
                    raise ValueError(f"{who}: sample weights given twice (in the x tuple and "
                                     "as sample_weight)")
                sample_weight = x[2]
            x, y = x[0], x[1]
        if self._iterable(x):
            source = super()._adapt(who, x, y, batch_size, need_y, shuffle, sample_weight)
            if not source.arrays:
                source.x = _StructuredBatches(self, source.x, who)
            return source

        batch_size = _check_int(who, "batch_size", batch_size, 1, allow_none=True) or _DEFAULT_BATCH
        xg = self._input_group(who, x)
        yg = wg = None
        if y is not None and need_y:
            yg = self._target_group(who, y)
        elif need_y:
            raise ValueError(f"{who}: y is required when x is arrays (a list or dict of "
                             "arrays, one per input)")
        if sample_weight is not None and need_y:
            wg = self._weight_group(who, sample_weight)
        n = len(xg)
        outputs = [o.name for o in self._trained_outputs]
        for group, arg, names in ((xg, "x", self._input_names), (yg, "y", outputs),
                                  (wg, "sample_weight", outputs)):
            for a, name in zip(() if group is None else group.arrays, names):
                if len(a) != n:
                    raise ValueError(f"{who}: every input, target and sample weight needs the "
                                     f"same number of samples, got {n} in "
                                     f"x[{self._input_names[0]!r}] and {len(a)} in "
                                     f"{arg}[{name!r}]")
        return _Source("arrays", xg, yg, batch_size, shuffle, w=wg)

    def _prepare_x(self, who, x, arg="x"):
        if not isinstance(x, Group):
            if self._structured:
                x = self._input_group(who, x)
            elif not self._graph:
                return super()._prepare_x(who, x, arg)
            else:
                return self._prepare_input_array(who, x, arg, self._ids[0],
                                                 self._input_np_dtype(0))
        return Group(self._prepare_input_array(who, a, f"{arg}[{name!r}]", self._ids[i],
                                               self._input_np_dtype(i))
                     for i, (a, name) in enumerate(zip(x.arrays, self._input_names)))

    def _input_np_dtype(self, i):
        if self._input_tensors is None:
            return self._np_dtype()
        dtype = self._input_tensors[i].dtype
        return np.dtype(dtype if dtype.startswith("float") else self.dtype)

    def _check_input_shape(self, who, shape):
        if self._input_tensors is None:  # no graph: no declared shapes
            return super()._check_input_shape(who, shape)
        shapes = shape if self._structured else (shape,)
        for s, t, name in zip(shapes, self._input_tensors, self._input_names):
            if len(s) != len(t.shape) or any(d is not None and d != g
                                             for d, g in zip(t.shape[1:], s[1:])):
                text = "(" + ", ".join("None" if d is None else str(d) for d in t.shape) + ")"
                raise ValueError(f"{who}: expected x[{name!r}] of shape {text} (its "
                                 f"keras.Input's), got an array of shape {tuple(s)}")

    def _output_shape_for(self, x_sample):
        if not self._structured:
            return super()._output_shape_for(x_sample)
        return tuple(tuple(o.shape) for o in self._predict_step(x_sample))

    def _prepare_y(self, who, y, out_shape, arg="y", loss=None):
        if not isinstance(y, Group):
            return super()._prepare_y(who, y, out_shape, arg, loss)
        return Group(super(StructuredFeeding, self)._prepare_y(
            who, a, out_shape[o.index], f"{arg}[{o.name!r}]", loss=o.loss)
            for a, o in zip(y.arrays, self._trained_outputs))

    def _prepare_w(self, who, w, out_shape, arg="sample_weight"):
        if not isinstance(w, Group):
            return super()._prepare_w(who, w, out_shape, arg)
        return Group(super(StructuredFeeding, self)._prepare_w(
            who, a, out_shape[o.index], f"{arg}[{o.name!r}]")
            for a, o in zip(w.arrays, self._trained_outputs))

    def _with_class_weight(self, who, source, class_weight):
        if not self._structured:
            return super()._with_class_weight(who, source, class_weight)
        if len(self._trained_outputs) != 1 or not source.arrays:
            raise ValueError(f"{who}: class_weight is supported for a model with one output "
                             "and array data (Keras's rule); pass sample_weight per output")
        if source.w is not None:
            raise ValueError(f"{who}: you cannot pass class_weight and sample_weight at the "
                             "same time (Keras's rule); multiply them into sample_weight")

        out_shape = self._output_shape_for(source.x[:1])[self._trained_outputs[0].index]
        table = _ClassWeight(who, class_weight, out_shape)
        w = Group([table(who, source.y.arrays[0], self._np_dtype())])
        return _Source("arrays", source.x, source.y, source.batch_size, source.shuffle, w=w)


__all__ = ["Group", "StructuredFeeding"]
