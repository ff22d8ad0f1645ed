"""Tensor indexing with PyTorch's (numpy's) rules: ints, slices with steps, ``None``,
``...``, boolean masks and integer index arrays or tensors, in any combination.

Basic keys (ints, slices, None, ...) select a strided layout computed here: when it is one
contiguous range of memory (``x[i]``, ``x[a:b]``, ``x[i, j:k]``) the result is a view that
shares memory, as in torch; otherwise (``x[:, 0]``, ``x[::2]``) a copy made by one strided
gather (every fastnn tensor is contiguous). Keys with arrays or masks become flat element
positions (numpy computes them on the host: a mask's count decides the result's size) and
one gather. Gradients go back to the selected positions, repeated ones adding up.

Assignment (``t[mask] = 0``, ``t[:, 0] = x``) writes into the tensor itself, as an in-place
op with torch's autograd rules (csrc/ops/inplace.cpp).
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _C
from .tensor_ops import (as_operand, link_strided, link_view, to_dtype, write_back,
                         write_strided)
from .tensor_shape import contiguous_strides

Tensor = _C.Tensor


def _is_int(k) -> bool:
    return isinstance(k, (numbers.Integral, np.integer)) and not isinstance(k, (bool, np.bool_))


def _normalize(key) -> tuple:
    if not isinstance(key, tuple):
        key = (key,)
    out = []
    for k in key:
        # A 0-d integer tensor indexes like an int (its value is read on the host).
        if isinstance(k, Tensor) and k.ndim == 0 and k.dtype in ("int32", "int64"):
            k = k.item()
        out.append(k)
    return tuple(out)


def _is_basic(key: tuple) -> bool:
    return all(k is None or k is Ellipsis or isinstance(k, slice) or _is_int(k) for k in key)


def _expand_ellipsis(key: tuple, ndim: int, consumes) -> tuple:
    ellipses = [i for i, k in enumerate(key) if k is Ellipsis]
    if len(ellipses) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(consumes(k) for k in key if k is not Ellipsis)
    if used and ndim == 0:
        raise IndexError("invalid index of a 0-d tensor; use .item() to read its value")
    if used > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim} (got {used})")
    fill = (slice(None),) * (ndim - used)
    if ellipses:
        i = ellipses[0]
        return key[:i] + fill + key[i + 1:]
    return key + fill


def basic_layout(shape, key: tuple):
    """(shape, strides, offset) in elements of the selection a basic key makes."""
    ndim = len(shape)
    key = _expand_ellipsis(key, ndim, lambda k: k is not None)
    strides = contiguous_strides(shape)
    out_shape, out_strides, offset, d = [], [], 0, 0
    for k in key:
        if k is None:
            out_shape.append(1)
            out_strides.append(0)
            continue
        n = shape[d]
        if isinstance(k, slice):
            start, stop, step = k.indices(n)
            length = len(range(start, stop, step))
            if length:
                offset += start * strides[d]
            out_shape.append(length)
            out_strides.append(step * strides[d])
        else:
            i = int(k)
            if ndim == 0:
                raise IndexError("invalid index of a 0-d tensor; use .item() to read its value")
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of range for dim {d} of size {n}")
            offset += (i % n) * strides[d]
        d += 1
    return out_shape, out_strides, offset


def _is_range(shape, strides) -> bool:
    """Whether a layout covers one contiguous range in row-major order."""
    expected = 1
    for n, s in zip(reversed(shape), reversed(strides)):
        if n == 0:
            return True
        if n == 1:
            continue
        if s != expected:
            return False
        expected *= n
    return True


def _numpy_key(k):
    if isinstance(k, Tensor):
        if k.dtype not in ("int32", "int64", "bool"):
            raise IndexError(f"tensors used as indices must be int64, int32 or bool tensors, "
                             f"got {k.dtype}")
        return k.numpy()
    if isinstance(k, (list, tuple)):
        return np.asarray([_numpy_key(v) if isinstance(v, Tensor) else v for v in k])
    return k


def flat_index(shape, key: tuple) -> np.ndarray:
    """The flat positions (int64, the result's shape) that `key` selects, by numpy's rules:
    each dim's positions times its stride, broadcast to the tensor's shape (a view, no
    copy), indexed by the key and added up."""
    np_key = tuple(_numpy_key(k) for k in key)
    ndim = len(shape)
    if ndim == 0:
        return np.zeros((), np.int64)[np_key]
    strides = contiguous_strides(shape)
    total = None
    for d in range(ndim):
        grid = (np.arange(shape[d], dtype=np.int64) * strides[d]).reshape(
            [-1 if i == d else 1 for i in range(ndim)])
        try:
            part = np.broadcast_to(grid, shape)[np_key]
        except IndexError as exc:
            raise IndexError(f"index: {str(exc).replace('out of bounds', 'out of range')}") from None
        except (TypeError, ValueError) as exc:
            raise IndexError(f"index: unsupported key {key!r}: {exc}") from None
        total = part if total is None else total + part
    return np.ascontiguousarray(total, dtype=np.int64)


def _index_tensor(positions: np.ndarray, device: str) -> Tensor:
    t = _C.from_numpy(positions, "int64")
    return t if device == "cpu" else t.to_device(device)


def getitem(self: Tensor, key):
    kind = type(key)
    if kind is int and -2 ** 63 <= key < 2 ** 63:  # the common cases first: x[i] and x[a:b]
        return link_view(_C.select(self, key), self)  # are views of rows
    if kind is slice and key.step is None and self.ndim:
        start, stop, _ = key.indices(self.shape[0])
        return link_view(_C.slice_rows(self, start, max(start, stop)), self)
    key = _normalize(key)
    if _is_basic(key):
        shape, strides, offset = basic_layout(self.shape, key)
        if _is_range(shape, strides):
            return link_view(_C.view_range(self, offset, shape), self)
        return link_strided(_C.strided(self, shape, strides, offset), self, shape, strides, offset)
    positions = flat_index(self.shape, key)
    return _C.take_flat(self, _index_tensor(positions, self.device))


def _values(self: Tensor, value, shape) -> Tensor:
    """``value`` as a tensor of self's dtype, broadcast to the selection's shape."""
    v = as_operand(value, self.dtype, self.device, "setitem") if not isinstance(value, Tensor) \
        else to_dtype(value, self.dtype)
    if v.device != self.device:
        v = v.to_device(self.device)
    while v.ndim > len(shape) and v.shape[0] == 1:  # torch drops leading 1s of the value
        v = _C.reshape(v, list(v.shape[1:]))
    if list(v.shape) != list(shape):
        try:
            v = _C.expand(v, list(shape))
        except ValueError:
            raise ValueError(f"setitem: cannot assign a value of shape {tuple(v.shape)} to a "
                             f"selection of shape {tuple(shape)}") from None
    return v


def setitem(self: Tensor, key, value) -> None:
    key = _normalize(key)
    if _is_basic(key):
        shape, strides, offset = basic_layout(self.shape, key)
        write_strided(self, shape, strides, offset, _values(self, value, shape))
        return
    positions = flat_index(self.shape, key)
    values = _values(self, value, positions.shape)
    index = _index_tensor(positions, self.device)
    old = _C.inplace_begin(self, [values], "setitem")
    if old._same_storage(self):
        _C.index_write_flat_(self, index, values)
    else:
        _C.inplace_commit(self, old, _C.index_put_flat(old, index, values), "setitem")
    write_back(self)


def install(T) -> None:
    T.__getitem__ = getitem
    T.__setitem__ = setitem
