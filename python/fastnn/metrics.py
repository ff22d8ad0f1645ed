"""Metrics for compile/fit/evaluate: numpy functions of (y_true, y_pred) giving per-sample
values, by Keras names, and Keras's streaming metric objects (``AUC``, ``Precision``,
``Recall``, the top-k accuracies, ``Mean``: update_state / result / reset_state,
accumulated over batches on the host in float64). How a compiled model resolves and
accumulates them over a pass is in compiled_metrics.py."""

from __future__ import annotations

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


# --- streaming metrics (Keras's metric objects) -----------------------------------------------

_NEG_INF = -1e10  # Keras's metrics_utils.NEG_INF: what top_k filtering gives the rest
_EPSILON = 1e-7   # Keras's backend.epsilon(): AUC's end thresholds are -eps and 1 + eps


def _host(value, dtype=None):
    """A metric argument (tensor, array, list, number) as a numpy array."""
    array = np.asarray(value)
    return array if dtype is None else array.astype(dtype, copy=False)


def _same_rank(x1, x2, expand_rank_1=True):
    """Keras's squeeze_or_expand_to_same_rank: where the ranks differ by one and the longer
    ends in a size-1 axis, that axis is dropped (or the rank-1 other one gets one)."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _broadcast(who, what, value, shape):
    try:
        return np.broadcast_to(value, shape)
    except ValueError:
        raise ValueError(f"{who}: {what} of shape {value.shape} does not broadcast to the "
                         f"predictions' shape {shape}") from None


def _samplewise(values, sample_weight):
    """(sum, count) that Keras's Mean adds for ``values`` weighted by ``sample_weight``:
    values averaged down to the weights' rank, times the weights; the count is the sum of
    the weights (averaged over their non-batch axes)."""
    values = np.asarray(values, np.float64)
    if sample_weight is None:
        if values.ndim > 1:
            values = values.mean(axis=tuple(range(1, values.ndim)))
        return float(values.sum()), (values.shape[0] if values.ndim else 1)
    weights = np.asarray(sample_weight, np.float64)
    values, weights = _same_rank(values, weights)
    if values.ndim > weights.ndim:
        values = values.mean(axis=tuple(range(weights.ndim, values.ndim)))
    elif 0 < values.ndim < weights.ndim:  # per-sample values, per-step weights
        weights = weights.mean(axis=tuple(range(values.ndim, weights.ndim)))
    values, weights = np.broadcast_arrays(values, weights)
    values = values * weights
    if values.ndim > 1:
        values = values.mean(axis=tuple(range(1, values.ndim)))
        weights = weights.mean(axis=tuple(range(1, weights.ndim)))
    return float(values.sum()), float(weights.sum())


def _divide_no_nan(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    out = np.zeros(np.broadcast(a, b).shape)
    np.divide(a, b, out=out, where=b != 0)
    return out


def _evenly_distributed(thresholds):
    """Keras's is_evenly_distributed_thresholds: 0, 1/(n-1), ..., 1 (n >= 3), to 1e-7."""
    n = len(thresholds)
    return n >= 3 and np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1),
                                  atol=_EPSILON)


def _filter_top_k(x, k):
    """Keras's _filter_top_k: the k largest of the last axis kept (the lower index first
    among equal values, as top_k picks them), every other entry set to -1e10."""
    keep = np.zeros(x.shape, bool)
    top = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    np.put_along_axis(keep, top, True, axis=-1)
    return np.where(keep, x, np.asarray(_NEG_INF, x.dtype))


def _confusion(who, y_true, y_pred, thresholds, evenly, *, top_k=None, class_id=None,
               sample_weight=None, multi_label=False, label_weights=None, dtype="float32"):
    """Keras's update_confusion_matrix_variables in numpy: the (tp, fp, tn, fn) this batch
    adds, each of shape (thresholds,), or (thresholds, labels) with multi_label.

    A prediction counts as positive at a threshold when it is strictly greater; labels are
    positive where nonzero. Evenly spread thresholds (AUC's) take Keras's bucket route
    (one pass: bucket ceil(p * (n - 1)) - 1 of the clipped prediction, then reversed
    cumulative sums), others compare each prediction with the sorted thresholds. The
    comparisons run in ``dtype`` (float32, Keras's default), the sums in float64.
    """
    dt = np.dtype(dtype)
    y_pred = _host(y_pred).astype(dt)
    y_true = _host(y_true).astype(dt)
    y_pred, y_true = _same_rank(y_pred, y_true)
    if y_pred.shape != y_true.shape:
        raise ValueError(f"{who}: expected y_true of the predictions' shape {y_pred.shape} "
                         f"(0/1 labels per prediction), got shape {y_true.shape}; one-hot "
                         "encode integer labels (fn.utils.to_categorical)")
    weights = None
    if sample_weight is not None:
        weights = _host(sample_weight).astype(np.float64)[..., None]
        _, weights = _same_rank(y_true, weights, expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim < 2:
            raise ValueError(f"{who}: class_id needs predictions of shape (samples, classes), "
                             f"got shape {y_pred.shape}")
        if not 0 <= class_id < y_pred.shape[-1]:
            raise ValueError(f"{who}: class_id={class_id} is not a class of predictions with "
                             f"{y_pred.shape[-1]} classes")
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
    if weights is not None:
        weights = _broadcast(who, "sample_weight", weights, y_pred.shape)
    if label_weights is not None and not multi_label:
        lw = _broadcast(who, "label_weights", label_weights, y_pred.shape)
        weights = lw if weights is None else weights * lw
    if multi_label:
        if y_pred.ndim != 2:
            raise ValueError(f"{who}: multi_label=True needs predictions of rank 2 (samples, "
                             f"labels), got shape {y_pred.shape}")
        labels = y_pred.shape[1]
    else:
        labels = 1
        y_pred, y_true = y_pred.reshape(-1, 1), y_true.reshape(-1, 1)
        weights = None if weights is None else weights.reshape(-1, 1)
    positive = (y_true != 0).astype(np.float64)
    w = np.ones(y_pred.shape) if weights is None else np.asarray(weights, np.float64)
    true_w, false_w = positive * w, (1.0 - positive) * w
    n = len(thresholds)
    column = np.arange(labels)
    nan = np.isnan(y_pred)
    if evenly:
        with_epsilon = thresholds[0] < 0.0 or thresholds[-1] > 1.0
        bucket = np.ceil(np.clip(y_pred, 0, 1) * dt.type(n - 1)) - 1
        if with_epsilon:
            bucket = np.maximum(bucket, 0)
        bucket = np.where(nan, -1, bucket).astype(np.int64)
        keep = bucket >= 0  # below every threshold (only without the -eps end threshold)
        flat = (bucket * labels + column)[keep]
        tp = np.bincount(flat, true_w[keep], n * labels).reshape(n, labels)
        fp = np.bincount(flat, false_w[keep], n * labels).reshape(n, labels)
        tp = np.cumsum(tp[::-1], axis=0)[::-1]
        fp = np.cumsum(fp[::-1], axis=0)[::-1]
    else:
        order = np.argsort(thresholds, kind="stable")
        ordered = np.asarray(thresholds, dt)[order]
        above = np.where(nan, 0, np.searchsorted(ordered, y_pred, side="left"))  # # thr < p
        flat = (above * labels + column).reshape(-1)
        counts = []
        for part in (true_w, false_w):
            c = np.bincount(flat, part.reshape(-1), (n + 1) * labels).reshape(n + 1, labels)
            c = np.cumsum(c[::-1], axis=0)[::-1][1:]  # sorted threshold i: above > i
            out = np.empty_like(c)
            out[order] = c
            counts.append(out)
        tp, fp = counts
    tn = false_w.sum(axis=0) - fp
    fn = true_w.sum(axis=0) - tp
    if not multi_label:
        tp, fp, tn, fn = tp[:, 0], fp[:, 0], tn[:, 0], fn[:, 0]
    return tp, fp, tn, fn


def _check_dtype(who, dtype):
    if dtype is None:
        return "float32"
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in ("float32", "float64"):
        raise ValueError(f"{who}: expected dtype float32 or float64, got {dtype!r}")
    return name


def _thresholds_list(who, thresholds, default):
    if thresholds is None:
        return [default]
    values = list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray)) else [
        thresholds]
    if not values:
        raise ValueError(f"{who}: thresholds must not be empty")
    for t in values:
        if isinstance(t, bool) or not isinstance(t, (int, float, np.number)) or not 0 <= t <= 1:
            raise ValueError(f"{who}: threshold values must be numbers in [0, 1], got {t!r}")
    return [float(t) for t in values]


def _check_optional_int(who, arg, value, minimum):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{who}: expected {arg} to be an integer >= {minimum} or None, got "
                         f"{value!r}")
    return int(value)


class Metric:
    """Keras's stateful metric: ``update_state(y_true, y_pred, sample_weight=None)`` adds a
    batch, ``result()`` is the value over every batch since ``reset_state()``; calling the
    metric updates it and returns the result. compile/fit/evaluate reset a metric at the
    start of each pass (every epoch, every validation) and update it once per batch."""

    _default_name = None

    def __init__(self, name=None, dtype=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{type(self).__name__}: expected name to be a string, got "
                            f"{type(name).__name__}")
        self.name = name or self._default_name or _snake(type(self).__name__)
        self.dtype = _check_dtype(type(self).__name__, dtype)

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement update_state")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement result")

    def reset_state(self):
        raise NotImplementedError(f"{type(self).__name__} must implement reset_state")

    def reset_states(self):  # tf.keras's older name
        self.reset_state()

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


class Mean(Metric):
    """The (weighted) mean of the values given to ``update_state(values, sample_weight)``."""

    _default_name = "mean"

    def __init__(self, name=None, dtype=None):
        super().__init__(name, dtype)
        self.reset_state()

    def update_state(self, values, sample_weight=None):
        total, count = _samplewise(_host(values), None if sample_weight is None else
                                   _host(sample_weight))
        self.total += total
        self.count += count

    def result(self):
        return float(_divide_no_nan(self.total, self.count))

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0


class MeanMetricWrapper(Mean):
    """The (weighted) mean over samples of ``fn(y_true, y_pred, **kwargs)``."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name or getattr(fn, "__name__", None), dtype)
        self._fn, self._fn_kwargs = fn, kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self._fn(_host(y_true), _host(y_pred), **self._fn_kwargs)
        super().update_state(values, sample_weight)

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target's class is among the k highest predictions (ties with
    the k-th value count as in, as Keras's in_top_k)."""

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        k = _check_optional_int(type(self).__name__, "k", k, 1)
        super().__init__(top_k_categorical_accuracy, name, dtype, k=k)
        self.k = k


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the k highest predictions; with
    ``from_sorted_ids=True`` y_pred holds the ids of the top predictions, best first."""

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None,
                 from_sorted_ids=False):
        k = _check_optional_int(type(self).__name__, "k", k, 1)
        fn = _sorted_ids_in_top_k if from_sorted_ids else sparse_top_k_categorical_accuracy
        super().__init__(fn, name, dtype, k=k)
        self.k, self.from_sorted_ids = k, bool(from_sorted_ids)


def _sorted_ids_in_top_k(y_true, y_pred, k=5):
    labels = _sparse_labels(np.asarray(y_true), np.asarray(y_pred)).astype(np.int64)
    return np.any(np.asarray(y_pred)[..., :k] == labels[..., None], axis=-1).astype(np.float64)


class BinaryAccuracy(MeanMetricWrapper):
    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name, dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name, dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name, dtype)


class _PrecisionRecall(Metric):
    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name, dtype)
        who = type(self).__name__
        self.init_thresholds = thresholds
        self.top_k = _check_optional_int(who, "top_k", top_k, 1)
        self.class_id = _check_optional_int(who, "class_id", class_id, 0)
        self.thresholds = _thresholds_list(who, thresholds,
                                           0.5 if self.top_k is None else _NEG_INF)
        self._evenly = _evenly_distributed(self.thresholds)
        self.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None):
        tp, fp, _, fn = _confusion(type(self).__name__, y_true, y_pred, self.thresholds,
                                   self._evenly, top_k=self.top_k, class_id=self.class_id,
                                   sample_weight=sample_weight, dtype=self.dtype)
        self.true_positives += tp
        self.false_positives += fp
        self.false_negatives += fn

    def reset_state(self):
        n = len(self.thresholds)
        self.true_positives = np.zeros(n)
        self.false_positives = np.zeros(n)
        self.false_negatives = np.zeros(n)

    def _value(self, result):
        return float(result[0]) if len(self.thresholds) == 1 else result

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """Keras's Precision: tp / (tp + fp) over every batch since the last reset (0 when
    nothing was predicted positive). A prediction is positive above ``thresholds`` (0.5;
    a list gives one precision per threshold); ``top_k`` keeps only the k highest
    predictions of each row; ``class_id`` looks at that class's column only. Predictions
    are probabilities: for logits pass ``thresholds=0``."""

    _default_name = "precision"

    def result(self):
        return self._value(_divide_no_nan(self.true_positives,
                                          self.true_positives + self.false_positives))


class Recall(_PrecisionRecall):
    """Keras's Recall: tp / (tp + fn) over every batch since the last reset; arguments as
    :class:`Precision`."""

    _default_name = "recall"

    def result(self):
        return self._value(_divide_no_nan(self.true_positives,
                                          self.true_positives + self.false_negatives))


class AUC(Metric):
    """Keras's AUC: the area under the ROC (``curve="ROC"``) or precision-recall ("PR")
    curve, approximated from confusion counts at ``num_thresholds`` thresholds evenly
    spread over [0, 1] (plus -1e-7 and 1 + 1e-7 at the ends), accumulated over batches.
    ``summation_method``: "interpolation" (trapezoids for ROC; for PR the interpolation
    of Davis & Goadrich that Keras uses), "minoring" or "majoring". ``thresholds``: your
    own list instead. ``multi_label``: one AUC per column of (samples, labels)
    predictions, averaged (weighted by ``label_weights``); otherwise every prediction is
    one point. ``from_logits``: apply a sigmoid first."""

    _default_name = "auc"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        super().__init__(name, dtype)
        who = "AUC"
        curves = {"roc": "ROC", "pr": "PR"}
        if not isinstance(curve, str) or curve.lower() not in curves:
            raise ValueError(f"{who}: expected curve 'ROC' or 'PR', got {curve!r}")
        methods = ("interpolation", "majoring", "minoring")
        if not isinstance(summation_method, str) or summation_method.lower() not in methods:
            raise ValueError(f"{who}: expected summation_method to be one of "
                             f"{', '.join(methods)}, got {summation_method!r}")
        self.curve = curves[curve.lower()]
        self.summation_method = summation_method.lower()
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(_thresholds_list(who, thresholds, None))
            self.num_thresholds = len(inner) + 2
            self._evenly = _evenly_distributed(np.array([0.0] + inner + [1.0]))
        else:
            if (isinstance(num_thresholds, bool) or num_thresholds <= 1
                    or not isinstance(num_thresholds, (int, np.integer))):
                raise ValueError(f"{who}: num_thresholds must be an integer > 1, got "
                                 f"{num_thresholds!r}")
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) * 1.0 / (self.num_thresholds - 1)
                     for i in range(self.num_thresholds - 2)]
            self._evenly = True
        self._thresholds = np.array([0.0 - _EPSILON] + inner + [1.0 + _EPSILON])
        self.multi_label = bool(multi_label)
        self.num_labels = _check_optional_int(who, "num_labels", num_labels, 1)
        if self.num_labels is not None and not self.multi_label:
            raise ValueError(f"{who}: num_labels is needed only when multi_label is True")
        if label_weights is not None:
            label_weights = np.asarray(label_weights, np.float64)
            if label_weights.ndim != 1 or (label_weights < 0).any() or not np.isfinite(
                    label_weights).all():
                raise ValueError(f"{who}: label_weights must be a list of non-negative "
                                 "weights, one per label")
        self.label_weights = label_weights
        self._from_logits = bool(from_logits)
        self._labels = self.num_labels
        self.reset_state()

    @property
    def thresholds(self):
        return list(self._thresholds)

    def reset_state(self):
        shape = (self.num_thresholds,) if not self.multi_label else (
            (self.num_thresholds, self._labels) if self._labels else None)
        for name in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
            setattr(self, name, None if shape is None else np.zeros(shape))

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _host(y_pred)
        if self.multi_label:
            if y_pred.ndim != 2:
                raise ValueError(f"AUC: multi_label=True needs predictions of rank 2 "
                                 f"(samples, labels), got shape {y_pred.shape}")
            if self._labels is None:
                self._labels = y_pred.shape[1]
                self.reset_state()
            elif y_pred.shape[1] != self._labels:
                raise ValueError(f"AUC: expected predictions with {self._labels} labels (as "
                                 f"before), got shape {y_pred.shape}")
        if self.label_weights is not None and y_pred.shape[-1] != len(self.label_weights):
            raise ValueError(f"AUC: label_weights has {len(self.label_weights)} weights for "
                             f"predictions with {y_pred.shape[-1]} labels")
        if self._from_logits:
            y_pred = _sigmoid(y_pred.astype(self.dtype))
        tp, fp, tn, fn = _confusion(
            "AUC", y_true, y_pred, self._thresholds, self._evenly, sample_weight=sample_weight,
            multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights, dtype=self.dtype)
        self.true_positives += tp
        self.false_positives += fp
        self.true_negatives += tn
        self.false_negatives += fn

    def _average(self, by_label):
        if not self.multi_label:
            return float(by_label)
        if self.label_weights is None:
            return float(np.mean(by_label))
        return float(_divide_no_nan(np.sum(by_label * self.label_weights),
                                    np.sum(self.label_weights)))

    def result(self):
        tp, fp, tn, fn = (self.true_positives, self.false_positives, self.true_negatives,
                          self.false_negatives)
        if tp is None:  # multi_label, nothing seen yet
            return 0.0
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._average(np.sum(self._interpolate_pr(tp, fp, fn), axis=0))
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, _divide_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return self._average(np.sum((x[:-1] - x[1:]) * heights, axis=0))

    @staticmethod
    def _interpolate_pr(tp, fp, fn):
        """Keras's interpolate_pr_auc (Davis & Goadrich 2006, closed form): tp, fp and their
        sum vary linearly between thresholds; precision is integrated over recall."""
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        return _divide_no_nan(slope * (dtp + intercept * np.log(ratio)),
                              np.maximum(tp[1:] + fn[1:], 0))

    def get_config(self):
        config = {**super().get_config(), "num_thresholds": self.num_thresholds,
                  "curve": self.curve, "summation_method": self.summation_method,
                  "multi_label": self.multi_label, "num_labels": self.num_labels,
                  "label_weights": None if self.label_weights is None else
                  self.label_weights.tolist(), "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


def _sigmoid(z):
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    e = np.exp(z[~positive])
    out[~positive] = e / (1.0 + e)
    return out


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
_STATEFUL = {"auc": AUC, "precision": Precision, "recall": Recall}


def get(identifier):
    """A metric object from a Keras name ("auc", "precision", "recall", "accuracy", ...),
    or the object itself."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in _STATEFUL:
            return _STATEFUL[key]()
        if key in _METRICS:
            return MeanMetricWrapper(_METRICS[key], name=identifier)
    raise ValueError(f"metrics.get: unknown metric {identifier!r}")


__all__ = ["binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
           "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
           "mean_squared_error", "mean_absolute_error", "Metric", "Mean", "MeanMetricWrapper",
           "AUC", "Precision", "Recall", "TopKCategoricalAccuracy",
           "SparseTopKCategoricalAccuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "get"]
