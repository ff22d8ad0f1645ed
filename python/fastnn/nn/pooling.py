"""PyTorch's pooling modules (``nn.MaxPool1d/2d``, ``nn.AvgPool1d/2d``,
``nn.AdaptiveAvgPool1d/2d``, ``nn.AdaptiveMaxPool1d/2d``) and their functional forms on
channels-first batches, (N, C, L) and (N, C, H, W), or unbatched (C, L) and (C, H, W).

Max and average pools run fastnn's channels-last pool kernels, which pad only the
TensorFlow way ('valid', or 'same' without counting the padding). PyTorch's explicit padding
and ceil_mode are mapped onto them: where PyTorch's windows are exactly TensorFlow's 'same'
windows the kernel's 'same' is used as it is; otherwise the input is padded by concatenation
(-inf for max, zeros for average) and pooled 'valid', and an average's divisor is corrected
by pooling a mask of the positions PyTorch counts. Adaptive pools reduce channels-first
without permutes: a reshape and one reduction where the size divides, PyTorch's uneven
windows (start = floor(i * in / out), end = ceil((i + 1) * in / out)) otherwise."""

from __future__ import annotations

import collections
import math

from .. import _C
from ..functional import _ints
from ..tensor import as_tensor
from .conv import batched, positive_ints, to_channels_first, to_channels_last, unbatched
from .module import Module

# --- shapes -------------------------------------------------------------------------------


def pool_output_size(size, k, s, p, ceil_mode):
    """PyTorch's pooling_output_shape (dilation 1): with ceil_mode the last window must
    start inside the input or its left padding."""
    out = (size + 2 * p - k + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def pool_args(kernel_size, stride, padding, spatial, who):
    """(kernel, stride, padding) tuples, checked as PyTorch checks them; stride None (or
    empty) is the kernel size."""
    k = positive_ints(kernel_size, spatial, who, "kernel_size")
    s = k if stride is None or (isinstance(stride, (tuple, list)) and not stride) else \
        positive_ints(stride, spatial, who, "stride")
    p = _ints(padding, spatial, who, "padding")
    if any(pi < 0 or pi > ki // 2 for pi, ki in zip(p, k)):
        raise ValueError(f"{who}: pad should be at most half of kernel size, but got "
                         f"padding={padding!r} and kernel_size={kernel_size!r}")
    return k, s, p


class _Windows(collections.namedtuple("_Windows", "k s p sizes out pads")):
    """A pool's windows along each spatial axis: kernel, stride, PyTorch's padding, input
    and output sizes, and the (before, after) padding that makes 'valid' pooling give them
    (after adds ceil_mode's overhang: the last window's part beyond the padded input)."""

    def tf_same(self):
        """Whether these are TensorFlow's 'same' windows (start i*s - top, clipped to the
        input), as fastnn's 'same' pools them: the same count and leading padding."""
        for n, o, k, s, p in zip(self.sizes, self.out, self.k, self.s, self.p):
            if o != -(-n // s) or max((o - 1) * s + k - n, 0) // 2 != p:
                return False
        return True


# _windows of recent calls: a module pools the same shapes at every step, and working them
# out (argument checks included) cost more than the pool kernel on small inputs.
_WINDOWS = {}


def _windows(x, kernel_size, stride, padding, ceil_mode, spatial, who):
    shape = tuple(x.shape)
    try:
        key = (shape, kernel_size, stride, padding, bool(ceil_mode), spatial, who)
        hit = _WINDOWS.get(key)
    except TypeError:  # unhashable arguments (lists): worked out every time
        key = hit = None
    if hit is not None:
        return hit
    w = _work_out_windows(shape, kernel_size, stride, padding, ceil_mode, spatial, who)
    if key is not None:
        if len(_WINDOWS) >= 256:
            _WINDOWS.clear()
        _WINDOWS[key] = w
    return w


def _work_out_windows(shape, kernel_size, stride, padding, ceil_mode, spatial, who):
    k, s, p = pool_args(kernel_size, stride, padding, spatial, who)
    sizes = shape[2:]
    out = tuple(pool_output_size(*args, ceil_mode) for args in zip(sizes, k, s, p))
    if any(o < 1 for o in out):
        raise ValueError(f"{who}: given input of shape {shape}, the output size "
                         f"{out} is too small (kernel_size={k}, stride={s}, padding={p})")
    pads = tuple((pi, max((o - 1) * si + ki - n - pi, pi))
                 for n, o, ki, si, pi in zip(sizes, out, k, s, p))
    return _Windows(k, s, p, sizes, out, pads)


def pad_channels_last(x, pads, value):
    """x (N, *spatial, C) padded by pads[i] = (before, after) on spatial axis i with
    ``value``: one concatenation per padded axis (the pieces are constants that a captured
    step keeps)."""
    for axis, (before, after) in enumerate(pads, start=1):
        if before or after:
            pieces = []
            for n in (before, after):
                shape = list(x.shape)
                shape[axis] = n
                pieces.append([_C.full(shape, value, x.dtype, x.device)] if n else [])
            x = _C.concat(pieces[0] + [x] + pieces[1], axis)
    return x


def _pool_kernel(x, is_max, k, s, mode, who):
    """fastnn's channels-last pool of x (N, *spatial, C), 'valid' or 'same'."""
    if len(k) == 2:
        return _C.pool2d(x, is_max, k[0], k[1], s[0], s[1], mode, who)
    return _C.pool1d(x, is_max, k[0], s[0], mode, who)


# --- max and average pooling ------------------------------------------------------------


def _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,  # noqa: A002
              spatial, who):
    if return_indices:
        raise NotImplementedError(f"{who}: return_indices=True is not supported")
    if _ints(dilation, spatial, who, "dilation") != (1,) * spatial:
        raise NotImplementedError(f"{who}: dilation={dilation!r} is not supported (fastnn's "
                                  "pool kernels have no dilation); only 1")
    x, added = batched(as_tensor(input), spatial, who)
    w = _windows(x, kernel_size, stride, padding, ceil_mode, spatial, who)
    x = to_channels_last(x)
    if not any(a or b for a, b in w.pads):
        y = _pool_kernel(x, True, w.k, w.s, "valid", who)
    elif w.tf_same():  # 'same' skips the padding, as a max over -inf padding does
        y = _pool_kernel(x, True, w.k, w.s, "same", who)
    else:
        y = _pool_kernel(pad_channels_last(x, w.pads, float("-inf")), True, w.k, w.s, "valid",
                         who)
    return unbatched(to_channels_first(y), added)


def _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,  # noqa: A002
              divisor_override, spatial, who):
    if divisor_override is not None and (isinstance(divisor_override, bool) or not isinstance(
            divisor_override, int) or divisor_override <= 0):
        raise ValueError(f"{who}: expected divisor_override to be a positive integer or None, "
                         f"got {divisor_override!r}")
    x, added = batched(as_tensor(input), spatial, who)
    w = _windows(x, kernel_size, stride, padding, ceil_mode, spatial, who)
    x = to_channels_last(x)
    if divisor_override is None and not count_include_pad and w.tf_same():
        # fastnn's 'same' divides by the window's positions inside the input, as PyTorch's
        # count_include_pad=False.
        return unbatched(to_channels_first(_pool_kernel(x, False, w.k, w.s, "same", who)),
                         added)
    y = _pool_kernel(pad_channels_last(x, w.pads, 0.0), False, w.k, w.s, "valid", who)
    overhang = any(b > p for (_, b), p in zip(w.pads, w.p))
    if divisor_override is not None:
        y = y * (math.prod(w.k) / divisor_override)
    elif overhang or (any(w.p) and not count_include_pad):
        # PyTorch divides by the window's positions inside the input and its padding
        # (count_include_pad) or inside the input only, never ceil_mode's overhang: the
        # average over each window of a mask of those positions is the correction.
        counted = [n + 2 * p if count_include_pad else n for n, p in zip(w.sizes, w.p)]
        around = [(0, b - p) if count_include_pad else (p, b) for (_, b), p in zip(w.pads, w.p)]
        mask = _C.full([1, *counted, 1], 1.0, x.dtype, x.device)
        y = y / _pool_kernel(pad_channels_last(mask, around, 0.0), False, w.k, w.s, "valid",
                             who)
    return unbatched(to_channels_first(y), added)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,  # noqa: A002
               return_indices=False):
    """``F.max_pool1d`` on (N, C, L) or (C, L)."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     1, "max_pool1d")


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,  # noqa: A002
               return_indices=False):
    """``F.max_pool2d`` on (N, C, H, W) or (C, H, W); stride defaults to kernel_size."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     2, "max_pool2d")


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,  # noqa: A002
               count_include_pad=True):
    """``F.avg_pool1d`` on (N, C, L) or (C, L)."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None,
                     1, "avg_pool1d")


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,  # noqa: A002
               count_include_pad=True, divisor_override=None):
    """``F.avg_pool2d`` on (N, C, H, W) or (C, H, W)."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, 2, "avg_pool2d")


# --- adaptive pooling ---------------------------------------------------------------------


def _output_sizes(output_size, sizes, who):
    """PyTorch's output_size: an int, or one int or None (the input's size) per axis."""
    n = len(sizes)
    items = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * n
    if len(items) != n or not all(
            o is None or (isinstance(o, int) and not isinstance(o, bool) and o > 0)
            for o in items):
        raise ValueError(f"{who}: expected output_size to be a positive integer or {n} of "
                         f"them (None keeps the input's size), got {output_size!r}")
    return tuple(size if o is None else o for o, size in zip(items, sizes))


def _window_bounds(size, out, device):
    """PyTorch's adaptive windows as int64 tensors (out,): start = floor(i * size / out),
    end = ceil((i + 1) * size / out), made by kernels so a captured step can replay them."""
    i = _C.arange(out, 0.0, 1.0, "int64", device)
    return (i * size) // out, ((i + 1) * size + out - 1) // out


def _uneven_avg(x, axis, out):
    """Adaptive average along ``axis`` of x (N, C, *S) where the size does not divide: a
    product with the (out, size) matrix of window weights 1 / window length."""
    size = x.shape[axis]
    start, end = _window_bounds(size, out, x.device)
    at = _C.arange(size, 0.0, 1.0, "int64", x.device).unsqueeze(0)
    inside = (at >= start.unsqueeze(1)) & (at < end.unsqueeze(1))
    weights = inside.to(x.dtype) / (end - start).to(x.dtype).unsqueeze(1)
    if axis == x.ndim - 1:
        return x @ weights.T
    return weights @ x  # axis -2: (out, size) @ (N, C, size, W)


def _uneven_max(x, axis, out):
    """Adaptive max along ``axis`` where the size does not divide: each window gathered as
    kmax positions (the last one repeated in shorter windows), then the max over them."""
    size = x.shape[axis]
    widest = max(-(-(i + 1) * size // out) - (i * size) // out for i in range(out))
    start, end = _window_bounds(size, out, x.device)
    offsets = _C.arange(widest, 0.0, 1.0, "int64", x.device).unsqueeze(0)
    index = (start.unsqueeze(1) + offsets).minimum(end.unsqueeze(1) - 1)  # (out, widest)
    windows = x[(slice(None),) * axis + (index,)]  # (..., out, widest, ...)
    return windows.max(axis + 1)[0]


def _adaptive(input, output_size, is_max, spatial, who):  # noqa: A002
    """Adaptive pooling channels-first: the axes whose size divides by their output are
    split into (out, size / out) by one reshape and reduced at once; the others take
    PyTorch's uneven windows one axis at a time."""
    x, added = batched(as_tensor(input), spatial, who)
    sizes = tuple(x.shape[2:])
    if any(n == 0 for n in sizes):
        raise ValueError(f"{who}: expected an input with non-empty spatial sizes, got shape "
                         f"{tuple(x.shape)}")
    out = _output_sizes(output_size, sizes, who)
    even = [n % o == 0 for n, o in zip(sizes, out)]
    if any(e and n != o for e, n, o in zip(even, sizes, out)):
        shape, reduce = list(x.shape[:2]), []
        for n, o, e in zip(sizes, out, even):
            shape += [o, n // o] if e else [n]
            if e:
                reduce.append(len(shape) - 1)
        x = _C.reshape(x, shape)
        if is_max:
            for axis in reversed(reduce):
                x = x.max(axis)[0]
        else:
            x = _C.mean(x, reduce, False)
    for axis in range(2, 2 + spatial):
        if x.shape[axis] != out[axis - 2]:
            x = (_uneven_max if is_max else _uneven_avg)(x, axis, out[axis - 2])
    return unbatched(x, added)


def adaptive_avg_pool1d(input, output_size):  # noqa: A002
    """``F.adaptive_avg_pool1d`` on (N, C, L) or (C, L)."""
    return _adaptive(input, output_size, False, 1, "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input, output_size):  # noqa: A002
    """``F.adaptive_avg_pool2d`` on (N, C, H, W) or (C, H, W)."""
    return _adaptive(input, output_size, False, 2, "adaptive_avg_pool2d")


def adaptive_max_pool1d(input, output_size, return_indices=False):  # noqa: A002
    """``F.adaptive_max_pool1d`` on (N, C, L) or (C, L)."""
    if return_indices:
        raise NotImplementedError("adaptive_max_pool1d: return_indices=True is not supported")
    return _adaptive(input, output_size, True, 1, "adaptive_max_pool1d")


def adaptive_max_pool2d(input, output_size, return_indices=False):  # noqa: A002
    """``F.adaptive_max_pool2d`` on (N, C, H, W) or (C, H, W)."""
    if return_indices:
        raise NotImplementedError("adaptive_max_pool2d: return_indices=True is not supported")
    return _adaptive(input, output_size, True, 2, "adaptive_max_pool2d")


# --- modules ------------------------------------------------------------------------------


class _MaxPoolNd(Module):
    _spatial = 0

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        who = type(self).__name__
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = bool(return_indices), bool(ceil_mode)
        pool_args(kernel_size, stride, padding, self._spatial, who)  # checked now, not later
        if return_indices:
            raise NotImplementedError(f"{who}: return_indices=True is not supported")
        if _ints(dilation, self._spatial, who, "dilation") != (1,) * self._spatial:
            raise NotImplementedError(f"{who}: dilation={dilation!r} is not supported "
                                      "(fastnn's pool kernels have no dilation); only 1")

    def forward(self, input):  # noqa: A002
        return _max_pool(input, self.kernel_size, self.stride, self.padding, self.dilation,
                         self.ceil_mode, False, self._spatial, type(self).__name__)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """``nn.MaxPool1d``: (N, C, L) -> (N, C, L_out), padding with -inf."""

    _spatial = 1


class MaxPool2d(_MaxPoolNd):
    """``nn.MaxPool2d``: (N, C, H, W) -> (N, C, H_out, W_out), padding with -inf."""

    _spatial = 2


class _AvgPoolNd(Module):
    _spatial = 0

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        who = type(self).__name__
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, bool(ceil_mode)
        self.count_include_pad, self.divisor_override = bool(count_include_pad), divisor_override
        pool_args(kernel_size, stride, padding, self._spatial, who)  # checked now, not later

    def forward(self, input):  # noqa: A002
        return _avg_pool(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                         self.count_include_pad, self.divisor_override, self._spatial,
                         type(self).__name__)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """``nn.AvgPool1d(kernel_size, stride=None, padding=0, ceil_mode=False,
    count_include_pad=True)``: (N, C, L) -> (N, C, L_out)."""

    _spatial = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        # PyTorch keeps these as 1-tuples (its repr shows kernel_size=(3,)).
        self.kernel_size = _ints(kernel_size, 1, "AvgPool1d", "kernel_size")
        self.stride = _ints(self.stride, 1, "AvgPool1d", "stride")
        self.padding = _ints(padding, 1, "AvgPool1d", "padding")


class AvgPool2d(_AvgPoolNd):
    """``nn.AvgPool2d``: (N, C, H, W) -> (N, C, H_out, W_out)."""

    _spatial = 2


class _AdaptivePoolNd(Module):
    _spatial, _max = 0, False

    def __init__(self, output_size):
        super().__init__()
        _output_sizes(output_size, (1,) * self._spatial, type(self).__name__)  # checked now
        self.output_size = output_size

    def forward(self, input):  # noqa: A002
        return _adaptive(input, self.output_size, self._max, self._spatial, type(self).__name__)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    """``nn.AdaptiveAvgPool1d(output_size)``: (N, C, L) -> (N, C, output_size)."""

    _spatial = 1


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    """``nn.AdaptiveAvgPool2d(output_size)``: (N, C, H, W) -> (N, C, *output_size)."""

    _spatial = 2


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    _max = True

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        if return_indices:
            raise NotImplementedError(f"{type(self).__name__}: return_indices=True is not "
                                      "supported")
        self.return_indices = False


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """``nn.AdaptiveMaxPool1d(output_size)``: (N, C, L) -> (N, C, output_size)."""

    _spatial = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """``nn.AdaptiveMaxPool2d(output_size)``: (N, C, H, W) -> (N, C, *output_size)."""

    _spatial = 2


#: The module classes fastnn.nn exports from this file.
__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d"]
#: The functions fastnn.nn.functional exports from this file.
FUNCTIONAL = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
              "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d"]
