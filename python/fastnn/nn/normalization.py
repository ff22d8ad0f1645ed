"""PyTorch's ``nn.BatchNorm1d`` / ``nn.BatchNorm2d`` and ``nn.LayerNorm``, and their
functional forms ``F.batch_norm`` / ``F.layer_norm``.

Batch norm runs fastnn's fused channels-last kernel (``_C.batch_norm``: normalise, scale,
shift and update the running statistics in place, one op with its backward) on the
channels-last permute of the (N, C, *spatial) input. The kernel's update is Keras's,
moving = m * moving + (1 - m) * batch, so PyTorch's momentum enters as m = 1 - momentum,
and its running_var is PyTorch's unbiased one (unbiased_moving_variance). Because the kernel
updates the buffers in place, a captured training step (fit) keeps updating them.

num_batches_tracked is an int64 0-d buffer like PyTorch's: in state_dict (and loaded from a
torch state_dict), not trained, left int64 by ``double()``, incremented in place by a kernel
at each training forward (so a captured step increments it too). momentum=None (PyTorch's
cumulative average, factor 1 / num_batches_tracked) reads that count on the host each step,
so such a step is not captured: fit runs it eagerly (and warns once)."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _C
from ..tensor import Tensor, as_tensor
from .conv import to_channels_first, to_channels_last
from .linear import positive_int
from .module import Module, dtype_name


def _batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps, who):
    """x (N, C, *spatial); training: normalise with the batch's statistics and fold them
    into running_mean/var (when given) with PyTorch's momentum; else with running_mean/var."""
    if x.ndim < 2:
        raise ValueError(f"{who}: expected an input of shape (N, C, ...), got shape "
                         f"{tuple(x.shape)}")
    channels = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (channels,):
            raise ValueError(f"{who}: expected {name} of shape ({channels},) for an input of "
                             f"shape {tuple(x.shape)}, got {tuple(t.shape)}")
    if training:
        if x.shape[0] * math.prod(x.shape[2:]) <= 1:
            raise ValueError(f"{who}: expected more than 1 value per channel when training, "
                             f"got input of shape {tuple(x.shape)}")
        if running_mean is None or running_var is None:
            # Batch statistics only: the kernel updates scratch statistics nobody reads.
            running_mean = _C.full([channels], 0.0, x.dtype, x.device)
            running_var = _C.full([channels], 1.0, x.dtype, x.device)
            momentum = 0.0
    elif running_mean is None or running_var is None:
        raise ValueError(f"{who}: running_mean and running_var must be given when not "
                         "training (training=False normalises with them)")
    y = _C.batch_norm(to_channels_last(x), weight, bias, running_mean, running_var,
                      bool(training), 1.0 - float(momentum), float(eps), who, True)
    return to_channels_first(y)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,  # noqa: A002
               momentum=0.1, eps=1e-5):
    """``F.batch_norm`` on (N, C, *spatial): running_mean/running_var (fastnn tensors of
    shape (C,)) are updated in place when training."""
    x = as_tensor(input)
    return _batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps,
                       "batch_norm")


def _check_eps(eps, who):
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
        raise ValueError(f"{who}: expected eps to be a non-negative number, got {eps!r}")
    return float(eps)


class _BatchNorm(Module):
    """weight (ones) and bias (zeros, unless bias=False) of shape (num_features,) when
    affine; buffers
    running_mean (zeros), running_var (ones) and num_batches_tracked (int64 0) when
    track_running_stats; PyTorch's state_dict keys in PyTorch's order."""

    _dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        who = type(self).__name__
        super().__init__(dtype=dtype_name(dtype, who))
        self.num_features = positive_int(num_features, who, "num_features")
        self.eps = _check_eps(eps, who)
        if momentum is not None and (isinstance(momentum, bool) or not isinstance(
                momentum, numbers.Real) or not 0 <= momentum <= 1):
            raise ValueError(f"{who}: expected momentum in [0, 1] or None, got {momentum!r}")
        self.momentum = None if momentum is None else float(momentum)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        c = (self.num_features,)
        self.weight = self.add_weight("weight", c, "ones") if affine else None
        self.bias = self.add_weight("bias", c, "zeros") if affine and bias else None
        if self.track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(c), self.dtype))
            self.register_buffer("running_var", Tensor(np.ones(c), self.dtype))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0), "int64"))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None
        if device is not None:
            self.to(device)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1.0)
            self.num_batches_tracked.zero_()

    def forward(self, input):  # noqa: A002
        who = type(self).__name__
        x = as_tensor(input)
        if x.ndim not in self._dims:
            expected = " or ".join(f"{d}D" for d in self._dims)
            raise ValueError(f"{who}: expected {expected} input, got {x.ndim}D input of shape "
                             f"{tuple(x.shape)}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{who}: expected input with {self.num_features} channels "
                             f"(dim 1), got input of shape {tuple(x.shape)}")
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative average (a host read: not captured)
                momentum = 1.0 / float(self.num_batches_tracked.item())
        return _batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                           self.training or not self.track_running_stats, momentum, self.eps,
                           who)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """``nn.BatchNorm1d`` over C of (N, C) or (N, C, L)."""

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """``nn.BatchNorm2d`` over C of (N, C, H, W)."""

    _dims = (4,)


def _normalized_shape(normalized_shape, who):
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else \
        tuple(normalized_shape)
    if not shape or not all(isinstance(d, numbers.Integral) and not isinstance(d, bool)
                            and d > 0 for d in shape):
        raise ValueError(f"{who}: expected normalized_shape to be a positive integer or a "
                         f"non-empty sequence of them, got {normalized_shape!r}")
    return tuple(int(d) for d in shape)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """``F.layer_norm``: normalises over the last len(normalized_shape) dims with their mean
    and biased variance, then * weight + bias (each of shape normalized_shape)."""
    who = "layer_norm"
    x = as_tensor(input)
    shape = _normalized_shape(normalized_shape, who)
    if tuple(x.shape[x.ndim - len(shape):]) != shape or x.ndim < len(shape):
        raise ValueError(f"{who}: expected an input whose last dims are {shape}, got shape "
                         f"{tuple(x.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ValueError(f"{who}: expected {name} of shape {shape}, got {tuple(t.shape)}")
    dims = list(range(x.ndim - len(shape), x.ndim))
    centred = x - _C.mean(x, dims, True)
    y = centred * (_C.mean(centred * centred, dims, True) + float(eps)).rsqrt()
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


class LayerNorm(Module):
    """``nn.LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True)``:
    weight (ones) and bias (zeros) of shape normalized_shape."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        who = "LayerNorm"
        super().__init__(dtype=dtype_name(dtype, who))
        self.normalized_shape = _normalized_shape(normalized_shape, who)
        self.eps = _check_eps(eps, who)
        self.elementwise_affine = bool(elementwise_affine)
        self.weight = self.add_weight("weight", self.normalized_shape, "ones") \
            if elementwise_affine else None
        self.bias = self.add_weight("bias", self.normalized_shape, "zeros") \
            if elementwise_affine and bias else None
        if device is not None:
            self.to(device)

    def forward(self, input):  # noqa: A002
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


#: The module classes fastnn.nn exports from this file.
__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm"]
#: The functions fastnn.nn.functional exports from this file.
FUNCTIONAL = ["batch_norm", "layer_norm"]
