"""Lambda (a function as a layer) and Identity, Keras 3's."""

from __future__ import annotations

from .. import symbolic as _symbolic
from ..tensor import Tensor
from .base import Layer, takes_argument, unique_name


class Lambda(Layer):
    """Wraps ``function(inputs, **arguments)`` as a layer: a function of fastnn ops (so it
    differentiates and a captured step replays it), on a tensor or a list of tensors. It
    has no weights. ``output_shape`` is accepted and not needed (the shape is found by
    running the function). A saved model can hold it when the function is a module-level
    function (registered with @fn.saving.register_serializable()), not a lambda."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda '{self.name}': expected a callable, got "
                            f"{type(function).__name__}")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"Lambda '{self.name}': expected arguments to be a dict, got "
                            f"{type(arguments).__name__}")
        self.function = function
        self.output_shape_arg = output_shape
        self.mask = mask
        self.arguments = dict(arguments or {})

    def __call__(self, inputs, training=None, **kwargs):
        if _symbolic.is_symbolic(inputs, kwargs):
            return _symbolic.call(self, inputs, training, kwargs)
        if isinstance(inputs, (list, tuple)):
            kwargs.pop("mask", None)
            inputs = [x if isinstance(x, Tensor) else self._convert_input(x) for x in inputs]
            self.built = True
            return self.call(inputs, training=training, **kwargs)
        return super().__call__(inputs, training=training, **kwargs)

    def call(self, inputs, training=None, **kwargs):
        arguments = dict(self.arguments)
        arguments.update(kwargs)
        if training is not None and takes_argument(self.function, "training"):
            arguments["training"] = training
        return self.function(inputs, **arguments)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def get_config(self):
        return {**super().get_config(), "function": self.function,
                "output_shape": self.output_shape_arg, "arguments": self.arguments}


def _operation(function, name):
    """The layer that records ``a + b`` and the like on KerasTensors (Keras 3's ops)."""
    return Lambda(function, name=unique_name(name))


_symbolic.operation_layer = _operation


class Identity(Layer):
    """Returns its input unchanged (a mask passes on)."""

    supports_masking = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


__all__ = ["Lambda", "Identity"]
