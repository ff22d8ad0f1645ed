"""Tensors from Python: construction, operators, indexing and grad mode.

The tensor type itself is ``fastnn._C.Tensor`` (storage, shape, autograd fields in C++);
this module adds the Python protocol on top of it: arithmetic operators with numpy-style
broadcasting, indexing along the first (batch) axis, and PyTorch's method names.
"""

from __future__ import annotations

import contextlib
import numbers
import operator

import numpy as np

from . import _C
from .snapshot import snapshot

Tensor = _C.Tensor

_FLOAT_DTYPES = ("float32", "float64")


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


def zeros(shape, dtype="float32", requires_grad=False) -> Tensor:
    t = _C.full(list(_shape(shape)), 0.0, dtype)
    t.requires_grad = requires_grad
    return t


def ones(shape, dtype="float32", requires_grad=False) -> Tensor:
    t = _C.full(list(_shape(shape)), 1.0, dtype)
    t.requires_grad = requires_grad
    return t


def rand(*shape, dtype="float32", device="cpu") -> Tensor:
    """Uniform in [0, 1) from fastnn's seeded generator (the device's: same seed, same values)."""
    return _C.uniform(list(_shape(shape)), 0.0, 1.0, dtype, _check_device(device))


def randn(*shape, dtype="float32", device="cpu") -> Tensor:
    """Standard normal from fastnn's seeded generator (the device's: same seed, same values)."""
    return _C.normal(list(_shape(shape)), 0.0, 1.0, dtype, _check_device(device))


def _shape(shape):
    if isinstance(shape, (tuple, list)) and len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    # operator.index, not int: a size of 2.5 is an error, not 2.
    if isinstance(shape, (tuple, list)):
        return tuple(operator.index(s) for s in shape)
    return (operator.index(shape),)


def _dtype_name(dtype) -> str:
    return dtype if isinstance(dtype, str) else np.dtype(dtype).name


def _check_device(device) -> str:
    """The device's name ('cpu', 'cuda:N'); ValueError naming what is missing when unusable."""
    name = str(device)
    if name == "cpu":
        return name
    if name != "cuda" and not (name.startswith("cuda:") and name[5:].isdigit()):
        raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got '{name}'")
    from . import cuda

    cuda.require(name)
    return name if ":" in name else "cuda:0"


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


# --- operators -----------------------------------------------------------------------------

def _operand(other, like: Tensor) -> Tensor:
    """The other side of a binary operator, as a tensor of ``like``'s dtype."""
    if isinstance(other, Tensor):
        return other
    if isinstance(other, numbers.Number):
        if like.dtype not in _FLOAT_DTYPES:
            raise TypeError(f"arithmetic on {like.dtype} tensors is not supported (they hold "
                            "labels and indices); convert with .float() first")
        return _C.full([], float(other), like.dtype)
    if isinstance(other, np.ndarray):
        # While gradients are recorded, a copy: the backward pass must see the values the
        # forward saw even if the caller edits the array in between.
        return snapshot(other, like.dtype) if _C.is_grad_enabled() else _C.from_numpy(
            other, like.dtype)
    return NotImplemented


def _binary(op, swap=False):
    def method(self, other):
        other = _operand(other, self)
        if other is NotImplemented:
            return NotImplemented
        return op(other, self) if swap else op(self, other)

    return method


def _getitem(self: Tensor, key):
    """Indexing along the first axis: t[i], t[a:b], t[index_array]."""
    if isinstance(key, tuple):
        if len(key) == 1:
            key = key[0]
        else:
            raise TypeError("fastnn tensors index along the first axis only, got a tuple "
                            f"{key!r}; reshape or use numpy for other axes")
    n = self.shape[0] if self.ndim else 0
    if self.ndim == 0:
        raise IndexError("cannot index a 0-d tensor; use .item()")
    if isinstance(key, (bool, np.bool_)):
        raise IndexError("fastnn tensors do not take a boolean scalar as an index; use a "
                         "boolean array of the first axis' length")
    if isinstance(key, (numbers.Integral, np.integer)):
        i = int(key)
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range for a first axis of size {n}")
        i %= n
        return _C.reshape(_C.slice_rows(self, i, i + 1), list(self.shape[1:]))
    if isinstance(key, slice):
        start, stop, step = key.indices(n)
        if step == 1:
            return _C.slice_rows(self, start, max(start, stop))
        key = np.arange(start, stop, step)
    if isinstance(key, Tensor):
        key = np.asarray(key)
    index = np.asarray(key)
    if index.dtype == bool:
        if index.shape != (n,):
            raise IndexError(f"boolean index of shape {index.shape} does not match a first "
                             f"axis of size {n}")
        index = np.nonzero(index)[0]
    if index.dtype.kind not in "iu":
        raise IndexError(f"tensor indices must be integers, slices or integer arrays, got "
                         f"{index.dtype}")
    index = np.where(index < 0, index + n, index).astype(np.int64)
    return _C.take_rows(self, _C.from_numpy(index))


def _item(self: Tensor):
    if self.numel() != 1:
        raise ValueError(f"item(): only one-element tensors can be converted to a Python "
                         f"scalar, got shape {self.shape}")
    value = np.asarray(self).reshape(())
    return value.item()


def _bool(self: Tensor) -> bool:
    """``if t:`` reads the value (as torch does): one element only."""
    if self.numel() != 1:
        raise ValueError(f"the truth value of a tensor with {self.numel()} elements is "
                         "ambiguous; reduce it first (.sum(), .mean(), .item())")
    return bool(_item(self))


def _repr(self: Tensor) -> str:
    body = np.array2string(np.asarray(self), separator=", ", prefix="tensor(")
    extra = f", dtype={self.dtype}" if self.dtype != "float32" else ""
    if self.grad_fn is not None:
        extra += f", grad_fn=<{self.grad_fn}>"
    elif self.requires_grad:
        extra += ", requires_grad=True"
    return f"tensor({body}{extra})"


def _len(self: Tensor) -> int:
    if self.ndim == 0:
        raise TypeError("len() of a 0-d tensor")
    return self.shape[0]


def _array(self: Tensor, dtype=None, copy=None):
    a = self.numpy()
    if dtype is not None:
        a = a.astype(dtype, copy=False)
    return a.copy() if copy else a


def _axes(axis):
    if axis is None:
        return []
    return [int(a) for a in axis] if isinstance(axis, (tuple, list)) else [int(axis)]


def _reshape(self: Tensor, *shape):
    return _C.reshape(self, list(_shape(shape)))


def _requires_grad_(self: Tensor, requires_grad: bool = True) -> Tensor:
    self.requires_grad = requires_grad
    return self


def _to(self: Tensor, target) -> Tensor:
    target = str(target)
    if target in _FLOAT_DTYPES or target in ("int32", "int64"):
        return _C.to_dtype(self, target)
    target = _check_device(target)
    return self if target == self.device else self.to_device(target)


def _clone(self: Tensor) -> Tensor:
    # Differentiable: x * 1 records a node, so the clone stays in the graph.
    return _C.scale(self, 1.0) if self.dtype in _FLOAT_DTYPES else self.clone_data()


def _install():
    T = Tensor
    T.__add__ = _binary(_C.add)
    T.__radd__ = _binary(_C.add, swap=True)
    T.__sub__ = _binary(_C.sub)
    T.__rsub__ = _binary(_C.sub, swap=True)
    T.__mul__ = _binary(_C.mul)
    T.__rmul__ = _binary(_C.mul, swap=True)
    T.__truediv__ = _binary(_C.div)
    T.__rtruediv__ = _binary(_C.div, swap=True)
    T.__matmul__ = lambda a, b: _C.matmul(a, b)
    T.__neg__ = lambda a: _C.scale(a, -1.0)
    T.__pos__ = lambda a: a
    T.__getitem__ = _getitem
    T.__len__ = _len
    T.__repr__ = _repr
    T.__array__ = _array
    T.__bool__ = _bool
    T.__float__ = lambda a: float(_item(a))
    T.__int__ = lambda a: int(_item(a))
    T.item = _item
    T.tolist = lambda a: np.asarray(a).tolist()
    T.size = lambda a, dim=None: a.shape if dim is None else a.shape[dim]
    T.dim = lambda a: a.ndim
    T.reshape = _reshape
    T.view = _reshape
    T.flatten = lambda a: _C.reshape(a, [-1])
    T.sum = lambda a, axis=None, keepdims=False: _C.sum(a, _axes(axis), keepdims)
    T.mean = lambda a, axis=None, keepdims=False: _C.mean(a, _axes(axis), keepdims)
    T.relu = lambda a: _C.activation(a, "relu")
    T.sigmoid = lambda a: _C.activation(a, "sigmoid")
    T.tanh = lambda a: _C.activation(a, "tanh")
    T.softmax = lambda a, axis=-1: _C.softmax(a, axis)
    T.log_softmax = lambda a, axis=-1: _C.log_softmax(a, axis)
    T.requires_grad_ = _requires_grad_
    T.to = _to
    T.float = lambda a: _C.to_dtype(a, "float32")
    T.double = lambda a: _C.to_dtype(a, "float64")
    T.clone = _clone
    T.cpu = lambda a: a if a.device == "cpu" else a.to_device("cpu")
    T.cuda = lambda a, device=0: _to(a, device if isinstance(device, str) else f"cuda:{device}")
    T.__hash__ = object.__hash__
    # numpy arrays and scalars on the left of an operator defer to the tensor's reflected
    # operator (as they do for torch tensors) instead of converting it to an ndarray, which
    # would silently drop it from the graph.
    T.__array_priority__ = 1000


_install()
