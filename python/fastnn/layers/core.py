"""Dense, activation layers, Flatten and Reshape."""

from __future__ import annotations

import math
import numbers

from .. import _C
from .. import activations as _activations
from .base import Layer


class Dense(Layer):
    """``activation(x @ kernel + bias)``: kernel (in, units), bias (units,), Keras layouts.

    Known activations run inside the Dense op (one pass with the bias add); softmax and
    custom callables are applied after it.
    """

    supports_masking = True  # works per timestep, so a mask passes on

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, numbers.Integral) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Dense '{self.name}': expected units to be a positive integer, "
                             f"got {units!r}")
        self.units = int(units)
        self._configure_kernel_and_bias(f"Dense '{self.name}'", activation, use_bias,
                                        kernel_initializer, bias_initializer, kernel_regularizer,
                                        bias_regularizer)
        if self.input_shape_arg is not None:
            self._maybe_build(self.input_shape_arg)

    def build(self, input_shape):
        if len(input_shape) < 1 or input_shape[-1] is None:
            raise ValueError(f"Dense '{self.name}': the last input dimension must be known, got "
                             f"input shape {input_shape}")
        in_features = int(input_shape[-1])
        self.kernel = self.add_weight("kernel", (in_features, self.units), self.kernel_initializer,
                                      self.kernel_regularizer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer,
                                        self.bias_regularizer)
        self.built = True

    def call(self, inputs):
        who = f"Dense '{self.name}'"
        if self.activation_name in _activations.FUSED:
            return _C.dense(inputs, self.kernel, self.bias, self.activation_name, self._alpha, who)
        return self.activation(_C.dense(inputs, self.kernel, self.bias, "linear", 0.0, who))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "use_bias": self.use_bias,
                **self._kernel_and_bias_config()}


class Activation(Layer):
    """Applies an activation by name or callable."""

    supports_masking = True  # works per timestep, so a mask passes on

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation_name, self.activation = _activations.get(
            activation, f"Activation '{self.name}'")

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation_name or self.activation}


class ReLU(Layer):
    supports_masking = True  # works per timestep, so a mask passes on

    def call(self, inputs):
        return _C.activation(inputs, "relu")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


class LeakyReLU(Layer):
    """x if x > 0 else alpha * x. Keras's default alpha (negative_slope) is 0.3."""

    supports_masking = True  # works per timestep, so a mask passes on

    def __init__(self, alpha=None, negative_slope=None, **kwargs):
        super().__init__(**kwargs)
        if alpha is not None and negative_slope is not None:
            raise TypeError(f"LeakyReLU '{self.name}': give alpha or negative_slope, not both")
        slope = 0.3 if alpha is None and negative_slope is None else (
            alpha if alpha is not None else negative_slope)
        if not isinstance(slope, numbers.Real) or slope < 0:
            raise ValueError(f"LeakyReLU '{self.name}': expected alpha >= 0, got {slope!r}")
        self.alpha = float(slope)

    def call(self, inputs):
        return _C.activation(inputs, "leaky_relu", self.alpha)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Sigmoid(Layer):
    supports_masking = True  # works per timestep, so a mask passes on

    def call(self, inputs):
        return _C.activation(inputs, "sigmoid")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


class Tanh(Layer):
    supports_masking = True  # works per timestep, so a mask passes on

    def call(self, inputs):
        return _C.activation(inputs, "tanh")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


class Softmax(Layer):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        return _C.softmax(inputs, self.axis)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Flatten(Layer):
    """(N, ...) -> (N, prod(...)); a view, no copy."""

    def call(self, inputs):
        return _C.flatten(inputs)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else int(math.prod(rest)))


class Reshape(Layer):
    """Reshapes each sample to ``target_shape`` (the batch axis is kept; one -1 allowed)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        if isinstance(target_shape, int):
            target_shape = (target_shape,)
        target_shape = tuple(target_shape)
        if sum(1 for d in target_shape if d == -1) > 1 or any(
                not isinstance(d, numbers.Integral) or (d <= 0 and d != -1) for d in target_shape):
            raise ValueError(f"Reshape '{self.name}': expected positive sizes and at most one -1, "
                             f"got {target_shape}")
        self.target_shape = target_shape

    def call(self, inputs):
        if inputs.ndim == 0:
            raise ValueError(f"Reshape '{self.name}': expected inputs with a batch axis, got a "
                             "scalar")
        n = inputs.shape[0]
        per_sample = math.prod(inputs.shape[1:])
        known = math.prod(d for d in self.target_shape if d != -1)
        if (-1 in self.target_shape and per_sample % known) or (
                -1 not in self.target_shape and per_sample != known):
            raise ValueError(f"Reshape '{self.name}': cannot reshape samples of shape "
                             f"{tuple(inputs.shape[1:])} ({per_sample} values) to {self.target_shape}")
        return _C.reshape(inputs, [n, *self.target_shape])

    def compute_output_shape(self, input_shape):
        per_sample = None if None in input_shape[1:] else math.prod(input_shape[1:])
        shape = list(self.target_shape)
        if -1 in shape:
            known = math.prod(d for d in shape if d != -1)
            shape[shape.index(-1)] = None if per_sample is None else per_sample // known
        return (input_shape[0], *shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}
