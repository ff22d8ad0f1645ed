"""PyTorch's tensor methods: operators with torch's type promotion, comparisons, elementwise
math, casts and in-place ops (reductions: tensor_reduce.py; shapes: tensor_shape.py).

Every method is a thin layer over the C++ ops in ``fastnn._C`` (csrc/ops/tensor_ops.h): it
converts operands (Python numbers, numpy arrays), picks the result dtype as torch does and
calls one op, which records its backward when an input requires grad. Installed on
``fastnn.Tensor`` by ``install()`` (called from fastnn/tensor.py).
"""

from __future__ import annotations

import builtins
import numbers

import numpy as np

from . import _C
from . import dtypes as _dt
from ._devices import check_device
from .snapshot import snapshot

Tensor = _C.Tensor

_FLOATS = ("float32", "float64")
_BIT_OPS = ("bitwise_and", "bitwise_or", "bitwise_xor")


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


_raw_dtype = Tensor.dtype.fget  # the dtype's name, straight from C++
_FLOAT_NAMES = frozenset(_FLOATS)


def _operator(name, swap=False, kind=binary):
    """A binary operator method. The common cases go straight to C++: two tensors of one
    dtype, or a tensor and a Python number that keeps its dtype (float tensors, or integer
    tensors and ints); everything else takes the promotion path."""
    fast = _C.binary if kind is binary else _C.compare
    fast_scalar = _C.binary_scalar if kind is binary else _C.compare_scalar
    is_div = name == "div"

    def method(self, other):
        kind_of = type(other)
        if kind_of is Tensor:
            d = _raw_dtype(self)
            if d == _raw_dtype(other) and (not is_div or d in _FLOAT_NAMES):
                return fast(name, other, self) if swap else fast(name, self, other)
        elif kind_of is float or kind_of is int:
            d = _raw_dtype(self)
            if d in _FLOAT_NAMES or (kind_of is int and d != "bool" and not is_div
                                     and -2 ** 53 <= other <= 2 ** 53):
                return fast_scalar(name, self, other, swap)
        elif not _supported(other):
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


# --- matrix products -------------------------------------------------------------------------

def matmul(a, b):
    """torch.matmul: 1-D operands as vectors, (..., M, K) @ (K, N) as one GEMM, batch dims on
    both sides broadcast and multiplied entry by entry (bmm)."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        return NotImplemented
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: both arguments need at least 1 dimension, got 0-d tensors")
    if a.shape[-1] != b.shape[-2 if b.ndim >= 2 else 0]:
        raise ValueError(f"matmul: inner dimensions differ: {tuple(a.shape)} @ {tuple(b.shape)}")
    if b.ndim == 1:
        return _C.reshape(matmul(a, _C.reshape(b, [b.shape[0], 1])), list(a.shape[:-1]))
    if a.ndim == 1:
        out = matmul(_C.reshape(a, [1, a.shape[0]]), b)
        return _C.reshape(out, list(out.shape[:-2]) + [out.shape[-1]])
    if b.ndim == 2:
        return _C.matmul(a, b)
    batch = _broadcast_shape(a.shape[:-2], b.shape[:-2])
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    count = 1
    for s in batch:
        count *= s
    a3 = _C.reshape(_C.expand(a, list(batch) + [m, k]), [count, m, k])
    b3 = _C.reshape(_C.expand(b, list(batch) + list(b.shape[-2:])), [count, b.shape[-2], n])
    return _C.reshape(_C.bmm(a3, b3), list(batch) + [m, n])


def _broadcast_shape(a, b):
    n = builtins.max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x != y and x != 1 and y != 1:
            raise ValueError(f"matmul: batch dims {a} and {b} cannot be broadcast together")
        out.append(y if x == 1 else x)
    return out


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


# --- in-place ops ---------------------------------------------------------------------------

def inplace(self: Tensor, who: str, compute, others=(), overwrite=False):
    """Runs ``compute(old)`` out of place and writes the result into ``self`` with torch's
    autograd rules (see csrc/ops/inplace.cpp); ``overwrite``: the result does not read the
    old values. Returns self."""
    old = _C.inplace_begin(self, [o for o in others if isinstance(o, Tensor)], who)
    _C.inplace_commit(self, old, compute(old), who, overwrite)
    write_back(self)
    return self


# A selection that is not one range of memory (x[:, 0], x.T) is a copy; it remembers where
# it came from (`_strided_of`: the tensor and the layout), so that an in-place op on it
# (x[:, 0].zero_(), x.T.add_(1)) also writes its new values there, as a torch view would.
# Changes made to the source afterwards do not reach the copy.

def link_strided(copy: Tensor, source: Tensor, shape, strides, offset) -> Tensor:
    copy._strided_of = (source, list(shape), list(strides), offset)
    return copy


def write_strided(base: Tensor, shape, strides, offset, values: Tensor) -> None:
    """base's elements at the layout = values (base's dtype, the layout's shape), in place."""
    old = _C.inplace_begin(base, [values], "setitem")
    if old._same_storage(base):  # nothing to record: write in place
        _C.strided_write_(base, shape, strides, offset, values)
    else:
        _C.inplace_commit(base, old, _C.strided_put(old, shape, strides, offset, values), "setitem")
    write_back(base)


def link_view(view: Tensor, source: Tensor) -> Tensor:
    """``view`` shares ``source``'s memory: if source is such a copy (or a view of one), an
    in-place op on the view must reach source's origin too."""
    if getattr(source, "_strided_of", None) is not None or \
            getattr(source, "_view_parent", None) is not None:
        view._view_parent = source
    return view


def write_back(t: Tensor) -> None:
    parent = getattr(t, "_view_parent", None)
    if parent is not None:  # t's memory is parent's: pass the change on from there
        write_back(parent)
        return
    link = getattr(t, "_strided_of", None)
    if link is not None:
        base, shape, strides, offset = link
        write_strided(base, shape, strides, offset, t)


def _direct(name, self, other) -> bool:
    """Whether self op= other could be written straight into self (nothing recorded, same
    dtype, a Python number that keeps it): then it was."""
    kind_of = type(other)
    d = _raw_dtype(self)
    if kind_of is Tensor:
        ok = _raw_dtype(other) == d
    elif kind_of is float:
        ok = d in _FLOAT_NAMES
    elif kind_of is int:
        ok = d != "bool" and (d in _FLOAT_NAMES or -2 ** 53 <= other <= 2 ** 53)
    else:
        ok = False
    if not ok or (name == "div" and d not in _FLOAT_NAMES) or not _C.binary_(name, self, other):
        return False
    write_back(self)
    return True


def _inplace_binary(name, who):
    def method(self, other, *, alpha=None):
        if alpha is not None and alpha != 1:
            other = binary("mul", other, alpha)
        if _direct(name, self, other):
            return self
        return inplace(self, who, lambda old: binary(name, old, other), (other,))

    method.__name__ = who
    return method


def _inplace_operator(name, who):
    def method(self, other):
        if _direct(name, self, other):
            return self
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
    T.__matmul__ = matmul
    T.__rmatmul__ = lambda a, b: matmul(b, a)
    T.matmul = matmul
    T.bmm = lambda a, b: _C.bmm(a, b)
    T.mm = lambda a, b: _C.matmul(a, b)
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
