"""PyTorch's tensor methods: operators with torch's type promotion, comparisons, elementwise
math, reductions with ``dim``/``keepdim``, shape methods, casts and in-place ops.

Every method is a thin layer over the C++ ops in ``fastnn._C`` (csrc/ops/tensor_ops.h): it
converts operands (Python numbers, numpy arrays), picks the result dtype as torch does and
calls one op, which records its backward when an input requires grad. Installed on
``fastnn.Tensor`` by ``install()`` (called from fastnn/tensor.py).
"""

from __future__ import annotations

import builtins
import collections
import numbers
import operator

import numpy as np

from . import _C
from . import dtypes as _dt
from ._devices import check_device
from .snapshot import snapshot

Tensor = _C.Tensor

_FLOATS = ("float32", "float64")
_BIT_OPS = ("bitwise_and", "bitwise_or", "bitwise_xor")

# torch.return_types.max / min: a named pair (values, indices) that unpacks as a tuple.
MaxResult = collections.namedtuple("max", ["values", "indices"])
MinResult = collections.namedtuple("min", ["values", "indices"])


# --- operands and type promotion -------------------------------------------------------------

def _is_number(x) -> bool:
    return isinstance(x, (numbers.Number, np.bool_)) and not isinstance(x, np.ndarray)


def result_type(*operands) -> _dt.dtype:
    """torch.result_type over tensors and Python numbers: tensors with dims decide within a
    kind (bool < integer < float), 0-d tensors and then numbers only when of a higher kind
    (a Python float gives float32, an int int64). Numpy arrays take the place of numbers
    (they are converted to the tensor's dtype when of its kind, as fastnn always did)."""
    dim_t = zero_t = wrapped = None
    for x in operands:
        if isinstance(x, Tensor):
            d = str(x.dtype)
            if x.ndim:
                dim_t = d if dim_t is None else _dt.promote_types(dim_t, d)
            else:
                zero_t = d if zero_t is None else _dt.promote_types(zero_t, d)
            continue
        if isinstance(x, np.ndarray):
            kind = 0 if x.dtype.kind == "b" else 1 if x.dtype.kind in "iu" else 2
        elif _is_number(x):
            kind = _dt.scalar_category(x)
        else:
            continue
        d = str(_dt.default_for(kind))
        wrapped = d if wrapped is None else _dt.promote_types(wrapped, d)
    return _dt.DTYPES[_combine(dim_t, _combine(zero_t, wrapped))]


def _combine(higher, lower):
    # torch's combine_categories: a higher tier keeps its dtype unless the lower one is of a
    # higher kind.
    if higher is None:
        return lower
    if lower is None:
        return higher
    if _dt.category(higher) == 2:
        return higher
    if higher == "bool" or _dt.category(lower) > _dt.category(higher):
        return str(_dt.promote_types(higher, lower))
    return higher


def _device_of(*operands) -> str:
    for x in operands:
        if isinstance(x, Tensor):
            return x.device
    return "cpu"


def _scalar(value, dtype, device) -> Tensor:
    """A 0-d tensor holding a Python number (exactly, for integers beyond 2^53 too)."""
    if isinstance(value, (builtins.int, np.integer)) and not isinstance(value, (builtins.bool, np.bool_)) \
            and builtins.abs(builtins.int(value)) > 2 ** 53 and dtype == "int64":
        t = _C.from_numpy(np.array(value, dtype=np.int64), "int64")
        return t if device == "cpu" else t.to_device(device)
    return _C.full([], builtins.float(value), str(dtype), device)


def as_operand(x, dtype, device, who="op") -> Tensor:
    """``x`` (a tensor, number, numpy array or list) as a tensor of ``dtype`` on ``device``;
    tensors of another float dtype are converted by a recorded cast (gradients flow)."""
    if isinstance(x, Tensor):
        return x if x.dtype == dtype else _C.to_dtype(x, str(dtype))
    if _is_number(x):
        return _scalar(x, dtype, device)
    if isinstance(x, (np.ndarray, list, tuple)):
        array = np.asarray(x)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{who}: expected numbers, got an array of dtype {array.dtype}")
        # While gradients are recorded, a copy: the backward pass must see the values the
        # forward saw even if the caller edits the array in between.
        t = snapshot(array, str(dtype)) if _C.is_grad_enabled() else _C.from_numpy(array, str(dtype))
        return t if device == "cpu" else t.to_device(device)
    raise TypeError(f"{who}: expected a tensor, a number or an array, got {type(x).__name__}")


def _supported(x) -> bool:
    return isinstance(x, (Tensor, np.ndarray, list, tuple)) or _is_number(x)


def binary(name, a, b):
    """a op b with torch's promotion: div gives floats; bit ops refuse floats."""
    dtype = result_type(a, b)
    if name == "div" and not dtype.is_floating_point:
        dtype = _dt.float32
    elif name in _BIT_OPS and dtype.is_floating_point:
        raise TypeError(f"{name}: not supported for float tensors (bitwise ops take integer and "
                        "bool tensors)")
    elif name == "sub" and dtype == "bool":
        raise TypeError("sub: subtraction of bool tensors is not supported; use ^ or "
                        "logical_xor() instead")
    device = _device_of(a, b)
    return _C.binary(name, as_operand(a, dtype, device, name), as_operand(b, dtype, device, name))


def compare(name, a, b):
    dtype = result_type(a, b)
    device = _device_of(a, b)
    return _C.compare(name, as_operand(a, dtype, device, name), as_operand(b, dtype, device, name))


def _operator(name, swap=False, kind=binary):
    def method(self, other):
        if not _supported(other):
            return NotImplemented
        return kind(name, other, self) if swap else kind(name, self, other)

    method.__name__ = name
    return method


def _float_input(x: Tensor) -> Tensor:
    """Integer and bool inputs of float math become float32 (torch's default dtype)."""
    return x if x.dtype in _FLOATS else _C.to_dtype(x, "float32")


def _unary_float(name):
    def method(self):
        return _C.unary(name, _float_input(self))

    method.__name__ = name
    return method


def _unary(name):
    def method(self):
        return _C.unary(name, self)

    method.__name__ = name
    return method


# --- reductions -------------------------------------------------------------------------------

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


# --- elementwise ------------------------------------------------------------------------------

def t_clamp(self, min=None, max=None):  # noqa: A002 - torch's argument names
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = self
        if min is not None:
            out = binary("maximum", out, min)
        if max is not None:
            out = binary("minimum", out, max)
        return out
    dtype = result_type(self, *(b for b in (min, max) if b is not None))
    x = as_operand(self, dtype, self.device)
    low = None if min is None else builtins.float(min)
    high = None if max is None else builtins.float(max)
    return _C.clamp(x, low, high)


def where(condition, input=None, other=None):  # noqa: A002 - torch's names
    """torch.where(condition, input, other); with the condition alone, its nonzero positions."""
    if not isinstance(condition, Tensor):
        condition = _C.from_numpy(np.asarray(condition), None)
    if input is None and other is None:
        return tuple(_C.from_numpy(np.ascontiguousarray(i, dtype=np.int64), "int64")
                     for i in np.nonzero(condition.numpy()))
    if condition.dtype != "bool":
        raise TypeError(f"where: expected a bool condition, got {condition.dtype}")
    dtype = result_type(input, other)
    device = _device_of(condition, input, other)
    return _C.where(condition, as_operand(input, dtype, device, "where"),
                    as_operand(other, dtype, device, "where"))


def t_masked_fill(self, mask, value):
    if not isinstance(mask, Tensor) or mask.dtype != "bool":
        raise TypeError("masked_fill: expected a bool tensor as the mask, got "
                        f"{getattr(mask, 'dtype', type(mask).__name__)}")
    return _C.where(mask, as_operand(value, self.dtype, self.device, "masked_fill"), self)


# --- casts and conversions --------------------------------------------------------------------

def to_dtype(x: Tensor, dtype) -> Tensor:
    d = _dt.as_dtype(dtype, "to")
    return x if x.dtype == d else _C.to_dtype(x, str(d))


def t_to(self, *args, **kwargs):
    """to(dtype), to(device), to(device, dtype), to(other_tensor); copy/non_blocking accepted."""
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to: unexpected arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, _dt.dtype) or (isinstance(a, str) and a.lower() in _dt._NAMES) \
                or a in (builtins.float, builtins.int, builtins.bool) or isinstance(a, (np.dtype, type)):
            dtype = a
        elif a is None:
            continue
        else:
            device = a
    out = self
    if device is not None:
        target = check_device(device)
        if target != out.device:
            out = out.to_device(target)
    if dtype is not None:
        out = to_dtype(out, dtype)
    if copy and out is self:
        out = t_clone(self)
    return out


def t_clone(self):
    # Differentiable: x * 1 records a node, so the clone stays in the graph.
    return _C.scale(self, 1.0) if self.dtype in _FLOATS else self.clone_data()


def t_type(self, dtype=None):
    if dtype is None:
        return f"fastnn.{self.dtype}"
    return to_dtype(self, dtype)


# --- shape ------------------------------------------------------------------------------------

def sizes(args, who="view"):
    """A shape from varargs ints or a single tuple/list (torch accepts both)."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    try:
        return [operator.index(s) for s in args]
    except TypeError:
        raise TypeError(f"{who}: expected sizes as ints, got {args!r}") from None


def _dim(d, ndim, who):
    d = operator.index(d)
    if not -ndim <= d < builtins.max(ndim, 1):
        raise IndexError(f"{who}: dim {d} is out of range for a tensor with {ndim} dimensions")
    return d % builtins.max(ndim, 1)


def t_view(self, *shape):
    if len(shape) == 1 and (isinstance(shape[0], _dt.dtype) or isinstance(shape[0], str)):
        raise TypeError("view(dtype) (reinterpreting memory) is not supported; use .to(dtype)")
    return _C.reshape(self, sizes(shape))


def t_unsqueeze(self, dim):
    d = operator.index(dim)
    n = self.ndim
    if not -n - 1 <= d <= n:
        raise IndexError(f"unsqueeze: dim {d} is out of range for a tensor with {n} dimensions "
                         f"(expected in [{-n - 1}, {n}])")
    d %= n + 1
    shape = list(self.shape)
    shape.insert(d, 1)
    return _C.reshape(self, shape)


def t_squeeze(self, dim=None):
    shape = list(self.shape)
    if dim is None:
        drop = {i for i, s in enumerate(shape) if s == 1}
    else:
        drop = {_dim(d, self.ndim, "squeeze") for d in _dims(dim, "squeeze")}
        drop = {d for d in drop if self.ndim and shape[d] == 1}
    return _C.reshape(self, [s for i, s in enumerate(shape) if i not in drop])


def t_flatten(self, start_dim=0, end_dim=-1):
    if self.ndim == 0:
        return _C.reshape(self, [1])
    s = _dim(start_dim, self.ndim, "flatten")
    e = _dim(end_dim, self.ndim, "flatten")
    if s > e:
        raise ValueError("flatten: start_dim cannot come after end_dim")
    shape = list(self.shape)
    inner = 1
    for v in shape[s:e + 1]:
        inner *= v
    return _C.reshape(self, shape[:s] + [inner] + shape[e + 1:])


def t_unflatten(self, dim, sizes_):
    d = _dim(dim, self.ndim, "unflatten")
    shape = list(self.shape)
    return _C.reshape(self, shape[:d] + list(sizes_) + shape[d + 1:])


def t_permute(self, *dims):
    return _C.permute(self, sizes(dims, "permute"))


def t_transpose(self, dim0, dim1):
    n = self.ndim
    if n == 0:
        return self
    a, b = _dim(dim0, n, "transpose"), _dim(dim1, n, "transpose")
    perm = list(range(n))
    perm[a], perm[b] = perm[b], perm[a]
    return _C.permute(self, perm)


def t_t(self):
    if self.ndim > 2:
        raise ValueError(f"t() expects a tensor with <= 2 dimensions, got {self.ndim}; use "
                         "transpose(dim0, dim1)")
    return t_transpose(self, 0, 1) if self.ndim == 2 else self


def t_T(self):  # noqa: N802 - torch's name
    return _C.permute(self, list(range(self.ndim))[::-1]) if self.ndim > 1 else self


def t_mT(self):  # noqa: N802
    return t_transpose(self, -2, -1)


def t_expand(self, *shape):
    return _C.expand(self, sizes(shape, "expand"))


def t_repeat(self, *reps):
    reps = sizes(reps, "repeat")
    if len(reps) < self.ndim:
        raise ValueError("repeat: the number of repeats can not be smaller than the tensor's "
                         "dimensions")
    shape = [1] * (len(reps) - self.ndim) + list(self.shape)
    # (a, b) repeated (r, s): view (1, a, 1, b), expand to (r, a, s, b), merge pairs.
    inter, target, final = [], [], []
    for r, s in zip(reps, shape):
        inter += [1, s]
        target += [r, s]
        final.append(r * s)
    return _C.reshape(_C.expand(_C.reshape(self, inter), target), final)


def t_flip(self, *dims):
    dims = {_dim(d, self.ndim, "flip") for d in sizes(dims, "flip")}
    strides = contiguous_strides(self.shape)
    offset = 0
    out_strides = []
    for i, (n, st) in enumerate(zip(self.shape, strides)):
        if i in dims and n > 0:
            offset += (n - 1) * st
            out_strides.append(-st)
        else:
            out_strides.append(st)
    return _C.strided(self, list(self.shape), out_strides, offset)


def contiguous_strides(shape):
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return strides[::-1]


def t_narrow(self, dim, start, length):
    d = _dim(dim, self.ndim, "narrow")
    key = [slice(None)] * d + [slice(start, start + length)]
    return self[tuple(key)]


def t_split(self, split_size_or_sections, dim=0):
    d = _dim(dim, self.ndim, "split")
    n = self.shape[d]
    if isinstance(split_size_or_sections, numbers.Integral):
        size = builtins.int(split_size_or_sections)
        bounds = list(range(0, n, size)) if n else [0]
        lengths = [builtins.min(size, n - b) for b in bounds]
    else:
        lengths = [builtins.int(s) for s in split_size_or_sections]
        if builtins.sum(lengths) != n:
            raise ValueError(f"split: sections {lengths} do not add up to the dim's size {n}")
    out, at = [], 0
    for length in lengths:
        out.append(t_narrow(self, d, at, length))
        at += length
    return tuple(out)


def t_chunk(self, chunks, dim=0):
    d = _dim(dim, self.ndim, "chunk")
    n = self.shape[d]
    size = -(-n // builtins.int(chunks)) if n else 1
    return t_split(self, builtins.max(size, 1), d)


def t_unbind(self, dim=0):
    d = _dim(dim, self.ndim, "unbind")
    return tuple(self[(slice(None),) * d + (i,)] for i in range(self.shape[d]))


# --- in-place ops ---------------------------------------------------------------------------

def inplace(self: Tensor, who: str, compute, others=(), overwrite=False):
    """Runs ``compute(old)`` out of place and writes the result into ``self`` with torch's
    autograd rules (see csrc/ops/inplace.cpp); ``overwrite``: the result does not read the
    old values. Returns self."""
    old = _C.inplace_begin(self, [o for o in others if isinstance(o, Tensor)], who)
    _C.inplace_commit(self, old, compute(old), who, overwrite)
    return self


def _inplace_binary(name, who):
    def method(self, other, *, alpha=None):
        if alpha is not None and alpha != 1:
            other = binary("mul", other, alpha)
        return inplace(self, who, lambda old: binary(name, old, other), (other,))

    method.__name__ = who
    return method


def _inplace_operator(name, who):
    def method(self, other):
        if not _supported(other):
            return NotImplemented
        return inplace(self, who, lambda old: binary(name, old, other), (other,))

    method.__name__ = who
    return method


def t_zero_(self):
    return inplace(self, "zero_", lambda old: _C.full(list(self.shape), 0.0, str(self.dtype),
                                                      self.device), overwrite=True)


def t_fill_(self, value):
    if isinstance(value, Tensor):
        if value.ndim:
            raise ValueError(f"fill_: expected a 0-d tensor or a number, got shape {value.shape}")
        return inplace(self, "fill_",
                       lambda old: _C.expand(to_dtype(value, self.dtype), list(self.shape)),
                       (value,), overwrite=True)
    return inplace(self, "fill_", lambda old: _scalar_full(self, value), overwrite=True)


def _scalar_full(self, value):
    if self.dtype not in _FLOATS and isinstance(value, numbers.Real) and value != builtins.int(value):
        raise TypeError(f"fill_: cannot fill a {self.dtype} tensor with {value!r}")
    return _C.full(list(self.shape), builtins.float(value), str(self.dtype), self.device)


def t_copy_(self, src, non_blocking=False):
    src = src if isinstance(src, Tensor) else as_operand(src, self.dtype, self.device, "copy_")
    if src.device != self.device:
        src = src.to_device(self.device)
    # copy_ converts any dtype into self's (torch's rule), floats to integers included.
    if src.dtype != self.dtype:
        src = _C.to_dtype(src, str(self.dtype))
    return inplace(self, "copy_", lambda old: _C.expand(src, list(self.shape)), (src,),
                   overwrite=True)


def t_clamp_(self, min=None, max=None):  # noqa: A002
    return inplace(self, "clamp_", lambda old: t_clamp(old, min, max), (min, max))


def t_masked_fill_(self, mask, value):
    return inplace(self, "masked_fill_", lambda old: t_masked_fill(old, mask, value), (value,))


def _inplace_unary(name, float_only=True):
    def method(self):
        return inplace(self, name + "_", lambda old: _C.unary(name, old))

    method.__name__ = name + "_"
    return method


# --- installation -----------------------------------------------------------------------------

_COMPARISONS = {"eq": "__eq__", "ne": "__ne__", "lt": "__lt__", "le": "__le__", "gt": "__gt__",
                "ge": "__ge__"}
_REFLECTED = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}


def install(T) -> None:
    for name, dunder in (("add", "add"), ("sub", "sub"), ("mul", "mul"), ("div", "truediv"),
                         ("floor_divide", "floordiv"), ("remainder", "mod"), ("pow", "pow"),
                         ("bitwise_and", "and"), ("bitwise_or", "or"), ("bitwise_xor", "xor")):
        setattr(T, f"__{dunder}__", _operator(name))
        setattr(T, f"__r{dunder}__", _operator(name, swap=True))
        setattr(T, f"__i{dunder}__", _inplace_operator(name, f"__i{dunder}__"))
    for name, dunder in _COMPARISONS.items():
        setattr(T, dunder, _operator(name, kind=compare))
        setattr(T, name, _operator(name, kind=compare))
    T.greater, T.less, T.greater_equal, T.less_equal = T.gt, T.lt, T.ge, T.le
    T.not_equal = T.ne
    T.__neg__ = lambda a: _C.scale(a, -1.0) if a.dtype in _FLOATS else _C.unary("neg", a)
    T.__pos__ = lambda a: a
    T.__abs__ = _unary("abs")
    T.__invert__ = _unary("bitwise_not")
    T.__hash__ = object.__hash__

    for name in ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "floor_divide",
                 "remainder", "bitwise_and", "bitwise_or", "bitwise_xor"):
        setattr(T, name, _operator(name))
    T.add = lambda self, other, *, alpha=None: binary(
        "add", self, other if alpha in (None, 1) else binary("mul", other, alpha))
    T.sub = lambda self, other, *, alpha=None: binary(
        "sub", self, other if alpha in (None, 1) else binary("mul", other, alpha))
    T.subtract, T.multiply, T.divide, T.true_divide = T.sub, T.mul, T.div, T.div
    T.logical_not = lambda a: _C.unary("bitwise_not", to_dtype(a, "bool"))
    T.logical_and = lambda a, b: binary("bitwise_and", to_dtype(a, "bool"), to_dtype(b, "bool"))
    T.logical_or = lambda a, b: binary("bitwise_or", to_dtype(a, "bool"), to_dtype(b, "bool"))
    T.logical_xor = lambda a, b: binary("bitwise_xor", to_dtype(a, "bool"), to_dtype(b, "bool"))
    T.bitwise_not = _unary("bitwise_not")

    for name in ("exp", "log", "log2", "log10", "log1p", "expm1", "sqrt", "rsqrt", "reciprocal",
                 "sin", "cos"):
        setattr(T, name, _unary_float(name))
        setattr(T, name + "_", _inplace_unary(name))
    for name in ("abs", "neg", "sign", "floor", "ceil", "round", "trunc", "square"):
        setattr(T, name, _unary(name) if name != "square" else _square)
    T.negative = T.neg
    T.absolute = T.abs
    T.abs_ = _inplace_unary("abs")
    T.neg_ = _inplace_unary("neg")
    T.clamp = T.clip = t_clamp
    T.clamp_min = lambda self, min: t_clamp(self, min=min)  # noqa: A002
    T.clamp_max = lambda self, max: t_clamp(self, max=max)  # noqa: A002
    T.where = lambda self, condition, other: where(condition, self, other)
    T.masked_fill = t_masked_fill
    T.isnan = lambda a: compare("ne", a, a)
    T.isinf = lambda a: compare("eq", _C.unary("abs", _float_input(a)), float("inf"))
    T.isfinite = lambda a: _C.unary("bitwise_not", binary("bitwise_or", T.isnan(a), T.isinf(a)))

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

    T.float = lambda a: to_dtype(a, "float32")
    T.double = lambda a: to_dtype(a, "float64")
    T.long = lambda a: to_dtype(a, "int64")
    T.int = lambda a: to_dtype(a, "int32")
    T.bool = lambda a: to_dtype(a, "bool")
    T.half = T.bfloat16 = _no_half
    T.to = t_to
    T.type = t_type
    T.type_as = lambda self, other: to_dtype(self, other.dtype)
    T.clone = t_clone
    T.is_floating_point = lambda a: a.dtype in _FLOATS

    T.view = t_view
    T.reshape = lambda self, *shape: _C.reshape(self, sizes(shape, "reshape"))
    T.view_as = lambda self, other: _C.reshape(self, list(other.shape))
    T.reshape_as = T.view_as
    T.unsqueeze = t_unsqueeze
    T.squeeze = t_squeeze
    T.flatten = t_flatten
    T.ravel = lambda self: t_flatten(self)
    T.unflatten = t_unflatten
    T.permute = t_permute
    T.transpose = T.swapaxes = T.swapdims = t_transpose
    T.t = t_t
    T.T = property(t_T)
    T.mT = property(t_mT)
    T.expand = t_expand
    T.expand_as = lambda self, other: _C.expand(self, list(other.shape))
    T.broadcast_to = lambda self, shape: _C.expand(self, sizes((shape,), "broadcast_to"))
    T.repeat = t_repeat
    T.flip = t_flip
    T.narrow = t_narrow
    T.split = t_split
    T.chunk = t_chunk
    T.unbind = t_unbind
    T.contiguous = lambda self, memory_format=None: self
    T.is_contiguous = lambda self, memory_format=None: True

    T.add_ = _inplace_binary("add", "add_")
    T.sub_ = _inplace_binary("sub", "sub_")
    T.mul_ = _inplace_binary("mul", "mul_")
    T.div_ = _inplace_binary("div", "div_")
    T.pow_ = _inplace_binary("pow", "pow_")
    T.zero_ = t_zero_
    T.fill_ = t_fill_
    T.copy_ = t_copy_
    T.clamp_ = T.clip_ = t_clamp_
    T.masked_fill_ = t_masked_fill_


def _square(self):
    return _C.unary("square", self) if self.dtype in _FLOATS else binary("mul", self, self)


def _no_half(self):
    raise TypeError("half precision is not supported by fastnn (float32 and float64 are)")
