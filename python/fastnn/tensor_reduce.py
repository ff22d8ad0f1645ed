"""PyTorch's reductions as tensor methods: sum/mean with dim/keepdim (and fastnn's older
axis/keepdims), max/min (a 0-d tensor, or the (values, indices) pair along a dim),
argmax/argmin, std/var (unbiased/correction), prod, amax/amin, all/any, logsumexp, norm,
gather/scatter_add. Installed on ``fastnn.Tensor`` by ``install()``."""

from __future__ import annotations

import builtins
import collections
import operator

import numpy as np

from . import _C
from .tensor_ops import _float_input, _scalar, binary, compare, inplace, to_dtype

Tensor = _C.Tensor

# torch.return_types.max / min: a named pair (values, indices) that unpacks as a tuple.
MaxResult = collections.namedtuple("max", ["values", "indices"])
MinResult = collections.namedtuple("min", ["values", "indices"])


def _dims(dim, who="reduction") -> list:
    if dim is None:
        return []
    if isinstance(dim, (tuple, list)):
        return [operator.index(d) for d in dim]
    try:
        return [operator.index(dim)]
    except TypeError:
        raise TypeError(f"{who}: expected dim to be an int or a tuple of ints, got "
                        f"{type(dim).__name__}") from None


def _dim_kw(dim, keepdim, axis, keepdims):
    """torch's dim/keepdim, or numpy/Keras's axis/keepdims (fastnn's older names)."""
    if axis is not None:
        if dim is not None:
            raise TypeError("got both dim and axis")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    return dim, builtins.bool(keepdim)


def t_sum(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    dim, keepdim = _dim_kw(dim, keepdim, axis, keepdims)
    x = self if dtype is None else to_dtype(self, dtype)
    return _C.sum(x, _dims(dim, "sum"), keepdim)


def t_mean(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    dim, keepdim = _dim_kw(dim, keepdim, axis, keepdims)
    x = self if dtype is None else to_dtype(self, dtype)
    return _C.mean(x, _dims(dim, "mean"), keepdim)


def _extreme(is_max):
    result = MaxResult if is_max else MinResult

    def method(self, dim=None, keepdim=False):
        if isinstance(dim, (Tensor, np.ndarray)):  # torch.max(a, b): the elementwise max
            return binary("maximum" if is_max else "minimum", self, dim)
        if dim is None:
            return _C.max_all(self, is_max)
        values, indices = _C.max_dim(self, operator.index(dim), builtins.bool(keepdim), is_max)
        return result(values, indices)

    method.__name__ = "max" if is_max else "min"
    return method


def _arg_extreme(is_max):
    def method(self, dim=None, keepdim=False):
        return _C.argmax(self, None if dim is None else operator.index(dim),
                         builtins.bool(keepdim), is_max)

    method.__name__ = "argmax" if is_max else "argmin"
    return method


def _correction(who, dim, unbiased, correction):
    if isinstance(dim, builtins.bool):  # x.var(False): the old unbiased-first signature
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    elif unbiased is not None:
        raise TypeError(f"{who}: pass either unbiased or correction, not both")
    return dim, builtins.float(correction)


def t_var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
    dim, correction = _correction("var", dim, unbiased, correction)
    return _C.var(self, _dims(dim, "var"), correction, builtins.bool(keepdim))


def t_std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
    dim, correction = _correction("std", dim, unbiased, correction)
    return _C.unary("sqrt", _C.var(self, _dims(dim, "std"), correction, builtins.bool(keepdim)))


def t_prod(self, dim=None, keepdim=False, *, dtype=None):
    x = self if dtype is None else to_dtype(self, dtype)
    return _C.prod(x, None if dim is None else operator.index(dim), builtins.bool(keepdim))


def t_all(self, dim=None, keepdim=False):
    nonzero = self if self.dtype == "bool" else compare("ne", self, 0)
    if dim is None:
        return compare("eq", _C.sum(nonzero, [], False), self.numel())
    dims = _dims(dim, "all")
    count = 1
    for d in dims:
        count *= self.shape[d]
    return compare("eq", _C.sum(nonzero, dims, builtins.bool(keepdim)), count)


def t_any(self, dim=None, keepdim=False):
    nonzero = self if self.dtype == "bool" else compare("ne", self, 0)
    return compare("gt", _C.sum(nonzero, _dims(dim, "any"), builtins.bool(keepdim)), 0)


def t_logsumexp(self, dim, keepdim=False):
    x = _float_input(self)
    ndim = builtins.max(x.ndim, 1)
    dims = sorted({d % ndim for d in _dims(dim, "logsumexp")})
    # max + log(sum(exp(x - max))) with the max held constant (its gradient cancels); where
    # the max is infinite the shift is 0, so an all -inf slice stays -inf.
    shift = x.detach()
    for d in dims:
        shift = _C.max_dim(shift, d, True, True)[0]
    inf = _scalar(float("inf"), x.dtype, x.device)
    shift = _C.where(_C.compare("eq", _C.unary("abs", shift), inf),
                     _scalar(0.0, x.dtype, x.device), shift)
    out = _C.unary("log", _C.sum(_C.unary("exp", binary("sub", x, shift)), dims, True))
    out = binary("add", out, shift)
    if keepdim:
        return out
    return _C.reshape(out, [s for i, s in enumerate(out.shape) if i not in dims])


def t_norm(self, p="fro", dim=None, keepdim=False):
    x = _float_input(self)
    dims = _dims(dim, "norm")
    if p in ("fro", 2, 2.0):
        return _C.unary("sqrt", _C.sum(x * x, dims, builtins.bool(keepdim)))
    if p in (1, 1.0):
        return _C.sum(_C.unary("abs", x), dims, builtins.bool(keepdim))
    if p in (float("inf"), "inf"):
        a = _C.unary("abs", x)
        return _C.max_all(a, True) if not dims else _amax(a, dims, keepdim)
    p = builtins.float(p)
    return binary("pow", _C.sum(binary("pow", _C.unary("abs", x), p), dims, builtins.bool(keepdim)),
                  1.0 / p)


def _amax(x, dims, keepdim, is_max=True):
    ndim = builtins.max(x.ndim, 1)
    out = x
    for d in sorted({d % ndim for d in dims}, reverse=True):
        out = _C.max_dim(out, d, builtins.bool(keepdim), is_max)[0]
    return out


def t_amax(self, dim=(), keepdim=False):
    dims = _dims(dim, "amax")
    return _C.max_all(self, True) if not dims else _amax(self, dims, keepdim)


def t_amin(self, dim=(), keepdim=False):
    dims = _dims(dim, "amin")
    return _C.max_all(self, False) if not dims else _amax(self, dims, keepdim, False)


def install(T) -> None:
    T.sum = t_sum
    T.mean = t_mean
    T.max = _extreme(True)
    T.min = _extreme(False)
    T.argmax = _arg_extreme(True)
    T.argmin = _arg_extreme(False)
    T.amax, T.amin = t_amax, t_amin
    T.var, T.std = t_var, t_std
    T.prod = t_prod
    T.all, T.any = t_all, t_any
    T.logsumexp = t_logsumexp
    T.norm = t_norm
    T.gather = lambda self, dim, index: _C.gather(self, operator.index(dim), index)
    T.scatter_add = lambda self, dim, index, src: _C.scatter_add(self, operator.index(dim), index, src)
    T.scatter_add_ = lambda self, dim, index, src: inplace(
        self, "scatter_add_", lambda old: _C.scatter_add(old, operator.index(dim), index, src), (src,))
