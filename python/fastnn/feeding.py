"""How fit/evaluate/predict read their data: arrays, (x, y) or (x, y, sample_weight) tuples,
DataLoaders (fastnn.data's and fastnn.utils.data's), tf.data-style Datasets and iterables of
batches become a _Source; x, y and the sample weights are
converted and checked against the loss once, before the first step; `_batches` cuts a
_Source into numpy batches (Rows when shuffling). fit's class_weight becomes per-sample
weights from the labels, as Keras's class_weight_to_sample_weights does."""

from __future__ import annotations

import itertools
import numbers
import warnings

import numpy as np

from . import _C
from . import losses as _losses
from .capture import Rows
from .data import DataLoader, permutation
from .tf_dataset import INFINITE_CARDINALITY, Dataset
from .summary import _shape_str
from .tensor import Tensor, numeric_array

_DEFAULT_BATCH = 32


class _Source:
    """What fit/evaluate/predict iterate: arrays (x, y) cut into batches, or an iterable of
    batches (DataLoader, generator, list of (x, y) tuples)."""

    def __init__(self, kind, x, y=None, batch_size=None, shuffle=False, w=None,
                 class_weight=None, carry=False):
        self.kind, self.x, self.y = kind, x, y
        self.batch_size, self.shuffle = batch_size, shuffle
        self.w = w  # sample weights (arrays), or None
        self.class_weight = class_weight  # a _ClassWeight for an iterable's batches, or None
        # fit's Dataset with steps_per_epoch: each epoch goes on where the last one stopped
        # (Keras's EpochIterator), over one iterator kept here until it runs out.
        self.carry, self.iterator = carry, None

    @property
    def arrays(self):
        return self.kind == "arrays"

    def num_batches(self):
        if self.arrays:
            return -(-len(self.x) // self.batch_size)
        try:
            return len(self.x)
        except TypeError:
            return None

    def one_shot(self):
        return not self.arrays and iter(self.x) is self.x


def _carried(source, steps):
    """``steps`` batches of ``source.x`` from where the last epoch stopped, as Keras's
    EpochIterator with steps_per_epoch: islice takes exactly `steps` (none lost for the
    next epoch); an epoch cut short by the end of the data makes the next one start over,
    and so does an iterator that ended exactly at the last epoch's end."""
    fresh = source.iterator is None
    if fresh:
        source.iterator = iter(source.x)
    taken = 0
    for batch in itertools.islice(source.iterator, steps):
        taken += 1
        yield batch
    if taken == 0 and not fresh:
        source.iterator = iter(source.x)
        for batch in itertools.islice(source.iterator, steps):
            taken += 1
            yield batch
    if taken < steps:
        source.iterator = None


def _uploaded(x):
    """Whether fit's arrays (an array, or a Group of them) are on a device (``_on_device``)."""
    return isinstance(x.arrays[0] if hasattr(x, "arrays") else x, Tensor)


def _is_array_like(x):
    return isinstance(x, (np.ndarray, Tensor, list, numbers.Number)) or hasattr(x, "__array__")


def _describe(x):
    return f"{type(x).__name__} of shape {np.shape(x)}" if hasattr(x, "shape") else type(x).__name__


def _position(flat_index, shape):
    if len(shape) <= 1:
        return f"[{flat_index}]"
    return "[" + ", ".join(str(int(i)) for i in np.unravel_index(flat_index, shape)) + "]"


def _unpack_batch(items, who, what):
    """(x, y, sample_weight) from an (x,), (x, y) or (x, y, sample_weight) tuple (None for
    what is missing)."""
    if len(items) not in (1, 2, 3):
        raise ValueError(f"{who}: {what} must be (x, y) or (x, y, sample_weight), got a "
                         f"{type(items).__name__} of {len(items)} items")
    return (items[0], items[1] if len(items) > 1 else None,
            items[2] if len(items) > 2 else None)


class _ClassWeight:
    """fit's class_weight as a table: a sample's weight is its class's entry (1.0 for a
    class the dict leaves out), its class being the label, or the argmax of a one-hot or
    probability row, or the rounded (N, 1) / (N,) binary target, as Keras reads it."""

    def __init__(self, who, class_weight, out_shape):
        if len(out_shape) > 2:
            raise ValueError(f"{who}: class_weight needs one class per sample, but the model "
                             f"outputs shape {_shape_str((None,) + tuple(out_shape[1:]))}; "
                             "weight sequences with sample_weight of shape (N, T)")
        classes = _classes(out_shape)
        if isinstance(class_weight, dict):
            items = list(class_weight.items())
        elif isinstance(class_weight, (list, tuple, np.ndarray)):
            weights = np.asarray(class_weight)
            if weights.ndim != 1 or len(weights) != classes:
                raise ValueError(f"{who}: class_weight as a sequence needs one weight per "
                                 f"class ({classes} for this model), got "
                                 f"{len(weights) if weights.ndim == 1 else weights.shape}; or "
                                 "pass a dict {class: weight}")
            items = list(enumerate(weights.tolist()))
        else:
            raise TypeError(f"{who}: expected class_weight to be a dict {{class index: "
                            f"weight}}, got {type(class_weight).__name__}")
        self.table = np.ones(classes)
        for key, weight in items:
            if isinstance(key, (bool, np.bool_)) or not isinstance(key, numbers.Integral):
                raise ValueError(f"{who}: class_weight keys must be integer class indices, "
                                 f"got {key!r}")
            if not 0 <= key < classes:
                raise ValueError(f"{who}: class_weight has key {key}, but the model's "
                                 f"classes are 0 to {classes - 1}")
            if (isinstance(weight, (bool, np.bool_)) or not isinstance(weight, numbers.Real)
                    or not np.isfinite(weight)):
                raise ValueError(f"{who}: class_weight[{key}] must be a finite number, got "
                                 f"{weight!r}")
            self.table[int(key)] = float(weight)

    def __call__(self, who, y, dtype):
        y = np.asarray(y)
        if y.ndim > 2:
            raise ValueError(f"{who}: class_weight needs one class per sample (targets of "
                             f"shape (N,), (N, 1) or (N, classes)), got targets of shape "
                             f"{y.shape}; weight sequences with sample_weight of shape (N, T)")
        if y.ndim == 2:
            y = np.argmax(y, axis=-1) if y.shape[-1] != 1 else y[:, 0]
        labels = np.round(y).astype(np.int64) if y.dtype.kind == "f" else y.astype(np.int64)
        inside = (labels >= 0) & (labels < len(self.table))
        weights = np.where(inside, self.table[np.clip(labels, 0, len(self.table) - 1)], 1.0)
        return np.ascontiguousarray(weights, dtype=dtype)


def _classes(out_shape):
    """How many classes a model with this output shape tells apart (2 for one output)."""
    return out_shape[-1] if len(out_shape) >= 2 and out_shape[-1] > 1 else 2


def _check_int(who, arg, value, minimum, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{who}: expected {arg} to be {expected}"
                         f"{' or None' if allow_none else ''}, got {value!r}")
    return int(value)


class FeedingMixin:
    """The data side of :class:`fastnn.training.TrainingMixin`."""

    def _np_dtype(self):
        return np.float64 if getattr(self, "dtype", "float32") == "float64" else np.float32

    def _prepare_x(self, who, x, arg="x"):
        return self._prepare_input_array(who, x, arg, self._takes_ids(), self._np_dtype())

    @staticmethod
    def _prepare_input_array(who, x, arg, takes_ids, dtype):
        """One input converted once: ids (``takes_ids``) as integers, else ``dtype``."""
        array = numeric_array(x, who, arg, batch_axis=True)
        if array.dtype.kind in "iuf" and takes_ids:
            # Ids stay integers (the plan's input buffer too): cast to float32 they would
            # lose every id past 2**24, and a replay would truncate fractional ones unseen.
            if array.dtype.kind == "f":
                flat = array.reshape(-1)
                bad = ~np.isfinite(flat) | (flat != np.round(flat))
                if bad.any():
                    i = int(np.argmax(bad))
                    raise IndexError(f"{who}: the model's first layer takes integer ids, but "
                                     f"{arg}{_position(i, array.shape)} = {flat[i].item()!r}")
            ids = np.int32 if array.dtype == np.int32 else np.int64
            return np.ascontiguousarray(array, dtype=ids)
        return np.ascontiguousarray(array, dtype=dtype)

    def _loss_name(self, loss=None):
        loss = self.loss if loss is None else loss
        return type(loss).__name__ if isinstance(loss, _losses.Loss) else getattr(
            loss, "__name__", "the loss")

    def _prepare_y(self, who, y, out_shape, arg="y", loss=None):
        """y checked against the loss and converted for it. out_shape: the model's output
        shape for one batch (only its non-batch axes are used)."""
        y = numeric_array(y, who, arg, batch_axis=True)
        loss = self.loss if loss is None else loss  # one output's, for several outputs
        if not isinstance(loss, _losses.Loss):
            if y.dtype.kind in "iu":
                return np.ascontiguousarray(y, dtype=np.int64)
            return np.ascontiguousarray(y, dtype=self._np_dtype())
        name = self._loss_name(loss)
        pred = (len(y),) + tuple(out_shape[1:])
        if len(pred) == 1:
            pred = pred + (1,)
        if isinstance(loss, _losses.SparseCategoricalCrossentropy):
            rows, classes = pred[:-1], pred[-1]
            shape = y.shape[:-1] if (y.ndim == len(rows) + 1 and y.shape[-1] == 1) else y.shape
            if shape != rows:
                hint = (" — these look one-hot: use categorical_crossentropy, or integer labels "
                        "(y.argmax(axis=-1))" if y.shape == pred else "")
                raise ValueError(f"{who}: {name} expects integer class labels {arg} of shape "
                                 f"{_shape_str(rows)} for a model whose output has shape "
                                 f"{_shape_str((None,) + pred[1:])}, got {arg} of shape "
                                 f"{_shape_str(y.shape)}{hint}")
            flat = y.reshape(-1)
            if y.dtype.kind == "f":
                bad = ~np.isfinite(flat) | (flat != np.round(flat)) | (flat < 0) | (flat >= classes)
            else:
                bad = (flat < 0) | (flat >= classes)
            if bad.any():
                i = int(np.argmax(bad))
                value = flat[i].item()
                raise IndexError(f"{who}: {name} needs every label in {arg} to be an integer in "
                                 f"[0, {classes}) (the model outputs {classes} classes), but "
                                 f"{arg}{_position(i, y.shape)} = {value!r}")
            return np.ascontiguousarray(y.reshape(rows), dtype=np.int64)
        if y.shape != pred and not (y.shape == pred[:-1] and pred[-1] == 1):
            hint = ""
            if isinstance(loss, _losses.CategoricalCrossentropy) and y.shape == pred[:-1]:
                hint = (" — these look like integer labels: use sparse_categorical_crossentropy "
                        "or one-hot encode them with fn.utils.to_categorical(y)")
            raise ValueError(f"{who}: {name} expects {arg} of shape "
                             f"{_shape_str((len(y),) + pred[1:])} like the model's output, got "
                             f"{arg} of shape {_shape_str(y.shape)}{hint}")
        values = np.ascontiguousarray(y, dtype=self._np_dtype())
        flat = values.reshape(-1)
        if not _C.all_finite(_C.from_numpy(flat)):
            i = int(np.argmax(~np.isfinite(flat)))
            raise ValueError(f"{who}: {name} needs finite targets, but "
                             f"{arg}{_position(i, y.shape)} = {flat[i].item()!r}")
        if isinstance(loss, _losses.BinaryCrossentropy):
            bad = (flat < 0) | (flat > 1)
            if bad.any():
                i = int(np.argmax(bad))
                raise ValueError(f"{who}: {name} needs targets in [0, 1], but "
                                 f"{arg}{_position(i, y.shape)} = {flat[i].item()!r}")
        return values

    def _check_input_shape(self, who, shape):
        """Raises when x cannot fit the model's declared input shape (Sequential knows it)."""

    def _output_shape_for(self, x_sample):
        """The model's output shape for a one-sample batch (builds lazy layers)."""
        out = self._predict_step(x_sample)
        if not isinstance(out, Tensor):
            raise TypeError(f"{type(self).__name__}: fit/evaluate support models with one "
                            f"tensor output, got a {type(out).__name__}")
        return tuple(out.shape)

    def _adapt(self, who, x, y, batch_size, need_y, shuffle=False, sample_weight=None):
        """x, y (and sample weights) as given to fit/evaluate/predict -> _Source (arrays
        checked, not converted)."""
        if x is None:
            raise ValueError(f"{who}: x is required")
        if isinstance(x, tuple) and y is None and not isinstance(x, np.ndarray):
            x, y, w = _unpack_batch(x, who, "x given as a tuple")
            if w is not None:
                if sample_weight is not None:
                    raise ValueError(f"{who}: sample weights given twice (in the x tuple and "
                                     "as sample_weight)")
                sample_weight = w
        iterable = isinstance(x, DataLoader) or (
            not _is_array_like(x) and hasattr(x, "__iter__")) or (
            isinstance(x, list) and x and isinstance(x[0], tuple))
        if iterable:
            if y is not None:
                raise ValueError(f"{who}: y must not be given when x is a DataLoader or an "
                                 "iterable of batches (they yield (x, y) pairs)")
            if batch_size is not None:
                raise ValueError(f"{who}: batch_size applies to arrays; the "
                                 f"{type(x).__name__} given as x makes its own batches")
            if sample_weight is not None:
                raise ValueError(f"{who}: sample_weight applies to arrays; with a "
                                 f"{type(x).__name__} as x, yield (x, y, sample_weight) "
                                 "batches")
            if isinstance(x, Dataset) and x._depth == 0:
                raise ValueError(f"{who}: the Dataset yields single samples, not batches; "
                                 "call .batch(batch_size) on it first (Keras takes batched "
                                 "datasets)")
            return _Source("iterable", x, carry=isinstance(x, Dataset) and who == "fit")
        batch_size = _check_int(who, "batch_size", batch_size, 1, allow_none=True) or _DEFAULT_BATCH
        x = self._check_array(who, x, "x")
        if y is None:
            if need_y:
                raise ValueError(f"{who}: y is required when x is an array (or pass x as "
                                 "(x, y), a DataLoader or an iterable of (x, y) batches)")
        else:
            y = self._check_array(who, y, "y")
            if len(y) != len(x):
                raise ValueError(f"{who}: x and y must have the same number of samples, got "
                                 f"{len(x)} in x and {len(y)} in y")
        if sample_weight is not None and need_y:
            sample_weight = self._check_array(who, sample_weight, "sample_weight")
            if len(sample_weight) != len(x):
                raise ValueError(f"{who}: sample_weight must have one weight per sample, got "
                                 f"{len(sample_weight)} for {len(x)} samples in x")
        else:
            sample_weight = None
        return _Source("arrays", x, y, batch_size, shuffle, w=sample_weight)

    @staticmethod
    def _check_array(who, value, arg):
        if isinstance(value, Tensor):
            value = np.asarray(value)
        try:
            array = np.asarray(value)
        except Exception as exc:  # noqa: BLE001 - report what came
            raise TypeError(f"{who}: expected {arg} to be an array, "
                            f"got {_describe(value)}") from exc
        if array.dtype == object or array.dtype.kind not in "biuf":
            raise TypeError(f"{who}: expected {arg} to be a numeric array, got "
                            f"{type(value).__name__} with dtype {array.dtype}")
        if array.ndim == 0:
            raise ValueError(f"{who}: expected {arg} with a batch axis, got a scalar")
        if len(array) == 0:
            raise ValueError(f"{who}: {arg} is empty (0 samples)")
        return array

    def _prepared(self, who, source, need_y=True):
        """Arrays converted once (x to the model's dtype, y checked against the loss)."""
        if not source.arrays:
            return source
        x = self._prepare_x(who, source.x)
        self._check_input_shape(who, x.shape)
        y, w = source.y, source.w
        if y is not None and need_y:
            out_shape = self._output_shape_for(x[:1])
            y = self._prepare_y(who, y, out_shape)
            if w is not None:
                w = self._prepare_w(who, w, out_shape)
        return _Source("arrays", x, y, source.batch_size, source.shuffle, w=w)

    def _on_device(self, who, source):
        """An array source for a model on a device: its arrays uploaded there once, so each
        batch is gathered on the device and only an epoch's order travels. Arrays that do not
        fit in device memory stay on the host, and each batch is uploaded as it comes."""
        if self._device == "cpu" or not source.arrays or _uploaded(source.x):
            return source

        def upload(a):  # an array, or a Group of them (a model with several inputs)
            if a is None:
                return None
            if hasattr(a, "arrays"):
                return type(a)(upload(part) for part in a.arrays)
            return _C.from_numpy(a, a.dtype.name).to_device(self._device)

        try:
            x, y, w = upload(source.x), upload(source.y), upload(source.w)
        except MemoryError:
            warnings.warn(f"{who}: the data does not fit in {self._device}'s memory; each "
                          "batch is uploaded as it comes (slower)", stacklevel=3)
            return source
        return _Source("arrays", x, y, source.batch_size, source.shuffle, w=w)

    def _prepare_w(self, who, w, out_shape, arg="sample_weight"):
        """Sample weights checked (finite numbers, one per sample — (N,) or (N, 1) — or one
        per loss value, e.g. (N, T) for a sequence output) in the model's dtype."""
        w = numeric_array(w, who, arg, batch_axis=True)
        if w.ndim == 2 and w.shape[1] == 1:
            w = w[:, 0]
        rows = (len(w),) + tuple(out_shape[1:-1])
        if w.ndim > 1 and w.shape != rows:
            raise ValueError(f"{who}: expected {arg} of shape {_shape_str((len(w),))} (one "
                             f"weight per sample) or {_shape_str(rows)} (one per loss value), "
                             f"got {_shape_str(w.shape)}")
        w = np.ascontiguousarray(w, dtype=self._np_dtype())
        if not np.isfinite(w).all():
            i = int(np.argmax(~np.isfinite(w.reshape(-1))))
            raise ValueError(f"{who}: {arg} must be finite, but "
                             f"{arg}{_position(i, w.shape)} = {w.reshape(-1)[i].item()!r}")
        return w

    def _with_class_weight(self, who, source, class_weight):
        """``source`` with fit's class_weight applied: per-sample weights for arrays (from
        the prepared labels), a table applied to each batch for iterables."""
        if source.w is not None:
            raise ValueError(f"{who}: you cannot pass class_weight and sample_weight at the "
                             "same time (Keras's rule); multiply them into sample_weight")
        if source.arrays:
            out_shape = self._output_shape_for(source.x[:1])
            table = _ClassWeight(who, class_weight, out_shape)
            w = table(who, source.y, self._np_dtype())
            return _Source("arrays", source.x, source.y, source.batch_size, source.shuffle, w=w)
        return _Source(source.kind, source.x, class_weight=class_weight, carry=source.carry)

    def _batches(self, source, shuffle=None, steps=None, who="fit", need_y=True,
                 weights=False):
        """Yields (x, y or None) numpy batches for one pass over ``source``; with
        ``weights``, (x, y, sample weights or None).

        Arrays (already prepared by ``_prepared``) are sliced, or, when shuffling, cut into
        :class:`Rows` in a new order from fastnn's generator (gathered only where they go).
        Batches of an iterable are checked and converted one by one.
        """
        if source.arrays:
            x, y, w, b = source.x, source.y, source.w, source.batch_size
            n = len(x)
            shuffle = source.shuffle if shuffle is None else shuffle
            order = permutation(n) if shuffle else None
            count = -(-n // b) if steps is None else min(steps, -(-n // b))
            for k in range(count):
                lo, hi = k * b, min(n, (k + 1) * b)
                if order is None and not _uploaded(x):
                    xb, yb = x[lo:hi], (None if y is None else y[lo:hi])
                    wb = None if w is None else w[lo:hi]
                else:  # shuffled, or a dataset on a device (gathered there)
                    idx = (np.arange(lo, hi, dtype=np.int64) if order is None
                           else order[lo:hi])
                    xb, yb = Rows(x, idx), (None if y is None else Rows(y, idx))
                    wb = None if w is None else Rows(w, idx)
                yield (xb, yb, wb) if weights else (xb, yb)
            return
        out_shape = table = None
        if isinstance(source.x, Dataset) and steps is None \
                and source.x.cardinality() == INFINITE_CARDINALITY:
            raise ValueError(f"{who}: the Dataset is infinite (repeat() without a count); pass "
                             "steps_per_epoch to fit (validation_steps for validation_data, "
                             "steps to evaluate/predict)")
        if source.carry and steps is not None:
            batches = _carried(source, steps)
        else:
            # islice: a one-shot generator gives exactly `steps` batches per pass, none lost.
            batches = itertools.islice(source.x, steps)
        for k, batch in enumerate(batches):
            if isinstance(batch, (tuple, list)):
                xb, yb, wb = _unpack_batch(batch, who, f"batch {k}")
            else:
                xb, yb, wb = batch, None, None
            where = f"{who} (batch {k})"
            xb = self._prepare_x(where, xb)
            if len(xb) == 0:
                raise ValueError(f"{where}: the batch is empty (0 samples)")
            self._check_input_shape(where, xb.shape)
            if need_y:
                if yb is None:
                    raise ValueError(f"{where}: expected (x, y) batches, got x alone")
                if len(yb) != len(xb):
                    raise ValueError(f"{where}: x and y must have the same number of samples, "
                                     f"got {len(xb)} in x and {len(yb)} in y")
                if out_shape is None:
                    out_shape = self._output_shape_for(xb[:1])
                yb = self._prepare_y(where, yb, out_shape)
                if not weights:
                    if wb is not None:
                        raise ValueError(f"{where}: sample weights are not used here; yield "
                                         "(x, y) batches")
                    yield xb, yb
                    continue
                if wb is not None:
                    if source.class_weight is not None:
                        raise ValueError(f"{where}: you cannot pass class_weight and sample "
                                         "weights at the same time (Keras's rule)")
                    if len(wb) != len(xb):
                        raise ValueError(f"{where}: sample weights must have one weight per "
                                         f"sample, got {len(wb)} for {len(xb)} samples")
                    wb = self._prepare_w(where, wb, out_shape)
                elif source.class_weight is not None:
                    if table is None:
                        table = _ClassWeight(who, source.class_weight, out_shape)
                    wb = table(where, yb, self._np_dtype())
                yield xb, yb, wb
            else:
                yield (xb, None, None) if weights else (xb, None)

    def _validation_source(self, data, batch_size):
        who = "fit: validation_data"
        if isinstance(data, tuple):
            if len(data) not in (2, 3):
                raise ValueError(f"{who}: expected (x_val, y_val) or (x_val, y_val, "
                                 f"sample_weight_val), got a tuple of {len(data)} items")
            return self._adapt(who, data[0], data[1], batch_size, need_y=True,
                               sample_weight=data[2] if len(data) == 3 else None)
        if isinstance(data, DataLoader) or (not _is_array_like(data) and hasattr(data, "__iter__")):
            return self._adapt(who, data, None, batch_size, need_y=True)
        raise ValueError(f"{who}: expected a tuple (x_val, y_val), a DataLoader, a Dataset or "
                         f"an iterable of (x, y) batches, got {_describe(data)}")
