"""PyTorch's ``nn.Conv1d`` / ``nn.Conv2d`` and ``F.conv1d`` / ``F.conv2d`` on channels-first
batches, (N, C, L) and (N, C, H, W), over fastnn's channels-last conv kernels; and the layout
helpers (``to_channels_last`` / ``to_channels_first``) that pooling and batch norm share."""

from __future__ import annotations

import math
import numbers

from .. import _C
from ..functional import _ints
from ..tensor import as_tensor
from .linear import positive_int, uniform_init
from .module import Module, dtype_name

# --- layout: the one place channels-first meets fastnn's channels-last kernels -------------
#
# fastnn's conv, pool and batch-norm kernels read channels last (N, *spatial, C) and Keras
# kernels (*k, in, out); PyTorch's modules hold channels first (N, C, *spatial) and
# (out, in, *k). Each module below takes its input channels-last, runs the kernel, and
# returns its output channels-first as a deferred permute (_C.permute_deferred): a tensor
# whose copy runs only when something reads it. The next module (a conv, pool, batch norm,
# or an activation: the C++ op does the same) takes the channels-last source back
# (_C.permute_source), so a conv -> relu -> pool -> conv chain makes no copy, and anything
# else (view, +, numpy) reads the copied NCHW values. In a captured step the copies are
# recorded where they run (ops permute_deferred).


def _channels_last_dims(n):
    return [0, *range(2, n), 1]


def to_channels_last(x):
    """(N, C, *spatial) -> (N, *spatial, C): the channels-last tensor a deferred
    to_channels_first came from, else one copy (a free view where the order of the elements
    does not change: one channel, or no spatial extent)."""
    n = x.ndim
    if n <= 2:
        return x
    dims = _channels_last_dims(n)
    source = _C.permute_source(x, dims)
    if source is not None:
        return source
    shape = list(x.shape)
    if shape[1] == 1 or math.prod(shape[2:]) == 1:
        return _C.reshape(x, [shape[0], *shape[2:], shape[1]])
    return _C.permute(x, dims)


def to_channels_first(y):
    """(N, *spatial, C) -> (N, C, *spatial): the inverse of to_channels_last, deferred
    (y must be an op's fresh output that nothing writes afterwards)."""
    n = y.ndim
    if n <= 2:
        return y
    shape = list(y.shape)
    if shape[-1] == 1 or math.prod(shape[1:-1]) == 1:
        return _C.reshape(y, [shape[0], shape[-1], *shape[1:-1]])
    return _C.permute_deferred(y, [0, n - 1, *range(1, n - 1)])


def kernel_to_channels_last(weight):
    """A PyTorch conv weight (out, in, *k) as a Keras kernel (*k, in, out), one copy of
    the (small) weight; the gradient reaches the (out, in, *k) parameter."""
    n = weight.ndim
    return _C.permute(weight, [*range(2, n), 1, 0])


# --- arguments ----------------------------------------------------------------------------

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def positive_ints(value, n, who, name):
    """An int or n ints, each positive, as a tuple of n ints (stride, dilation, kernel_size)."""
    values = _ints(value, n, who, name)
    if any(v <= 0 for v in values):
        raise ValueError(f"{who}: expected {name} to be positive, got {value!r}")
    return values


def conv_pads(padding, kernel_size, stride, dilation, who):
    """PyTorch's conv ``padding`` as (before, after) per spatial axis: 'valid' (none), 'same'
    (total dilation * (k - 1), the odd pixel after: PyTorch's rule; stride 1 only, as
    PyTorch requires), an int (every side) or one int per axis (both sides of that axis)."""
    n = len(kernel_size)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding != "same":
            raise ValueError(f"{who}: invalid padding string {padding!r}, should be one of "
                             "{'valid', 'same'}")
        if any(s != 1 for s in stride):
            raise ValueError(f"{who}: padding='same' is not supported for strided "
                             f"convolutions (got stride={stride})")
        totals = [d * (k - 1) for k, d in zip(kernel_size, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    sizes = _ints(padding, n, who, "padding")
    if any(p < 0 for p in sizes):
        raise ValueError(f"{who}: expected non-negative padding, got {padding!r}")
    return tuple((p, p) for p in sizes)


def batched(x, spatial, who, name="input"):
    """(x with a batch axis, whether one was added): PyTorch's layers take an unbatched
    (C, *spatial) input too, and give an unbatched output."""
    if x.ndim == spatial + 1:
        return _C.reshape(x, [1, *x.shape]), True
    if x.ndim != spatial + 2:
        raise ValueError(f"{who}: expected a {spatial + 1}D (unbatched) or {spatial + 2}D "
                         f"(batched) {name}, got shape {tuple(x.shape)}")
    return x, False


def unbatched(y, added):
    return _C.reshape(y, list(y.shape[1:])) if added else y


def _conv(input, weight, bias, stride, pads, dilation, who):  # noqa: A002 - torch's name
    """The channels-first convolution shared by the modules and F: input (N, C, *S) or
    (C, *S), weight (out, C, *k), bias (out,) or None, stride/dilation tuples, pads
    ((before, after) per axis) -> (N, out, *OS)."""
    spatial = len(stride)
    x, added = batched(as_tensor(input), spatial, who)
    weight = as_tensor(weight)
    if weight.ndim != spatial + 2:
        raise ValueError(f"{who}: expected a {spatial + 2}D weight (out_channels, "
                         f"in_channels, *kernel_size), got shape {tuple(weight.shape)}")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"{who}: expected input with {weight.shape[1]} channels (weight of "
                         f"shape {tuple(weight.shape)}), got input of shape {tuple(x.shape)}")
    if x.dtype != weight.dtype or (bias is not None and bias.dtype != x.dtype):
        raise TypeError(f"{who}: expected input, weight and bias of one dtype, got input "
                        f"{x.dtype}, weight {weight.dtype}, bias "
                        f"{None if bias is None else bias.dtype}")
    for size, k, (a, b), d, axis in zip(x.shape[2:], weight.shape[2:], pads, dilation,
                                         ("L",) if spatial == 1 else ("H", "W")):
        if size + a + b < d * (k - 1) + 1:
            raise ValueError(f"{who}: input size {axis}={size} padded by ({a}, {b}) is "
                             f"smaller than the dilated kernel size {d * (k - 1) + 1}")
    kernel = kernel_to_channels_last(weight)
    if spatial == 2:
        y = _C.conv2d(to_channels_last(x), kernel, bias, list(stride), "explicit",
                      [*pads[0], *pads[1]], list(dilation), "linear", 0.0, who)
    else:
        y = _C.conv1d(to_channels_last(x), kernel, bias, stride[0], "explicit", list(pads[0]),
                      dilation[0], "linear", 0.0, who)
    return unbatched(to_channels_first(y), added)


def _functional(input, weight, bias, stride, padding, dilation, groups, spatial, who):  # noqa: A002
    if groups != 1:
        raise NotImplementedError(f"{who}: groups={groups!r} is not supported (fastnn's conv "
                                  "kernels have no grouped form); only groups=1")
    weight = as_tensor(weight)
    if weight.ndim != spatial + 2:
        raise ValueError(f"{who}: expected a {spatial + 2}D weight (out_channels, "
                         f"in_channels, *kernel_size), got shape {tuple(weight.shape)}")
    stride = positive_ints(stride, spatial, who, "stride")
    dilation = positive_ints(dilation, spatial, who, "dilation")
    pads = conv_pads(padding, tuple(weight.shape[2:]), stride, dilation, who)
    return _conv(input, weight, None if bias is None else as_tensor(bias), stride, pads,
                 dilation, who)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """``F.conv1d``: input (N, C, L) or (C, L), weight (out, C, k), bias (out,)."""
    return _functional(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """``F.conv2d``: input (N, C, H, W) or (C, H, W), weight (out, C, kh, kw), bias (out,)."""
    return _functional(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


class _ConvNd(Module):
    """Conv1d and Conv2d: weight (out, in, *k) and bias (out,) drawn from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in * prod(k) (PyTorch's kaiming_uniform
    with a=sqrt(5), and its bias rule)."""

    _spatial = 0

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        who = type(self).__name__
        super().__init__(dtype=dtype_name(dtype, who))
        n = self._spatial
        self.in_channels = positive_int(in_channels, who, "in_channels")
        self.out_channels = positive_int(out_channels, who, "out_channels")
        self.kernel_size = positive_ints(kernel_size, n, who, "kernel_size")
        self.stride = positive_ints(stride, n, who, "stride")
        self.dilation = positive_ints(dilation, n, who, "dilation")
        self._pads = conv_pads(padding, self.kernel_size, self.stride, self.dilation, who)
        self.padding = padding if isinstance(padding, str) else tuple(a for a, _ in self._pads)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{who}: padding_mode must be one of {list(_PADDING_MODES)}, "
                             f"got {padding_mode!r}")
        if padding_mode != "zeros":
            raise NotImplementedError(f"{who}: padding_mode={padding_mode!r} is not supported "
                                      "yet; only 'zeros'")
        if not isinstance(groups, numbers.Integral) or groups != 1:
            raise NotImplementedError(f"{who}: groups={groups!r} is not supported (fastnn's "
                                      "conv kernels have no grouped form); only groups=1")
        self.groups, self.padding_mode = 1, padding_mode
        self.transposed, self.output_padding = False, (0,) * n
        bound = 1.0 / math.sqrt(self.in_channels * math.prod(self.kernel_size))
        self.weight = self.add_weight(
            "weight", (self.out_channels, self.in_channels, *self.kernel_size),
            uniform_init(bound))
        self.bias = self.add_weight("bias", (self.out_channels,), uniform_init(bound)) \
            if bias else None
        if device is not None:
            self.to(device)

    def forward(self, input):  # noqa: A002
        return _conv(input, self.weight, self.bias, self.stride, self._pads, self.dilation,
                     type(self).__name__)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self._spatial:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._spatial:
            s += f", dilation={self.dilation}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv1d(_ConvNd):
    """``nn.Conv1d``: (N, C_in, L) or (C_in, L) -> (N, C_out, L_out); weight (out, in, k)."""

    _spatial = 1


class Conv2d(_ConvNd):
    """``nn.Conv2d``: (N, C_in, H, W) or (C_in, H, W) -> (N, C_out, H_out, W_out); weight
    (out, in, kh, kw)."""

    _spatial = 2


#: The module classes fastnn.nn exports from this file.
__all__ = ["Conv1d", "Conv2d"]
#: The functions fastnn.nn.functional exports from this file.
FUNCTIONAL = ["conv1d", "conv2d"]
