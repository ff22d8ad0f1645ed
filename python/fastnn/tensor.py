"""Tensors from Python: construction, grad mode and the Python protocol.

The tensor type itself is ``fastnn._C.Tensor`` (storage, shape, autograd fields in C++).
This module makes tensors (``fn.tensor``, ``fn.zeros(2, 3)``, ``fn.arange``, ...) and adds
the Python protocol (repr, len, iteration, numpy conversion, item); PyTorch's methods and
operators come from tensor_ops.py, indexing from tensor_index.py (installed at the end).
"""

from __future__ import annotations

import contextlib
import math
import numbers
import operator

import numpy as np

from . import _C
from . import dtypes as _dt
from ._devices import check_device as _check_device
from ._devices import device_name

Tensor = _C.Tensor

_FLOAT_DTYPES = ("float32", "float64")
_raw_dtype = Tensor.dtype.fget  # the C++ property: the dtype's name


def tensor(data, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    """A new tensor holding a copy of ``data`` (array-like or tensor).

    ``dtype`` defaults to float32 for float data and int64 for integer data.
    """
    device = _check_device(device)
    if isinstance(data, Tensor):
        data = data.numpy()
    array = np.asarray(data)
    if dtype is None and array.dtype.kind == "f":
        dtype = "float32"
    if device == "cpu":
        return Tensor(array, dtype, requires_grad)
    t = Tensor(array, dtype, False).to_device(device)
    if requires_grad:
        t.requires_grad = True
    return t


def to_host(value) -> np.ndarray:
    """``value``'s values as a numpy array: a device tensor copied to the host, a CPU tensor
    or an array-like viewed where it can be."""
    if isinstance(value, Tensor) and value.device != "cpu":
        return value.numpy()
    return np.asarray(value)


def write_host(t, value) -> None:
    """Writes host values (broadcast to ``t``'s shape, converted to its dtype) into ``t`` in
    place, on any device: weights, optimizer state and generators loaded from arrays."""
    if t.device == "cpu":
        np.asarray(t)[...] = value
        return
    array = np.broadcast_to(np.asarray(value), tuple(t.shape))
    _C.upload_into(np.ascontiguousarray(array, dtype=np.dtype(t.dtype)), t)


def host_copy(t) -> np.ndarray:
    """A numpy array of ``t``'s values that owns its memory: a device tensor's copy to the
    host, a CPU tensor's copy (its numpy view would change with it); arrays are copied too."""
    if isinstance(t, Tensor) and t.device != "cpu":
        return t.numpy()  # already a fresh host copy
    return np.array(t, copy=True)


def as_tensor(data, dtype=None) -> Tensor:
    """``data`` as a tensor without copying where possible.

    A tensor is returned as it is (its dtype must match ``dtype`` when given); a numpy
    array is viewed in place when its layout and dtype allow, else converted.
    """
    if isinstance(data, Tensor):
        if dtype is not None and data.dtype != _dtype_name(dtype):
            raise TypeError(f"expected a {_dtype_name(dtype)} tensor, got {data.dtype}")
        return data
    if isinstance(data, (list, tuple, numbers.Number)) or hasattr(data, "__array__"):
        array = np.asarray(data)
        if dtype is None and array.dtype.kind == "f":
            dtype = "float32"
        return _C.from_numpy(array, dtype)
    raise TypeError(f"expected a fastnn tensor or an array-like, got {type(data).__name__}")


def numeric_array(value, who: str, arg: str, batch_axis: bool = False) -> np.ndarray:
    """``value`` as a numpy array of numbers (bool, int or float), or a clear error naming
    ``who`` and the argument: TypeError for what is not numbers, ValueError for a scalar
    where a batch axis is needed."""
    try:
        array = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - report what came
        raise TypeError(f"{who}: expected {arg} to be an array of numbers, got "
                        f"{type(value).__name__}") from exc
    if array.dtype.kind not in "biuf":
        detail = " (ragged lists or mixed types?)" if array.dtype == object else ""
        raise TypeError(f"{who}: expected {arg} to hold numbers, got an array of dtype "
                        f"{array.dtype}{detail}")
    if batch_axis and array.ndim == 0:
        raise ValueError(f"{who}: expected {arg} with a batch axis, got a scalar")
    return array


def Parameter(data, name: str | None = None, dtype="float32") -> Tensor:
    """A leaf tensor that requires grad: what layers hold and optimizers update."""
    t = tensor(data, dtype=dtype, requires_grad=True)
    if name:
        t.name = name
    return t


def _factory_dtype(dtype, default="float32") -> str:
    return str(_dt.as_dtype(dtype)) if dtype is not None else default


def _finish(t: Tensor, requires_grad: bool) -> Tensor:
    if requires_grad:
        t.requires_grad = True
    return t


def full(size, fill_value, *, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value``; dtype from the value as torch does
    (bool, int64 or float32) unless given."""
    if dtype is None:
        if isinstance(fill_value, (bool, np.bool_)):
            dtype = "bool"
        elif isinstance(fill_value, (numbers.Integral, np.integer)):
            dtype = "int64"
    return _finish(_C.full(list(_shape(size)), float(fill_value), _factory_dtype(dtype),
                           _check_device(device)), requires_grad)


def zeros(*size, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    """zeros(2, 3) or zeros((2, 3)); float32 unless ``dtype`` says otherwise."""
    return _finish(_C.full(list(_shape(size)), 0.0, _factory_dtype(dtype), _check_device(device)),
                   requires_grad)


def ones(*size, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    return _finish(_C.full(list(_shape(size)), 1.0, _factory_dtype(dtype), _check_device(device)),
                   requires_grad)


empty = zeros  # fastnn always initialises memory


def _like(t, dtype, device):
    return (str(_dt.as_dtype(dtype)) if dtype is not None else str(t.dtype),
            _check_device(device if device is not None else t.device))


def zeros_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:  # noqa: A002
    d, dev = _like(input, dtype, device)
    return _finish(_C.full(list(input.shape), 0.0, d, dev), requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:  # noqa: A002
    d, dev = _like(input, dtype, device)
    return _finish(_C.full(list(input.shape), 1.0, d, dev), requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:  # noqa: A002
    d, dev = _like(input, dtype, device)
    return _finish(_C.full(list(input.shape), float(fill_value), d, dev), requires_grad)


empty_like = zeros_like


def rand(*size, dtype=None, device="cpu", requires_grad=False, generator=None) -> Tensor:
    """Uniform in [0, 1) from fastnn's seeded generator (the device's: same seed, same values)."""
    return _finish(_C.uniform(list(_shape(size)), 0.0, 1.0, _factory_dtype(dtype),
                              _check_device(device)), requires_grad)


def randn(*size, dtype=None, device="cpu", requires_grad=False, generator=None) -> Tensor:
    """Standard normal from fastnn's seeded generator (the device's: same seed, same values)."""
    return _finish(_C.normal(list(_shape(size)), 0.0, 1.0, _factory_dtype(dtype),
                             _check_device(device)), requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:  # noqa: A002
    d, dev = _like(input, dtype, device)
    return _finish(_C.uniform(list(input.shape), 0.0, 1.0, d, dev), requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:  # noqa: A002
    d, dev = _like(input, dtype, device)
    return _finish(_C.normal(list(input.shape), 0.0, 1.0, d, dev), requires_grad)


def randint(*args, size=None, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    """randint(high, size) or randint(low, high, size): integers in [low, high) (int64),
    from fastnn's generator."""
    if size is None:
        if not args:
            raise TypeError("randint: expected (high, size) or (low, high, size)")
        *args, size = args
    if len(args) == 1:
        low, high = 0, args[0]
    elif len(args) == 2:
        low, high = args
    else:
        raise TypeError("randint: expected (high, size) or (low, high, size)")
    low, high = operator.index(low), operator.index(high)
    if high <= low:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    u = _C.uniform(list(_shape(size)), 0.0, 1.0, "float64", _check_device(device))
    # floor(low + u * (high - low)) in double: u < 1, so the result stays below high.
    values = _C.unary("floor", _C.scale(u, float(high - low)) + float(low))
    return _finish(_C.to_dtype(values, _factory_dtype(dtype, "int64")), requires_grad)


def arange(start=0, end=None, step=1, *, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    """torch.arange: [start, end) by step; int64 when all three are integers, else float32."""
    if end is None:
        start, end = 0, start
    values = (start, end, step)
    if dtype is None:
        integral = all(isinstance(v, (numbers.Integral, np.integer)) for v in values)
        dtype = "int64" if integral else "float32"
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    n = math.ceil((float(end) - float(start)) / float(step))
    return _finish(_C.arange(max(n, 0), float(start), float(step), _factory_dtype(dtype),
                             _check_device(device)), requires_grad)


def linspace(start, end, steps, *, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    steps = operator.index(steps)
    step = (float(end) - float(start)) / (steps - 1) if steps > 1 else 0.0
    return _finish(_C.arange(steps, float(start), step, _factory_dtype(dtype),
                             _check_device(device)), requires_grad)


def eye(n, m=None, *, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    t = _C.Tensor(np.eye(n, n if m is None else m), _factory_dtype(dtype), False)
    t = t if device == "cpu" else t.to_device(_check_device(device))
    return _finish(t, requires_grad)


def from_numpy(array) -> Tensor:
    """A tensor over the array's memory (changes to one show in the other), of its dtype."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy array, got {type(array).__name__}")
    return _C.from_numpy(array, None)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


class Size(tuple):
    """torch.Size: a shape tuple with numel()."""

    def numel(self) -> int:
        return math.prod(self)

    def __repr__(self) -> str:
        return f"fastnn.Size({list(self)})"


class device(str):  # noqa: N801 - torch's name
    """torch.device: ``fn.device("cuda" if fn.cuda.is_available() else "cpu")``, a device's
    name ('cpu', 'cuda:0') that ``.to()`` takes."""

    def __new__(cls, type_or_name, index=None):
        name = str(type_or_name)
        if index is not None:
            name = f"{name}:{int(index)}"
        return super().__new__(cls, device_name(name))

    @property
    def type(self) -> str:
        return self.split(":")[0]

    @property
    def index(self):
        return int(self.split(":")[1]) if ":" in self else None

    def __repr__(self) -> str:
        return f"device(type='{self.type}'" + (f", index={self.index})" if ":" in self else ")")


def _shape(shape):
    if isinstance(shape, (tuple, list)) and len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    # operator.index, not int: a size of 2.5 is an error, not 2.
    if isinstance(shape, (tuple, list)):
        return tuple(operator.index(s) for s in shape)
    return (operator.index(shape),)


def _dtype_name(dtype) -> str:
    return str(_dt.as_dtype(dtype))


# --- grad mode ---------------------------------------------------------------------------

class set_grad_enabled(contextlib.ContextDecorator):
    """Context manager (and decorator) that turns recording of the graph on or off."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.prev = _C.is_grad_enabled()
        _C.set_grad_enabled(self.mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _C.set_grad_enabled(self.prev)
        return False


class no_grad(contextlib.ContextDecorator):
    """Ops inside record nothing and results do not require grad."""

    def __enter__(self):
        self.prev = _C.is_grad_enabled()
        _C.set_grad_enabled(False)
        return self

    def __exit__(self, *exc):
        _C.set_grad_enabled(self.prev)
        return False


class enable_grad(contextlib.ContextDecorator):
    def __enter__(self):
        self.prev = _C.is_grad_enabled()
        _C.set_grad_enabled(True)
        return self

    def __exit__(self, *exc):
        _C.set_grad_enabled(self.prev)
        return False


def is_grad_enabled() -> bool:
    return _C.is_grad_enabled()


# --- the Python protocol ----------------------------------------------------------------

def _item(self: Tensor):
    if self.numel() != 1:
        raise ValueError(f"item(): only one-element tensors can be converted to a Python "
                         f"scalar, got shape {self.shape}")
    # numpy() copies a device tensor to the host (np.asarray would refuse it).
    return _raw_numpy(self).reshape(()).item()


def _bool(self: Tensor) -> bool:
    """``if t:`` reads the value (as torch does): one element only."""
    if self.numel() != 1:
        raise ValueError(f"the truth value of a tensor with {self.numel()} elements is "
                         "ambiguous; reduce it first (.sum(), .mean(), .item())")
    return bool(_item(self))


def _repr(self: Tensor) -> str:
    body = np.array2string(to_host(self), separator=", ", prefix="tensor(")
    extra = f", dtype={self.dtype}" if self.dtype not in ("float32", "bool") else ""
    if self.device != "cpu":
        extra += f", device='{self.device}'"
    if self.grad_fn is not None:
        extra += f", grad_fn=<{self.grad_fn}>"
    elif self.requires_grad:
        extra += ", requires_grad=True"
    return f"tensor({body}{extra})"


def _len(self: Tensor) -> int:
    if self.ndim == 0:
        raise TypeError("len() of a 0-d tensor")
    return self.shape[0]


def _iter(self: Tensor):
    if self.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    return (self[i] for i in range(self.shape[0]))


def _array(self: Tensor, dtype=None, copy=None):
    if self.device != "cpu":  # PyTorch's rule: a copy to the host is asked for by name
        raise TypeError(f"can't convert {self.device} tensor to numpy: use .numpy() or .cpu(), "
                        "which copy it to host memory first")
    a = self.numpy()
    if dtype is not None:
        a = a.astype(dtype, copy=False)
    return a.copy() if copy else a


def _index(self: Tensor) -> int:
    """A one-element integer tensor as a list index (torch's __index__)."""
    if self.dtype not in ("int32", "int64", "bool") or self.numel() != 1:
        raise TypeError("only integer tensors of a single element can be converted to an index")
    return int(_item(self))


def _format(self: Tensor, spec: str) -> str:
    if self.numel() == 1 and spec:
        return format(_item(self), spec)
    return format(_repr(self), spec)


def _axes(axis):
    if axis is None:
        return []
    return [int(a) for a in axis] if isinstance(axis, (tuple, list)) else [int(axis)]


def _requires_grad_(self: Tensor, requires_grad: bool = True) -> Tensor:
    self.requires_grad = requires_grad
    return self


def _size(self: Tensor, dim=None):
    if dim is None:
        return Size(self.shape)
    n = self.ndim
    d = operator.index(dim)
    if not -n <= d < n:
        raise IndexError(f"size: dim {d} is out of range for a tensor with {n} dimensions")
    return self.shape[d]


def _numpy(self: Tensor, force: bool = False):
    return _raw_numpy(self)


def _softmax(op, x: Tensor, dim) -> Tensor:
    """(log_)softmax along any dim: the kernel's is the last, so another dim is swapped there
    and back (two copies)."""
    n = x.ndim
    d = operator.index(dim)
    if not -max(n, 1) <= d < max(n, 1):
        raise IndexError(f"softmax: dim {d} is out of range for a tensor with {n} dimensions")
    d %= max(n, 1)
    if n == 0 or d == n - 1:
        return op(x, -1)
    return op(x.transpose(d, -1), -1).transpose(d, -1)


def _install():
    from . import tensor_index, tensor_ops, tensor_reduce, tensor_shape

    T = Tensor
    tensor_ops.install(T)
    tensor_reduce.install(T)
    tensor_shape.install(T)
    tensor_index.install(T)
    T.dtype = property(lambda t: _dt.DTYPES[_raw_dtype(t)], doc="The element type (fn.float32, ...).")
    T.__len__ = _len
    T.__iter__ = _iter
    T.__repr__ = _repr
    T.__array__ = _array
    T.__bool__ = _bool
    T.__float__ = lambda a: float(_item(a))
    T.__int__ = lambda a: int(_item(a))
    T.__index__ = _index
    T.__format__ = _format
    T.item = _item
    T.tolist = lambda a: _raw_numpy(a).tolist()
    T.numpy = _numpy
    T.size = _size
    T.dim = T.ndimension = lambda a: a.ndim
    T.nelement = T.numel
    T.element_size = lambda a: _dt.DTYPES[_raw_dtype(a)].itemsize
    T.is_cuda = property(lambda a: a.device != "cpu")
    T.relu = lambda a: _C.activation(a, "relu")
    T.sigmoid = lambda a: _C.activation(a, "sigmoid")
    T.tanh = lambda a: _C.activation(a, "tanh")
    T.softmax = lambda a, dim=-1, axis=None: _softmax(_C.softmax, a, dim if axis is None else axis)
    T.log_softmax = lambda a, dim=-1, axis=None: _softmax(_C.log_softmax, a,
                                                          dim if axis is None else axis)
    T.requires_grad_ = _requires_grad_
    T.cpu = lambda a: a if a.device == "cpu" else a.to_device("cpu")
    T.cuda = lambda a, device=0: a.to(device if isinstance(device, str) else f"cuda:{device}")
    T.new_zeros = lambda a, *size, dtype=None, device=None, requires_grad=False: zeros(
        *size, dtype=dtype or a.dtype, device=device or a.device, requires_grad=requires_grad)
    T.new_ones = lambda a, *size, dtype=None, device=None, requires_grad=False: ones(
        *size, dtype=dtype or a.dtype, device=device or a.device, requires_grad=requires_grad)
    T.new_full = lambda a, size, fill_value, dtype=None, device=None, requires_grad=False: full(
        size, fill_value, dtype=dtype or a.dtype, device=device or a.device,
        requires_grad=requires_grad)
    T.new_tensor = lambda a, data, dtype=None, device=None, requires_grad=False: tensor(
        data, dtype=dtype or a.dtype, device=device or a.device, requires_grad=requires_grad)
    # numpy arrays and scalars on the left of an operator defer to the tensor's reflected
    # operator (as they do for torch tensors) instead of converting it to an ndarray, which
    # would silently drop it from the graph.
    T.__array_priority__ = 1000


_raw_numpy = Tensor.numpy
_install()
