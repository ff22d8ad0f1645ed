"""InputLayer and ``Input``: where a functional model's data comes in (Keras 3's
``keras.Input(shape=..., name=..., dtype=...)``)."""

from __future__ import annotations

import numbers

from ..symbolic import KerasTensor, Node
from .base import Layer

_DTYPES = {"float32": "float32", "float64": "float64", "int32": "int32", "int64": "int64",
           "float": "float32", "int": "int64", "double": "float64"}


def _dtype_name(who, dtype):
    if dtype is None:
        return "float32"
    name = getattr(dtype, "name", None) or getattr(dtype, "__name__", None) or str(dtype)
    if name not in _DTYPES:
        raise TypeError(f"{who}: expected dtype float32, float64, int32 or int64, got "
                        f"{dtype!r}")
    return _DTYPES[name]


def _sizes(who, arg, shape):
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"{who}: expected {arg} to be a tuple of sizes, got "
                        f"{type(shape).__name__}") from None
    if not all(d is None or (isinstance(d, numbers.Integral) and not isinstance(d, bool)
                             and d > 0) for d in shape):
        raise ValueError(f"{who}: {arg} must hold positive sizes or None, got {shape!r}")
    return tuple(None if d is None else int(d) for d in shape)


class InputLayer(Layer):
    """The layer behind ``keras.Input``: no weights; its output is the KerasTensor the model
    is fed. ``shape`` excludes the batch axis (``batch_shape`` includes it); ``dtype``:
    float32 (default), float64, or int32/int64 for ids (kept integers through fit).

    As the first entry of a Sequential it only declares the input shape, as in Keras."""

    _is_input_layer = True

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,
                 input_tensor=None, name=None, input_shape=None, **kwargs):
        who = f"InputLayer '{name}'" if name else "InputLayer"
        if sparse:
            raise ValueError(f"{who}: sparse inputs are not supported by fastnn")
        if input_tensor is not None:
            raise ValueError(f"{who}: input_tensor is not supported; call the layers on "
                             "keras.Input(shape=...) instead")
        if shape is None:
            shape = input_shape
        if batch_shape is not None:
            if shape is not None:
                raise ValueError(f"{who}: pass shape or batch_shape, not both")
            batch_shape = _sizes(who, "batch_shape", batch_shape)
            if not batch_shape:
                raise ValueError(f"{who}: batch_shape needs the batch axis, got ()")
        else:
            if shape is None:
                raise ValueError(f"{who}: expected shape (the sizes of one sample, without "
                                 "the batch axis), e.g. Input(shape=(28, 28, 1))")
            if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
                    batch_size, numbers.Integral) or batch_size <= 0):
                raise ValueError(f"{who}: expected batch_size to be a positive integer, got "
                                 f"{batch_size!r}")
            batch_shape = (batch_size,) + _sizes(who, "shape", shape)
        input_dtype = _dtype_name(who, dtype)
        layer_dtype = input_dtype if input_dtype.startswith("float") else "float32"
        super().__init__(name=name, dtype=layer_dtype, **kwargs)
        self.batch_shape = batch_shape
        self.input_dtype = input_dtype
        # Keras's declared shape for a Sequential that starts with this layer.
        self.input_shape_arg = (None,) + batch_shape[1:]
        node = Node(self, (), {}, None)
        probes = 2 if any(d is None for d in batch_shape[1:]) else 1
        self.output = KerasTensor(batch_shape, input_dtype, node, 0, (None,) * probes,
                                  self.name)
        node.outputs = [self.output]
        node.structure = self.output
        self.built = True

    @property
    def shape(self):
        return self.batch_shape

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {"name": self.name, "batch_shape": list(self.batch_shape),
                "dtype": self.input_dtype}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("trainable", None)
        return cls(**config)


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
          tensor=None, optional=False):
    """A symbolic input of a functional model (Keras 3's ``keras.Input``): ``shape`` is one
    sample's shape, e.g. ``Input(shape=(28, 28, 1), name="image")``; ``dtype`` "int32" or
    "int64" for ids that go into an Embedding. Call layers on it and pass it to
    ``keras.Model(inputs, outputs)``; or put it first in a Sequential to declare the input
    shape."""
    if optional:
        raise ValueError("Input: optional inputs are not supported by fastnn")
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       batch_shape=batch_shape, input_tensor=tensor, name=name)
    return layer.output


__all__ = ["InputLayer", "Input"]
