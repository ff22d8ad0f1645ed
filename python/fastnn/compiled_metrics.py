"""The metrics of a compiled model during fit/evaluate: each compiled metric resolved
(``_Metric``: a numpy function, a streaming metric object, or "accuracy" following the loss)
and the accumulator that turns a pass's batches into exact dataset means — the loss and the
accuracies on the device (no host read per step), the others on the host, weighted by the
sample weights for ``compile(weighted_metrics=...)`` as Keras does. The metrics themselves
are in metrics.py."""

from __future__ import annotations

import functools

import numpy as np

from . import _C
from . import losses as _losses
from .capture import Rows
from .layers.base import _snake_case as _snake
from .metrics import (_ACCURACY, _METRICS, _STATEFUL, _PrecisionRecall, _samplewise,
                      binary_accuracy, categorical_accuracy, sparse_categorical_accuracy)
from .tensor import to_host


class _Metric:
    """One compiled metric: a numpy function of (y_true, y_pred) giving per-sample values,
    a Keras-style stateful object (update_state/result/reset_state; "auc", "precision" and
    "recall" by name make one), or "accuracy" to be resolved from the loss (or, for other
    losses, from the shapes as Keras does). ``weighted``: from compile's
    weighted_metrics, so batches' sample weights weight it (Keras: ``metrics`` are not)."""

    def __init__(self, identifier, loss, weighted=False):
        # keras.metrics' function forms return tensors; compile computes their numpy form.
        identifier = getattr(identifier, "_fastnn_metric", identifier)
        self.stateful = None
        self.fn = None
        self.weighted = bool(weighted)
        if isinstance(identifier, str):
            key = identifier.lower()
            self.name = identifier
            if key in _ACCURACY:
                self.fn = _accuracy_for_loss(loss)  # None: resolved from the first shapes
            elif key in _METRICS:
                self.fn = _METRICS[key]
            elif key in _STATEFUL:
                self.stateful = _STATEFUL[key]()
                self.name = self.stateful.name
            else:
                raise ValueError(f"compile: unknown metric {identifier!r} in metrics; expected "
                                 f"one of {', '.join(_ACCURACY + tuple(sorted(_METRICS)))}, "
                                 f"{', '.join(sorted(_STATEFUL))}, a callable(y_true, y_pred) "
                                 "or a metric object")
        elif all(hasattr(identifier, a) for a in ("update_state", "result", "reset_state")):
            if isinstance(identifier, type):
                raise TypeError(f"compile: pass a metric object ({identifier.__name__}()), "
                                "not the class")
            if isinstance(identifier, _PrecisionRecall) and len(identifier.thresholds) > 1:
                raise ValueError(f"compile: {type(identifier).__name__} "
                                 f"'{identifier.name}' has {len(identifier.thresholds)} "
                                 "thresholds and so several values; a compiled metric logs one "
                                 "(compile one metric per threshold, each with its own name)")
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

    With sample weights the step's loss is already weighted (Keras: sum(w * loss) / batch
    size), so it still accumulates by batch size; metrics compiled as weighted_metrics
    become weighted means (sum(w * value) / sum(w)), the others stay plain means.

    The loss and the accuracies C++ computes accumulate into tensors on the device
    (``totals``: {sum of loss x rows, first non-finite step or -1, steps}), so neither a
    step nor a replayed run of steps reads a value back; ``result`` reads them — where
    someone looks: callbacks, the progress line, the epoch's end — and raises there for a
    non-finite loss (naming its step) or a label a kernel found out of range. Metrics only
    numpy computes read each batch's predictions as they come.
    """

    def __init__(self, metrics, who="fit", device="cpu"):
        self.metrics = metrics
        self.who = who
        self.device = device  # the model's: where the totals accumulate
        self.totals = self._on_device(np.array([0.0, -1.0, 0.0]))
        self.native_totals = [None] * len(metrics)
        self.samples = 0
        self.rows_per_sample = 1  # what the C++ accuracy kernels count: rows of the last axis
        self.sums = [0.0] * len(metrics)
        self.counts = [0] * len(metrics)
        for m in metrics:
            if m.stateful is not None:
                m.stateful.reset_state()

    def native_specs(self, y_true_shape, y_pred_shape, weighted=False):
        """(name, threshold, total) of each metric for the C++ kernels, or None when one of
        them is computed in numpy (a replayed run of steps then cannot include it; so is a
        weighted metric when the batches carry sample weights: ``weighted``)."""
        if len(y_pred_shape) < 2:
            return None  # the kernels take (N, C) predictions
        self.rows_per_sample = int(np.prod(y_pred_shape[1:-1]))  # T for (N, T, C)
        specs = []
        for i, m in enumerate(self.metrics):
            if weighted and m.weighted:
                return None
            m.resolve(y_true_shape, y_pred_shape)
            native = m.native()
            if native is None:
                return None
            specs.append(native + (self._native_total(i),))
        return specs

    def _on_device(self, values):
        t = _C.Tensor(values, "float64")
        return t if self.device == "cpu" else t.to_device(self.device)

    def _native_total(self, i):
        if self.native_totals[i] is None:
            self.native_totals[i] = self._on_device(np.zeros(1))
        return self.native_totals[i]

    def add_replayed(self, samples):
        """Counts ``samples`` samples whose loss and metrics a replayed run accumulated into
        ``totals`` and the native totals (native_specs: every metric has one)."""
        self.samples += int(samples)
        for i in range(len(self.metrics)):
            self.counts[i] += int(samples) * self.rows_per_sample

    def update(self, loss, y_pred, y_true, sample_weight=None):
        n = int(y_pred.shape[0]) if getattr(y_pred, "ndim", 0) else 1
        _C.accumulate_loss(loss, float(n), self.totals)
        self.samples += n
        if not self.metrics:
            return
        pred = true = weights = None
        for i, m in enumerate(self.metrics):
            m.resolve(tuple(y_true.shape), tuple(y_pred.shape))
            weighted = m.weighted and sample_weight is not None
            native = None if weighted else m.native()
            if native is not None and isinstance(y_pred, _C.Tensor) and y_pred.ndim >= 2:
                target = y_true.tensor() if isinstance(y_true, Rows) else y_true
                if not isinstance(target, _C.Tensor):
                    target = _C.from_numpy(np.asarray(target))
                if target.device != y_pred.device:  # host labels of a device model's batch
                    target = target.to_device(y_pred.device)
                _C.accumulate_accuracy(*native, y_pred, target, self._native_total(i))
                self.counts[i] += int(np.prod(y_pred.shape[:-1]))  # one value per row
                continue
            if pred is None:  # a metric numpy computes reads the batch on the host
                pred, true = to_host(y_pred), to_host(y_true)
            if weighted and weights is None:
                weights = to_host(sample_weight)
            if m.stateful is not None:
                if weighted:
                    m.stateful.update_state(true, pred, sample_weight=weights)
                else:
                    m.stateful.update_state(true, pred)
                continue
            values = np.asarray(m.fn(true, pred), dtype=np.float64)
            if weighted:
                total, count = _samplewise(values, weights)
                self.sums[i] += total
                self.counts[i] += count
            elif values.ndim == 0:
                self.sums[i] += float(values) * n
                self.counts[i] += n
            else:
                self.sums[i] += float(values.sum())
                self.counts[i] += values.size

    def result(self, prefix="", check=True):
        """The means so far. ``check=False`` (a progress bar's running values) neither
        raises nor consumes a kernel's error report: a non-finite loss shows as nan/inf."""
        if check:
            _C.check_kernel_errors(self.who, self.device)
        loss_sum, bad_step, _ = self.totals.numpy().tolist()
        if bad_step >= 0 and check:
            raise ValueError(f"{self.who}: the loss is NaN or infinite at step {int(bad_step) + 1} "
                             "of this pass (the predictions or the targets contain NaN or inf, "
                             "or training diverged)")
        logs = {prefix + "loss": loss_sum / max(self.samples, 1)}
        for i, m in enumerate(self.metrics):
            if m.stateful is not None:
                value = np.asarray(m.stateful.result(), dtype=np.float64)
                logs[prefix + m.name] = float(value) if value.size == 1 else value
                continue
            total = self.sums[i]
            if self.native_totals[i] is not None:
                total += float(self.native_totals[i].numpy()[0])
            count = self.counts[i]
            logs[prefix + m.name] = total / count if count else 0.0
        return logs
