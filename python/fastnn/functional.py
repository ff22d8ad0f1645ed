"""Functional ops on tensors (``fn.relu(x)``, ``fn.concat([a, b])``, ...).

Every function accepts fastnn tensors or array-likes and records autograd nodes when an
input requires grad.
"""

from __future__ import annotations

import numpy as np

from . import _C
from .snapshot import snapshot
from .tensor import Tensor, _axes, as_tensor


def _kept(x, dtype=None):
    """``as_tensor(x)`` for an operand the backward pass may read: while gradients are
    recorded, an array is copied instead of borrowed, so changing it between the forward
    and the backward pass cannot change the gradients (layers do the same with inputs)."""
    if isinstance(x, Tensor) or not _C.is_grad_enabled():
        return as_tensor(x, dtype)
    array = np.asarray(x)
    if array is not x and array.flags.owndata:  # a fresh array (from a list): nobody else's
        return as_tensor(array, dtype)
    if dtype is None and array.dtype.kind == "f":
        dtype = "float32"  # as_tensor's default
    return snapshot(array, dtype)


def _other(b, a):
    """The right operand of a binary op with tensor ``a``: an array is kept (see _kept) in
    ``a``'s dtype, as the tensor operators convert it; anything else goes to them as is."""
    return _kept(b, a.dtype) if isinstance(b, np.ndarray) else b


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
    return _C.matmul(_kept(a), _kept(b))


def dense(x, kernel, bias=None, activation="linear", negative_slope=0.01):
    """act(x @ kernel + bias) in one op (``negative_slope``: leaky_relu's, as leaky_relu)."""
    return _C.dense(_kept(x), kernel, bias, activation, float(negative_slope))


def add(a, b):
    a = _kept(a)
    return a + _other(b, a)


def sub(a, b):
    a = _kept(a)
    return a - _other(b, a)


def mul(a, b):
    a = _kept(a)
    return a * _other(b, a)


def div(a, b):
    a = _kept(a)
    return a / _other(b, a)


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
    "annotations", "Tensor", "as_tensor", "np", "snapshot")]
