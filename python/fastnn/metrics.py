"""Metrics for compile/fit/evaluate: numpy functions of (y_true, y_pred) giving per-sample
values, resolved from Keras names ("accuracy" follows the loss), and the accumulator that
turns them into exact dataset means."""

from __future__ import annotations

import functools

import numpy as np

from . import _C
from . import losses as _losses
from .layers.base import _snake_case as _snake


def _match(y_true, y_pred):
    """y_true in y_pred's shape where only a trailing 1 differs ((N,) vs (N, 1))."""
    if y_true.shape != y_pred.shape and y_true.size == y_pred.size:
        return y_true.reshape(y_pred.shape)
    return y_true


def _per_sample_mean(values):
    return values if values.ndim <= 1 else values.mean(axis=-1)


def _sparse_labels(y_true, y_pred):
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return y_true


def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_true = _match(np.asarray(y_true), np.asarray(y_pred))
    hits = ((np.asarray(y_pred) > threshold).astype(np.float64) == y_true).astype(np.float64)
    return _per_sample_mean(hits)


def categorical_accuracy(y_true, y_pred):
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred):
    y_pred = np.asarray(y_pred)
    labels = _sparse_labels(np.asarray(y_true), y_pred)
    return (labels == np.argmax(y_pred, axis=-1)).astype(np.float64)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    y_pred = np.asarray(y_pred)
    labels = _sparse_labels(np.asarray(y_true), y_pred).astype(np.int64)
    if k >= y_pred.shape[-1]:
        return np.ones(labels.shape)
    score = np.take_along_axis(y_pred, labels[..., None], axis=-1)
    # Ties at the boundary count as in the top k (tf.math.in_top_k).
    return (np.sum(y_pred > score, axis=-1) < k).astype(np.float64)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    return sparse_top_k_categorical_accuracy(np.argmax(y_true, axis=-1), y_pred, k)


def mean_squared_error(y_true, y_pred):
    y_true = _match(np.asarray(y_true), np.asarray(y_pred))
    return _per_sample_mean(np.square(np.asarray(y_pred, np.float64) - y_true))


def mean_absolute_error(y_true, y_pred):
    y_true = _match(np.asarray(y_true), np.asarray(y_pred))
    return _per_sample_mean(np.abs(np.asarray(y_pred, np.float64) - y_true))


def _crossentropy(loss_class):
    def metric(y_true, y_pred):
        loss = loss_class(reduction="none")
        return np.asarray(loss(y_pred=_C.from_numpy(np.ascontiguousarray(y_pred), None),
                               y_true=np.ascontiguousarray(y_true)))
    metric.__name__ = loss_class.kind
    return metric


_METRICS = {
    "binary_accuracy": binary_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "top_k_categorical_accuracy": top_k_categorical_accuracy,
    "sparse_top_k_categorical_accuracy": sparse_top_k_categorical_accuracy,
    "mse": mean_squared_error, "mean_squared_error": mean_squared_error,
    "mae": mean_absolute_error, "mean_absolute_error": mean_absolute_error,
    "binary_crossentropy": _crossentropy(_losses.BinaryCrossentropy),
    "categorical_crossentropy": _crossentropy(_losses.CategoricalCrossentropy),
    "sparse_categorical_crossentropy": _crossentropy(_losses.SparseCategoricalCrossentropy),
}
_ACCURACY = ("accuracy", "acc")


class _Metric:
    """One compiled metric: a numpy function of (y_true, y_pred) giving per-sample values,
    a Keras-style stateful object (update_state/result/reset_state), or "accuracy" to be
    resolved from the loss (or, for other losses, from the shapes as Keras does)."""

    def __init__(self, identifier, loss):
        self.stateful = None
        self.fn = None
        if isinstance(identifier, str):
            key = identifier.lower()
            self.name = identifier
            if key in _ACCURACY:
                self.fn = _accuracy_for_loss(loss)  # None: resolved from the first shapes
            elif key in _METRICS:
                self.fn = _METRICS[key]
            else:
                raise ValueError(f"compile: unknown metric {identifier!r} in metrics; expected "
                                 f"one of {', '.join(_ACCURACY + tuple(sorted(_METRICS)))}, a "
                                 "callable(y_true, y_pred) or a metric object")
        elif all(hasattr(identifier, a) for a in ("update_state", "result", "reset_state")):
            self.stateful = identifier
            self.name = getattr(identifier, "name", None) or _snake(type(identifier).__name__)
        elif callable(identifier):
            self.fn = identifier
            self.name = (getattr(identifier, "name", None)
                         or getattr(identifier, "__name__", "metric"))
        else:
            raise TypeError(f"compile: metrics must hold names, callables or metric objects, got "
                            f"{type(identifier).__name__}")

    def native(self):
        """(name, threshold) of the C++ accuracy kernel computing this metric, or None (fit's
        replayed epochs can then compute it without returning to Python)."""
        fn, threshold = self.fn, 0.5
        if isinstance(fn, functools.partial) and set(fn.keywords) <= {"threshold"} and not fn.args:
            fn, threshold = fn.func, fn.keywords.get("threshold", 0.5)
        names = {sparse_categorical_accuracy: "sparse_categorical_accuracy",
                 categorical_accuracy: "categorical_accuracy", binary_accuracy: "binary_accuracy"}
        if self.stateful is not None or fn not in names:
            return None
        return names[fn], float(threshold)

    def resolve(self, y_true_shape, y_pred_shape):
        """Keras's shape rule for "accuracy" when the loss does not decide it."""
        if self.fn is not None or self.stateful is not None:
            return
        binary = len(y_pred_shape) <= 1 or y_pred_shape[-1] == 1
        sparse = len(y_true_shape) < len(y_pred_shape) or (
            y_true_shape[-1:] == (1,) and y_pred_shape[-1] > 1)
        self.fn = (binary_accuracy if binary else
                   sparse_categorical_accuracy if sparse else categorical_accuracy)


def _accuracy_for_loss(loss):
    if isinstance(loss, _losses.BinaryCrossentropy):
        if loss.from_logits:  # sigmoid(z) > 0.5 <=> z > 0
            return functools.partial(binary_accuracy, threshold=0.0)
        return binary_accuracy
    if isinstance(loss, _losses.SparseCategoricalCrossentropy):
        return sparse_categorical_accuracy
    if isinstance(loss, _losses.CategoricalCrossentropy):
        return categorical_accuracy
    return None


class _Accumulator:
    """Dataset means of the loss and the metrics over one pass (weighted by batch size).

    The loss and the accuracies C++ computes accumulate into tensors on the device
    (``totals``: {sum of loss x rows, first non-finite step or -1, steps}), so neither a
    step nor a replayed run of steps reads a value back; ``result`` reads them — where
    someone looks: callbacks, the progress line, the epoch's end — and raises there for a
    non-finite loss (naming its step) or a label a kernel found out of range. Metrics only
    numpy computes read each batch's predictions as they come.
    """

    def __init__(self, metrics, who="fit"):
        self.metrics = metrics
        self.who = who
        self.totals = _C.Tensor(np.array([0.0, -1.0, 0.0]), "float64")
        self.native_totals = [None] * len(metrics)
        self.samples = 0
        self.sums = [0.0] * len(metrics)
        self.counts = [0] * len(metrics)
        for m in metrics:
            if m.stateful is not None:
                m.stateful.reset_state()

    def native_specs(self, y_true_shape, y_pred_shape):
        """(name, threshold, total) of each metric for the C++ kernels, or None when one of
        them is computed in numpy (a replayed run of steps then cannot include it)."""
        if len(y_pred_shape) < 2:
            return None  # the kernels take (N, C) predictions
        specs = []
        for i, m in enumerate(self.metrics):
            m.resolve(y_true_shape, y_pred_shape)
            native = m.native()
            if native is None:
                return None
            specs.append(native + (self._native_total(i),))
        return specs

    def _native_total(self, i):
        if self.native_totals[i] is None:
            self.native_totals[i] = _C.Tensor(np.zeros(1), "float64")
        return self.native_totals[i]

    def add_replayed(self, samples):
        """Counts ``samples`` samples whose loss and metrics a replayed run accumulated into
        ``totals`` and the native totals (native_specs: every metric has one)."""
        self.samples += int(samples)
        for i in range(len(self.metrics)):
            self.counts[i] += int(samples)

    def update(self, loss, y_pred, y_true):
        n = int(y_pred.shape[0]) if getattr(y_pred, "ndim", 0) else 1
        _C.accumulate_loss(loss, float(n), self.totals)
        self.samples += n
        if not self.metrics:
            return
        pred = true = None
        for i, m in enumerate(self.metrics):
            m.resolve(tuple(y_true.shape), tuple(y_pred.shape))
            native = m.native()
            if native is not None and isinstance(y_pred, _C.Tensor) and y_pred.ndim >= 2:
                target = y_true if isinstance(y_true, _C.Tensor) else _C.from_numpy(
                    np.asarray(y_true))
                _C.accumulate_accuracy(*native, y_pred, target, self._native_total(i))
                self.counts[i] += n
                continue
            if pred is None:
                pred, true = np.asarray(y_pred), np.asarray(y_true)
            if m.stateful is not None:
                m.stateful.update_state(true, pred)
                continue
            values = np.asarray(m.fn(true, pred), dtype=np.float64)
            if values.ndim == 0:
                self.sums[i] += float(values) * n
                self.counts[i] += n
            else:
                self.sums[i] += float(values.sum())
                self.counts[i] += values.size

    def result(self, prefix="", check=True):
        """The means so far. ``check=False`` (a progress bar's running values) neither
        raises nor consumes a kernel's error report: a non-finite loss shows as nan/inf."""
        if check:
            _C.check_kernel_errors(self.who)
        loss_sum, bad_step, _ = np.asarray(self.totals).tolist()
        if bad_step >= 0 and check:
            raise ValueError(f"{self.who}: the loss is NaN or infinite at step {int(bad_step) + 1} "
                             "of this pass (the predictions or the targets contain NaN or inf, "
                             "or training diverged)")
        logs = {prefix + "loss": loss_sum / max(self.samples, 1)}
        for i, m in enumerate(self.metrics):
            if m.stateful is not None:
                logs[prefix + m.name] = float(np.asarray(m.stateful.result()))
                continue
            total = self.sums[i]
            if self.native_totals[i] is not None:
                total += float(np.asarray(self.native_totals[i])[0])
            logs[prefix + m.name] = total / max(self.counts[i], 1)
        return logs


__all__ = ["binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
           "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
           "mean_squared_error", "mean_absolute_error"]
