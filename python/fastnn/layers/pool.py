"""Pooling layers, channels last: MaxPool2D, AvgPool2D, their 1D forms and global pooling."""

from __future__ import annotations

import numpy as np

from .. import _C
from ..functional import _padding, _pair, _single
from ..tensor import Tensor
from .base import Layer


def _check_data_format(data_format, who):
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{who}: only data_format='channels_last' is supported (inputs "
                         f"(batch, ..., channels)), got {data_format!r}")


class _Pool2D(Layer):
    _max = True

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 **kwargs):
        super().__init__(**kwargs)
        who = self._who
        _check_data_format(data_format, who)
        self.pool_size = _pair(pool_size, who, "pool_size")
        self.strides = _pair(self.pool_size if strides is None else strides, who, "strides")
        self.padding = _padding(padding, who)

    @property
    def _who(self):
        return f"{type(self).__name__} '{self.name}'"

    def call(self, inputs):
        return _C.pool2d(inputs, self._max, *self.pool_size, *self.strides, self.padding,
                         self._who)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding}


class MaxPooling2D(_Pool2D):
    """Max over pool_size windows of (N, H, W, C) inputs; strides default to pool_size;
    padding 'valid' or 'same' (TensorFlow's: the odd padding at the bottom/right)."""

    _max = True


class AveragePooling2D(_Pool2D):
    """Mean over pool_size windows of (N, H, W, C) inputs; with padding='same' a window
    divides by its valid (unpadded) elements, as TensorFlow does."""

    _max = False


class _Pool1D(Layer):
    _max = True

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        who = f"{type(self).__name__} '{self.name}'"
        _check_data_format(data_format, who)
        self.pool_size = _single(pool_size, who, "pool_size")
        self.strides = _single(self.pool_size if strides is None else strides, who, "strides")
        self.padding = _padding(padding, who)

    def call(self, inputs):
        return _C.pool1d(inputs, self._max, self.pool_size, self.strides, self.padding,
                         f"{type(self).__name__} '{self.name}'")

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding}


class MaxPooling1D(_Pool1D):
    """Max over pool_size steps of (N, T, C) inputs."""

    _max = True


class AveragePooling1D(_Pool1D):
    """Mean over pool_size steps of (N, T, C) inputs."""

    _max = False


class _GlobalPool2D(Layer):
    _max = False

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        _check_data_format(data_format, f"{type(self).__name__} '{self.name}'")
        self.keepdims = bool(keepdims)

    def call(self, inputs):
        y = _C.global_pool2d(inputs, self._max, f"{type(self).__name__} '{self.name}'")
        if self.keepdims:
            y = _C.reshape(y, [y.shape[0], 1, 1, y.shape[1]])
        return y

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPool2D):
    """(N, H, W, C) -> (N, C): the mean of each channel over the image."""

    _max = False


class GlobalMaxPooling2D(_GlobalPool2D):
    """(N, H, W, C) -> (N, C): the max of each channel over the image."""

    _max = True


class _GlobalPool1D(Layer):
    _max = False

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self._who = f"{type(self).__name__} '{self.name}'"
        _check_data_format(data_format, self._who)
        self.keepdims = bool(keepdims)

    def call(self, inputs, mask=None):
        if len(inputs.shape) != 3:
            raise ValueError(f"{self._who}: expected inputs of shape (batch, steps, channels), "
                             f"got shape {tuple(inputs.shape)}")
        n, steps, channels = inputs.shape
        if mask is None or self._max:
            y = _C.global_pool2d(_C.reshape(inputs, [n, steps, 1, channels]), self._max,
                                 self._who)
        else:
            # Keras's masked mean: the sum over the steps kept, over how many were kept (an
            # all-masked sequence gives 0 / 0, NaN, as in Keras).
            if not isinstance(mask, Tensor):
                mask = _C.from_numpy(np.ascontiguousarray(mask, dtype=inputs.dtype),
                                     inputs.dtype)
            elif mask.dtype != inputs.dtype:
                mask = _C.to_dtype(mask, inputs.dtype)
            keep = _C.reshape(mask, [n, steps, 1])
            y = _C.sum(inputs * keep, [1]) / _C.sum(keep, [1])
        if self.keepdims:
            y = _C.reshape(y, [n, 1, channels])
        return y

    def compute_output_shape(self, input_shape):
        n, _, channels = tuple(input_shape)
        return (n, 1, channels) if self.keepdims else (n, channels)

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}


class GlobalAveragePooling1D(_GlobalPool1D):
    """(N, steps, C) -> (N, C): the mean of each channel over the steps; with a mask (from
    Embedding(mask_zero=True) or Masking), over the steps it keeps, as Keras does."""

    _max = False


class GlobalMaxPooling1D(_GlobalPool1D):
    """(N, steps, C) -> (N, C): the max of each channel over the steps (a mask is ignored,
    as in Keras)."""

    _max = True


# Keras's short aliases (layers are named after the long names, as in Keras).
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
MaxPool1D = MaxPooling1D
AvgPool1D = AveragePooling1D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalMaxPool1D = GlobalMaxPooling1D
