"""Layers that merge a list of tensors (Keras 3's ``Concatenate``, ``Add``, ``Subtract``,
``Multiply``, ``Average`` and their function forms ``concatenate([a, b])`` ...): what joins
the branches of a functional model."""

from __future__ import annotations

import numbers

from .. import _C
from .. import symbolic as _symbolic
from ..tensor import Tensor
from .base import Layer


class ListInputLayer(Layer):
    """A layer whose input is a list of tensors: each converted like a single input, the
    layer built from the list of their shapes. Masks do not pass through (Keras's merging
    layers combine them; fastnn's drop them)."""

    min_inputs = 2

    def __call__(self, inputs, training=None, **kwargs):
        if _symbolic.is_symbolic(inputs, kwargs):
            return _symbolic.call(self, inputs, training, kwargs)
        who = f"{type(self).__name__} '{self.name}'"
        if not isinstance(inputs, (list, tuple)):
            raise TypeError(f"{who}: expected a list of at least {self.min_inputs} tensors, got "
                            f"{type(inputs).__name__}")
        if len(inputs) < self.min_inputs:
            raise ValueError(f"{who}: expected a list of at least {self.min_inputs} tensors, got "
                             f"{len(inputs)}")
        kwargs.pop("mask", None)
        tensors = [x if isinstance(x, Tensor) else self._convert_input(x) for x in inputs]
        if not self.built:
            self._maybe_build([tuple(t.shape) for t in tensors])
        self._last_input, self._last_training = tensors, training
        return self.call(tensors, **kwargs)

    def compute_output_shape(self, input_shape):
        from ..tensor import no_grad
        import numpy as np

        with no_grad():
            out = self([np.zeros(tuple(1 if d is None else d for d in s), dtype=self.dtype)
                        for s in input_shape])
        return (None,) + tuple(out.shape[1:])

    def backward(self, grad_output):
        raise NotImplementedError(f"{type(self).__name__} '{self.name}'.backward: layers with "
                                  "several inputs have no backprop-by-hand API; use autograd "
                                  "(loss.backward())")


def _shape_text(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (
        ",)" if len(shape) == 1 else ")")


class Concatenate(ListInputLayer):
    """Joins tensors along ``axis`` (default -1, the features); every other axis must agree."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise TypeError(f"Concatenate '{self.name}': expected axis to be an integer, got "
                            f"{type(axis).__name__}")
        self.axis = int(axis)

    def call(self, inputs):
        shapes = [tuple(t.shape) for t in inputs]
        rank = len(shapes[0])
        axis = self.axis + rank if self.axis < 0 else self.axis
        if not 0 < axis < rank or any(len(s) != rank for s in shapes) or any(
                s[:axis] + s[axis + 1:] != shapes[0][:axis] + shapes[0][axis + 1:]
                for s in shapes):
            raise ValueError(f"Concatenate '{self.name}': expected tensors of one rank whose "
                             f"shapes agree except along axis {self.axis} (not the batch "
                             f"axis), got shapes {', '.join(_shape_text(s) for s in shapes)}")
        return _C.concat(list(inputs), axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class _Elementwise(ListInputLayer):
    def _check(self, inputs):
        shapes = [tuple(t.shape) for t in inputs]
        for s in shapes[1:]:
            if len(s) != len(shapes[0]) or any(a != b and a != 1 and b != 1
                                               for a, b in zip(s, shapes[0])):
                raise ValueError(f"{type(self).__name__} '{self.name}': expected tensors of "
                                 f"the same shape, got shapes "
                                 f"{', '.join(_shape_text(s) for s in shapes)}")


class Add(_Elementwise):
    """The sum of the inputs, elementwise."""

    def call(self, inputs):
        self._check(inputs)
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out


class Subtract(_Elementwise):
    """inputs[0] - inputs[1] (exactly two inputs)."""

    def call(self, inputs):
        if len(inputs) != 2:
            raise ValueError(f"Subtract '{self.name}': expected exactly 2 inputs, got "
                             f"{len(inputs)}")
        self._check(inputs)
        return inputs[0] - inputs[1]


class Multiply(_Elementwise):
    """The product of the inputs, elementwise."""

    def call(self, inputs):
        self._check(inputs)
        out = inputs[0]
        for x in inputs[1:]:
            out = out * x
        return out


class Average(_Elementwise):
    """The mean of the inputs, elementwise."""

    def call(self, inputs):
        self._check(inputs)
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out * (1.0 / len(inputs))


def concatenate(inputs, axis=-1, **kwargs):
    """``Concatenate(axis=axis, **kwargs)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def add(inputs, **kwargs):
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    return Average(**kwargs)(inputs)


__all__ = ["Concatenate", "Add", "Subtract", "Multiply", "Average", "concatenate", "add",
           "subtract", "multiply", "average"]
