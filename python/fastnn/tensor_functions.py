"""PyTorch's top-level tensor functions: ``fn.max(t, 1)``, ``fn.argmax``, ``fn.cat``,
``fn.stack``, ``fn.where``, ``fn.exp``, ... Each is the tensor method of the same name
(tensor_ops.py) on its first argument, which may also be an array or a number.

This module defines names such as ``max``, ``sum`` and ``abs``: its own code reaches
Python's through ``builtins``.
"""

from __future__ import annotations

import builtins

import numpy as np

from . import _C
from . import tensor_ops as _ops
from . import tensor_reduce as _reduce
from . import tensor_shape as _shape
from .tensor import Tensor, as_tensor


def _t(x) -> Tensor:
    if isinstance(x, Tensor):
        return x
    array = np.asarray(x)
    return _C.from_numpy(array, "float32" if array.dtype.kind == "f" else None)


def _method(name, doc=None):
    def function(input, *args, **kwargs):  # noqa: A002 - torch's argument name
        return getattr(_t(input), name)(*args, **kwargs)

    function.__name__ = name
    function.__doc__ = doc or f"torch.{name}: ``input.{name}(...)``."
    return function


for _name in ("max", "min", "argmax", "argmin", "amax", "amin", "std", "var", "prod", "all",
              "any", "logsumexp", "norm", "exp", "log", "log2", "log10", "log1p", "expm1",
              "sqrt", "rsqrt", "reciprocal", "sin", "cos", "abs", "neg", "negative", "sign",
              "floor", "ceil", "round", "trunc", "square", "clamp", "clip", "pow", "maximum",
              "minimum", "eq", "ne", "lt", "le", "gt", "ge", "squeeze", "unsqueeze",
              "transpose", "permute", "t", "gather", "scatter_add", "masked_fill", "numel",
              "is_floating_point", "split", "chunk", "unbind", "flip", "isnan", "isinf",
              "isfinite", "logical_not", "logical_and", "logical_or", "logical_xor", "narrow",
              "floor_divide", "remainder", "bitwise_and", "bitwise_or", "bitwise_xor",
              "bitwise_not", "clone", "detach", "repeat", "expand", "mul", "div", "add", "sub",
              "true_divide", "multiply", "divide", "subtract", "relu", "sigmoid", "tanh"):
    globals()[_name] = _method(_name)
del _name


def sum(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):  # noqa: A001
    """torch.sum (dim/keepdim) or the numpy/Keras spelling (axis/keepdims)."""
    return _reduce.t_sum(as_tensor(input), dim, keepdim, dtype=dtype, axis=axis, keepdims=keepdims)


def mean(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):  # noqa: A002
    return _reduce.t_mean(as_tensor(input), dim, keepdim, dtype=dtype, axis=axis, keepdims=keepdims)


def flatten(input, start_dim=None, end_dim=-1):  # noqa: A002
    """torch.flatten(input, start_dim, end_dim). Without start_dim, fastnn's older meaning
    (Keras's Flatten): (N, ...) -> (N, prod(...)), which is torch's start_dim=1."""
    x = as_tensor(input)
    if start_dim is None:
        return _C.flatten(x)
    return _shape.t_flatten(x, start_dim, end_dim)


def where(condition, input=None, other=None):  # noqa: A002
    return _ops.where(condition, input, other)


def cat(tensors, dim=0, *, axis=None):
    """torch.cat: tensors of one shape but along dim, joined; dtypes promote as in torch."""
    tensors = [_t(x) for x in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    if axis is not None:
        dim = axis
    dtype = _ops.result_type(*(x for x in tensors if x.ndim)) if builtins.any(
        x.ndim for x in tensors) else tensors[0].dtype
    tensors = [_ops.to_dtype(x, dtype) for x in tensors]
    return _C.concat(tensors, int(dim))


concatenate = cat


def stack(tensors, dim=0):
    """torch.stack: tensors of one shape joined along a new dim."""
    tensors = [_t(x) for x in tensors]
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    shape = tensors[0].shape
    for i, x in enumerate(tensors):
        if x.shape != shape:
            raise ValueError(f"stack expects each tensor to be equal size, but got {shape} at "
                             f"entry 0 and {x.shape} at entry {i}")
    n = len(shape) + 1
    d = int(dim)
    if not -n <= d < n:
        raise IndexError(f"stack: dim {d} is out of range for {n} dimensions")
    return cat([x.unsqueeze(d % n) for x in tensors], d % n)


def is_nonzero(input) -> bool:  # noqa: A002
    return builtins.bool(_t(input))


def equal(a, b) -> bool:
    """Same shape and the same values."""
    a, b = _t(a), _t(b)
    return a.shape == b.shape and builtins.bool((a == b).all())


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    a, b = _t(a), _t(b)
    close = (a - b).abs() <= atol + rtol * b.abs()
    if equal_nan:
        close = close | (a.isnan() & b.isnan())
    return close | (a == b)


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return builtins.bool(isclose(a, b, rtol, atol, equal_nan).all())


def mm(a, b):
    return _C.matmul(_t(a), _t(b))


def bmm(input, mat2):  # noqa: A002
    return _C.bmm(_t(input), _t(mat2))


__all__ = [
    "max", "min", "argmax", "argmin", "amax", "amin", "sum", "mean", "std", "var", "prod",
    "all", "any", "logsumexp", "norm", "exp", "log", "log2", "log10", "log1p", "expm1", "sqrt",
    "rsqrt", "reciprocal", "sin", "cos", "abs", "neg", "negative", "sign", "floor", "ceil",
    "round", "trunc", "square", "clamp", "clip", "where", "pow", "maximum", "minimum", "eq",
    "ne", "lt", "le", "gt", "ge", "cat", "concatenate", "stack", "flatten", "squeeze",
    "unsqueeze", "transpose", "permute", "t", "gather", "scatter_add", "masked_fill", "numel",
    "is_floating_point", "split", "chunk", "unbind", "flip", "isnan", "isinf", "isfinite",
    "logical_not", "logical_and", "logical_or", "logical_xor", "narrow", "floor_divide",
    "remainder", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "equal", "isclose",
    "allclose", "is_nonzero", "mm", "bmm", "clone", "detach", "repeat", "expand", "true_divide",
    "multiply", "divide", "subtract",
]
