"""``keras.metrics``: metric classes (update_state / result / reset_state) and the function
forms, which return per-sample values as a float32 tensor (Keras 3's), e.g.
``keras.metrics.sparse_categorical_accuracy(y_true, y_pred)`` -> (N,) of 0.0 and 1.0.

Given to ``compile(metrics=[...])``, a function form is the same metric as its name: the
accuracies then run on the device like ``"accuracy"``."""

import functools

import numpy as np

from .. import metrics as _metrics
from ..metrics import (AUC, BinaryAccuracy, CategoricalAccuracy, Mean, MeanMetricWrapper, Metric,
                       Precision, Recall, SparseCategoricalAccuracy,
                       SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy, get)
from ..tensor import tensor as _tensor


def _as_tensor_metric(function):
    """``function`` (numpy in, per-sample numpy values out) returning a float32 tensor."""
    @functools.wraps(function)
    def metric(y_true, y_pred, *args, **kwargs):
        values = np.asarray(function(y_true, y_pred, *args, **kwargs), dtype=np.float32)
        return _tensor(values, dtype="float32")

    metric._fastnn_metric = function  # what compile computes for it
    return metric


def _binary_accuracy(y_true, y_pred, threshold=0.5):
    """Keras 3's: one value per element (1.0 where y_pred > threshold matches y_true); the
    mean over everything is the accuracy compile logs."""
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true)
    if y_true.shape != y_pred.shape and y_true.size == y_pred.size:
        y_true = y_true.reshape(y_pred.shape)
    return ((y_pred > threshold).astype(np.float64) == y_true).astype(np.float64)


binary_accuracy = _as_tensor_metric(_binary_accuracy)
binary_accuracy._fastnn_metric = _metrics.binary_accuracy  # the same mean, per sample
binary_accuracy.__name__ = binary_accuracy.__qualname__ = "binary_accuracy"
categorical_accuracy = _as_tensor_metric(_metrics.categorical_accuracy)
sparse_categorical_accuracy = _as_tensor_metric(_metrics.sparse_categorical_accuracy)
top_k_categorical_accuracy = _as_tensor_metric(_metrics.top_k_categorical_accuracy)
sparse_top_k_categorical_accuracy = _as_tensor_metric(_metrics.sparse_top_k_categorical_accuracy)
mean_squared_error = _as_tensor_metric(_metrics.mean_squared_error)
mean_absolute_error = _as_tensor_metric(_metrics.mean_absolute_error)
binary_crossentropy = _as_tensor_metric(_metrics._METRICS["binary_crossentropy"])
categorical_crossentropy = _as_tensor_metric(_metrics._METRICS["categorical_crossentropy"])
sparse_categorical_crossentropy = _as_tensor_metric(
    _metrics._METRICS["sparse_categorical_crossentropy"])
for _f, _name in ((binary_crossentropy, "binary_crossentropy"),
                  (categorical_crossentropy, "categorical_crossentropy"),
                  (sparse_categorical_crossentropy, "sparse_categorical_crossentropy")):
    _f.__name__ = _f.__qualname__ = _name


def _equal(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape and y_true.size == y_pred.size:
        y_true = y_true.reshape(y_pred.shape)
    hits = (y_true == y_pred).astype(np.float64)
    return hits if hits.ndim <= 1 else hits.mean(axis=-1)


class Accuracy(MeanMetricWrapper):
    """How often predictions equal the labels exactly."""

    _direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(_equal, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name}


class _Wrapper(MeanMetricWrapper):
    function = None
    default_name = None

    def __init__(self, name=None, dtype=None):
        super().__init__(type(self).function, name=name or self.default_name, dtype=dtype)

    def get_config(self):
        return {"name": self.name}


class MeanSquaredError(_Wrapper):
    function, default_name = staticmethod(_metrics.mean_squared_error), "mean_squared_error"
    _direction = "down"


class MeanAbsoluteError(_Wrapper):
    function, default_name = staticmethod(_metrics.mean_absolute_error), "mean_absolute_error"
    _direction = "down"


class BinaryCrossentropy(_Wrapper):
    function = staticmethod(_metrics._METRICS["binary_crossentropy"])
    default_name = "binary_crossentropy"
    _direction = "down"


class CategoricalCrossentropy(_Wrapper):
    function = staticmethod(_metrics._METRICS["categorical_crossentropy"])
    default_name = "categorical_crossentropy"
    _direction = "down"


class SparseCategoricalCrossentropy(_Wrapper):
    function = staticmethod(_metrics._METRICS["sparse_categorical_crossentropy"])
    default_name = "sparse_categorical_crossentropy"
    _direction = "down"


class RootMeanSquaredError(Mean):
    """sqrt of the mean squared error over everything seen."""

    _direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(_metrics.mean_squared_error(y_true, y_pred),
                             sample_weight=sample_weight)

    def result(self):
        return float(np.sqrt(super().result()))


__all__ = ["Metric", "Mean", "MeanMetricWrapper", "AUC", "Precision", "Recall", "Accuracy",
           "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
           "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "MeanSquaredError",
           "MeanAbsoluteError", "RootMeanSquaredError", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "binary_accuracy",
           "categorical_accuracy", "sparse_categorical_accuracy", "top_k_categorical_accuracy",
           "sparse_top_k_categorical_accuracy", "mean_squared_error", "mean_absolute_error",
           "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
           "get"]
