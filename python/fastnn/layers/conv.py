"""Conv1D and Conv2D: channels-last, Keras arguments and weight layouts."""

from __future__ import annotations

import numbers

from .. import _C
from .. import activations as _activations
from .. import functional as _F
from .base import Layer


def _conv_output_size(size, kernel, stride, dilation, mode, pads):
    """One spatial axis, as the op computes it (None stays None)."""
    if size is None:
        return None
    if mode == "same":
        return -(-size // stride)
    span = (kernel - 1) * dilation + 1
    padded = size + pads[0] + pads[1]
    return (padded - span) // stride + 1 if padded >= span else 0


class _Conv(Layer):
    """Shared by Conv1D (rank 1) and Conv2D (rank 2): the op, the weights, the checks.

    Known activations run inside the conv op (one pass with the bias add); softmax and
    custom callables are applied after it.
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        kind = type(self).__name__
        self._who = f"{kind} '{self.name}'"
        if not isinstance(filters, numbers.Integral) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(f"{self._who}: expected filters to be a positive integer, got "
                             f"{filters!r}")
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{self._who}: expected data_format 'channels_last' (fastnn is "
                             f"channels-last), got {data_format!r}")
        if groups != 1:
            raise ValueError(f"{self._who}: expected groups=1 (grouped convolution is not "
                             f"supported), got {groups!r}")
        self.filters = int(filters)
        self.kernel_size = self._positive(kernel_size, "kernel_size")
        self.strides = self._positive(strides, "strides")
        self.dilation_rate = self._positive(dilation_rate, "dilation_rate")
        if isinstance(padding, str) and padding.lower() == "causal" and self.rank == 1:
            span = (self.kernel_size[0] - 1) * self.dilation_rate[0]
            self._padding_mode, self._pads = "explicit", (span, 0)
        else:
            self._padding_mode, self._pads = _F.conv_padding(
                padding if isinstance(padding, str) or self.rank == 2 else [padding], self.rank,
                self._who)
        self.padding = padding.lower() if isinstance(padding, str) else padding
        self._configure_kernel_and_bias(self._who, activation, use_bias, kernel_initializer,
                                        bias_initializer, kernel_regularizer, bias_regularizer)
        if self.input_shape_arg is not None:
            self._maybe_build(self.input_shape_arg)

    def _positive(self, value, name):
        sizes = _F._ints(value, self.rank, self._who, name)
        if any(s <= 0 for s in sizes):
            raise ValueError(f"{self._who}: expected positive {name}, got {value!r}")
        return sizes

    def build(self, input_shape):
        layout = "(batch, steps, channels)" if self.rank == 1 else "(batch, height, width, channels)"
        if len(input_shape) != self.rank + 2 or input_shape[-1] is None:
            raise ValueError(f"{self._who}: expected inputs of shape {layout} with a known "
                             f"channel count, got input shape {tuple(input_shape)}")
        channels = int(input_shape[-1])
        self.kernel = self.add_weight("kernel", (*self.kernel_size, channels, self.filters),
                                      self.kernel_initializer, self.kernel_regularizer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer,
                                        self.bias_regularizer)
        self.built = True

    def call(self, inputs):
        fused = self.activation_name in _activations.FUSED
        act = self.activation_name if fused else "linear"
        alpha = self._alpha if fused else 0.0
        if self.rank == 2:
            y = _C.conv2d(inputs, self.kernel, self.bias, self.strides, self._padding_mode,
                          self._pads, self.dilation_rate, act, alpha, self._who)
        else:
            y = _C.conv1d(inputs, self.kernel, self.bias, self.strides[0], self._padding_mode,
                          self._pads, self.dilation_rate[0], act, alpha, self._who)
        return y if fused else self.activation(y)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        spatial = input_shape[1:-1]
        if len(spatial) != self.rank:
            raise ValueError(f"{self._who}: expected an input shape of rank {self.rank + 2}, "
                             f"got {input_shape}")
        out = tuple(
            _conv_output_size(size, self.kernel_size[a], self.strides[a], self.dilation_rate[a],
                              self._padding_mode, self._pads[2 * a:2 * a + 2])
            for a, size in enumerate(spatial))
        return (input_shape[0], *out, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding,
                "dilation_rate": self.dilation_rate, "use_bias": self.use_bias,
                **self._kernel_and_bias_config()}


class Conv2D(_Conv):
    """2-D convolution over (batch, height, width, channels): kernel (kh, kw, in, filters),
    bias (filters,). padding 'valid', 'same' (TensorFlow's rule: the odd pixel of padding
    at the bottom/right) or explicit sizes (p, (ph, pw) or ((top, bottom), (left, right)))."""

    rank = 2


class Conv1D(_Conv):
    """1-D convolution over (batch, steps, channels): kernel (k, in, filters), bias
    (filters,). padding 'valid', 'same', 'causal' (all on the left) or explicit sizes."""

    rank = 1


Convolution1D, Convolution2D = Conv1D, Conv2D
