"""Functional ops on tensors (``fn.relu(x)``, ``fn.concat([a, b])``, ...).

Every function accepts fastnn tensors or array-likes and records autograd nodes when an
input requires grad.
"""

from __future__ import annotations

from . import _C
from .tensor import _axes, as_tensor


def relu(x):
    return _C.activation(as_tensor(x), "relu")


def leaky_relu(x, negative_slope=0.01):
    return _C.activation(as_tensor(x), "leaky_relu", float(negative_slope))


def sigmoid(x):
    return _C.activation(as_tensor(x), "sigmoid")


def tanh(x):
    return _C.activation(as_tensor(x), "tanh")


def gelu(x):
    return _C.activation(as_tensor(x), "gelu")


def linear(x):
    return as_tensor(x)


def softmax(x, axis=-1):
    return _C.softmax(as_tensor(x), axis)


def log_softmax(x, axis=-1):
    return _C.log_softmax(as_tensor(x), axis)


def matmul(a, b):
    return _C.matmul(as_tensor(a), as_tensor(b))


def dense(x, kernel, bias=None, activation="linear", negative_slope=0.01):
    """act(x @ kernel + bias) in one op (``negative_slope``: leaky_relu's, as leaky_relu)."""
    return _C.dense(as_tensor(x), kernel, bias, activation, float(negative_slope))


def add(a, b):
    return as_tensor(a) + b


def sub(a, b):
    return as_tensor(a) - b


def mul(a, b):
    return as_tensor(a) * b


def div(a, b):
    return as_tensor(a) / b


def sum(x, axis=None, keepdims=False):  # noqa: A001 - numpy's name
    return _C.sum(as_tensor(x), _axes(axis), keepdims)


def mean(x, axis=None, keepdims=False):
    return _C.mean(as_tensor(x), _axes(axis), keepdims)


def reshape(x, shape):
    return _C.reshape(as_tensor(x), [int(s) for s in shape])


def flatten(x):
    """(N, ...) -> (N, prod(...))."""
    return _C.flatten(as_tensor(x))


def concat(tensors, axis=0):
    tensors = [as_tensor(t) for t in tensors]
    return _C.concat(tensors, axis)


concatenate = cat = concat


def stack_rows(x, index):
    """x[index] along the first axis (differentiable gather)."""
    return as_tensor(x)[index]


__all__ = [name for name in dir() if not name.startswith("_") and name not in (
    "annotations", "Tensor", "as_tensor")]
