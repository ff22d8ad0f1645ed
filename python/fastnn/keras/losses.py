"""``keras.losses``: loss classes (``loss(y_true, y_pred)``, reduced to a scalar tensor)
and the function forms (per-sample loss tensors)."""

from ..losses import (BinaryCrossentropy, CategoricalCrossentropy, Loss, MeanAbsoluteError,
                      MeanSquaredError, SparseCategoricalCrossentropy, binary_crossentropy,
                      categorical_crossentropy, get, mean_squared_error,
                      sparse_categorical_crossentropy)
from ..tensor import as_tensor


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean absolute errors (the mean over the last axis), no reduction."""
    return MeanAbsoluteError(reduction="none")(y_pred=as_tensor(y_pred), y_true=y_true)


mse, mae = mean_squared_error, mean_absolute_error  # tf.keras 2's names (not exported)

__all__ = ["Loss", "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "mean_squared_error",
           "mean_absolute_error", "binary_crossentropy", "categorical_crossentropy",
           "sparse_categorical_crossentropy", "get"]
