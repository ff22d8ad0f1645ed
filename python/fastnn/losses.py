"""Losses as classes (Keras names and PyTorch aliases) and by Keras string names.

Call a loss as ``loss_fn(y_pred, y_true)`` (PyTorch's order, as in ``loss_fn(model(x), y)``).
Keras code that calls ``loss_fn(y_true, y_pred)`` works too whenever exactly one argument
carries a graph (the model's output while training): that one is taken as the prediction.
Keywords ``y_true=``/``y_pred=`` are always unambiguous.

Per-sample losses average over the last axis (mse, mae, binary CE) or sum over classes
(categorical CE), as Keras does; the reduction then averages ("mean", Keras's
"sum_over_batch_size"), adds ("sum") or keeps ("none") the per-sample values.

``sample_weight=`` (Keras's third argument) multiplies the per-sample losses first; the
mean then still divides by their count, as Keras's "sum_over_batch_size" does:
sum(w * loss) / N, not / sum(w).
"""

from __future__ import annotations

import numpy as np

from . import _C
from ._lookup import resolve
from .snapshot import snapshot
from .tensor import Tensor, as_tensor

_REDUCTIONS = ("mean", "sum", "none", "sum_over_batch_size")


class Loss:
    kind = ""  # the kernel's name

    def __init__(self, from_logits=False, reduction="sum_over_batch_size", name=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: unknown reduction {reduction!r}; expected "
                             f"one of {', '.join(_REDUCTIONS)}")
        self.from_logits = bool(from_logits)
        self.reduction = reduction
        self.name = name or self.kind

    def __call__(self, *args, y_true=None, y_pred=None, sample_weight=None):
        if len(args) == 3 and sample_weight is None:  # Keras: (y_true, y_pred, sample_weight)
            *args, sample_weight = args
        y_pred, y_true = self._arguments(args, y_true, y_pred)
        who = type(self).__name__
        pred = y_pred if isinstance(y_pred, Tensor) else as_tensor(y_pred, dtype="float32")
        if isinstance(y_true, Tensor):
            target = y_true
        elif _C.is_grad_enabled():  # the backward pass reads the targets: keep a copy
            target = snapshot(np.asarray(y_true))
        else:
            target = _C.from_numpy(np.asarray(y_true), None)
        if sample_weight is None:
            return _C.loss(pred, target, self.kind, self.from_logits, self.reduction, who)
        values = _C.loss(pred, target, self.kind, self.from_logits, "none", who)
        return weighted_reduce(values, sample_weight, self.reduction, who)

    def _arguments(self, args, y_true, y_pred):
        if len(args) + (y_true is not None) + (y_pred is not None) != 2:
            raise TypeError(f"{type(self).__name__}: expected two arguments (y_pred, y_true)")
        if len(args) == 2:
            first, second = args
            if _has_graph(second) and not _has_graph(first):
                return second, first  # Keras order: (y_true, y_pred)
            if not _has_graph(first) and _looks_like_labels(first, second):
                return second, first  # no graph to tell: integer labels, or fewer dims
            return first, second
        if len(args) == 1:
            return (args[0], y_true) if y_pred is None else (y_pred, args[0])
        return y_pred, y_true

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction, "from_logits": self.from_logits}

    def __repr__(self):
        return f"{type(self).__name__}(from_logits={self.from_logits}, reduction={self.reduction!r})"


def _has_graph(x):
    return isinstance(x, Tensor) and x.requires_grad


def _looks_like_labels(first, second):
    """Whether ``first`` is the targets of a loss called on plain values (nothing requires
    grad): sparse labels (N,) against (N, C) predictions with C > 1, which only Keras's
    (y_true, y_pred) order gives. (Integer values alone do not tell: integer predictions
    must still be refused.)"""
    a = first if isinstance(first, Tensor) else np.asarray(first)
    b = second if isinstance(second, Tensor) else np.asarray(second)
    return (a.ndim + 1 == b.ndim and b.ndim >= 2 and b.shape[-1] > 1
            and tuple(a.shape) == tuple(b.shape[:-1]))


def weighted_reduce(values, sample_weight, reduction="sum_over_batch_size", who="loss"):
    """Keras's reduce_weighted_values: per-sample losses ``values`` times ``sample_weight``
    (a tensor or an array: one weight per sample, (N,) or (N, 1), or one per loss value,
    e.g. (N, T) for sequence outputs), then reduced: "sum_over_batch_size"/"mean" divide the
    sum by the number of loss values (not by the sum of the weights), "sum" adds, "none"
    keeps them. Built from fastnn ops, so it differentiates and a captured step replays it
    (the weights are then one of the step's inputs)."""
    if isinstance(sample_weight, Tensor):
        w = sample_weight if sample_weight.dtype == values.dtype else _C.to_dtype(
            sample_weight, values.dtype)
    else:
        array = np.asarray(sample_weight)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{who}: expected sample_weight to hold numbers, got dtype "
                            f"{array.dtype}")
        w = (snapshot(array, values.dtype) if _C.is_grad_enabled()
             else _C.from_numpy(np.ascontiguousarray(array), values.dtype))
    vs, ws = tuple(values.shape), tuple(w.shape)
    if len(ws) == len(vs) + 1 and ws[-1] == 1:  # (N, 1) weights for (N,) losses
        w = w.reshape(ws[:-1])
    if w.ndim < values.ndim:  # (N,) weights for (N, T) losses
        w = w.reshape(tuple(w.shape) + (1,) * (values.ndim - w.ndim))
    if (w.ndim > values.ndim and values.ndim) or any(
            a != b and a != 1 and b != 1 for a, b in zip(values.shape, w.shape)):
        raise ValueError(f"{who}: sample_weight of shape {ws} does not match the per-sample "
                         f"losses of shape {vs} (expected one weight per sample or per loss "
                         "value)")
    weighted = values * w
    if reduction == "none":
        return weighted
    if reduction == "sum":
        return weighted.sum()
    return weighted.mean()


class MeanSquaredError(Loss):
    kind = "mean_squared_error"

    def __init__(self, reduction="sum_over_batch_size", name=None):
        super().__init__(False, reduction, name)


class MeanAbsoluteError(Loss):
    kind = "mean_absolute_error"

    def __init__(self, reduction="sum_over_batch_size", name=None):
        super().__init__(False, reduction, name)


class BinaryCrossentropy(Loss):
    kind = "binary_crossentropy"


class CategoricalCrossentropy(Loss):
    kind = "categorical_crossentropy"


class SparseCategoricalCrossentropy(Loss):
    kind = "sparse_categorical_crossentropy"


# PyTorch's names for the same losses (reduction "mean" by default, as torch.nn).
class MSELoss(MeanSquaredError):
    def __init__(self, reduction="mean"):
        super().__init__(reduction)


class L1Loss(MeanAbsoluteError):
    def __init__(self, reduction="mean"):
        super().__init__(reduction)


class BCELoss(BinaryCrossentropy):
    def __init__(self, reduction="mean"):
        super().__init__(False, reduction)


class BCEWithLogitsLoss(BinaryCrossentropy):
    def __init__(self, reduction="mean"):
        super().__init__(True, reduction)


class CrossEntropyLoss(SparseCategoricalCrossentropy):
    """torch.nn.CrossEntropyLoss: logits and integer class labels."""

    def __init__(self, reduction="mean"):
        super().__init__(True, reduction)


_BY_NAME = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}


def get(identifier, who="loss"):
    """A loss from a Keras name, a Loss instance or class, or a callable(y_true, y_pred)."""
    return resolve(identifier, kind="loss", base=Loss, names=_BY_NAME, who=who)


def mean_squared_error(y_true, y_pred):
    """Keras's functional form: per-sample losses, no reduction."""
    return MeanSquaredError(reduction="none")(y_pred=as_tensor(y_pred), y_true=y_true)


def binary_crossentropy(y_true, y_pred, from_logits=False):
    return BinaryCrossentropy(from_logits, "none")(y_pred=as_tensor(y_pred), y_true=y_true)


def categorical_crossentropy(y_true, y_pred, from_logits=False):
    return CategoricalCrossentropy(from_logits, "none")(y_pred=as_tensor(y_pred), y_true=y_true)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    return SparseCategoricalCrossentropy(from_logits, "none")(y_pred=as_tensor(y_pred), y_true=y_true)


mse = mean_squared_error
