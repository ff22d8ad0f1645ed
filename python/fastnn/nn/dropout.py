"""PyTorch's ``nn.Dropout``, ``nn.Dropout1d/2d/3d`` and ``nn.AlphaDropout``, and their
functional forms, over fastnn's dropout kernel (masks from fastnn's generator, so
``fn.manual_seed`` repeats them, and a captured step draws what the eager step would).

The masks cannot equal PyTorch's bit for bit (another generator); what matches is the
rule: each value (or whole channel) is zeroed with probability p and the others scaled by
1 / (1 - p) while training, and the identity otherwise."""

from __future__ import annotations

import math
import numbers
import warnings

from .. import _C
from ..tensor import as_tensor
from .module import Module


def _probability(p, who):
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"{who}: dropout probability has to be between 0 and 1, but got "
                         f"{p!r}")
    return float(p)


def _dropout(input, p, training, inplace, noise_shape, who):  # noqa: A002
    """x with a mask of shape ``noise_shape`` ([] for x's own shape) applied while
    training: in x itself (an in-place op autograd follows) when ``inplace``."""
    x = as_tensor(input)
    p = _probability(p, who)
    if not training or p == 0.0:
        return x
    if p == 1.0:  # everything dropped (the kernel's scale 1 / (1 - p) is undefined)
        return x.mul_(0.0) if inplace else x * 0.0
    y, mask = _C.dropout(x, p, noise_shape, True, None, who)
    return x.mul_(mask) if inplace else y


def _channel_noise(x, batched):
    """The mask shape of a channel dropout: one value per (sample, channel) of a batched
    (N, C, *spatial) input, one per channel of an unbatched (C, *spatial) one."""
    lead = 2 if batched else 1
    return [*x.shape[:lead]] + [1] * (x.ndim - lead)


def dropout(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """``F.dropout`` (training=True by default, as PyTorch's)."""
    return _dropout(input, p, training, inplace, [], "dropout")


def dropout1d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """``F.dropout1d``: zeroes whole channels of (N, C, L), or of unbatched (C, L)."""
    x = as_tensor(input)
    if x.ndim not in (2, 3):
        raise ValueError(f"dropout1d: expected a 2D (C, L) or 3D (N, C, L) input, got shape "
                         f"{tuple(x.shape)}")
    return _dropout(x, p, training, inplace, _channel_noise(x, x.ndim == 3),
                    "dropout1d")


def dropout2d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """``F.dropout2d``: zeroes whole channels of (N, C, H, W) (a mask of shape (N, C, 1, 1)).
    As in PyTorch, a 3D input is taken as (N, C, L) (with PyTorch's warning)."""
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"dropout2d: expected a 4D (N, C, H, W) input, got shape "
                         f"{tuple(x.shape)}")
    if x.ndim != 4:
        warnings.warn(f"dropout2d: received a {x.ndim}D input; as PyTorch does, it is taken "
                      "as (N, C, ...) and whole channels are dropped (use dropout1d for "
                      "(N, C, L))", stacklevel=2)
    return _dropout(x, p, training, inplace, _channel_noise(x, True), "dropout2d")


def dropout3d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """``F.dropout3d``: zeroes whole channels of (N, C, D, H, W), or of unbatched
    (C, D, H, W)."""
    x = as_tensor(input)
    if x.ndim not in (4, 5):
        raise ValueError(f"dropout3d: expected a 4D (C, D, H, W) or 5D (N, C, D, H, W) "
                         f"input, got shape {tuple(x.shape)}")
    return _dropout(x, p, training, inplace, _channel_noise(x, x.ndim == 5),
                    "dropout3d")


_SELU_ALPHA = 1.7580993408473766  # -selu's scale * alpha: the value SELU saturates to


def alpha_dropout(input, p=0.5, training=False, inplace=False):  # noqa: A002
    """``F.alpha_dropout`` (training=False by default, as PyTorch's): dropped values become
    SELU's saturation value -1.758..., then an affine map a * y + b keeps the mean and
    variance of a SELU network's activations (PyTorch's formula)."""
    who = "alpha_dropout"
    x = as_tensor(input)
    p = _probability(p, who)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x.mul_(0.0) if inplace else x * 0.0
    a = 1.0 / math.sqrt((_SELU_ALPHA ** 2 * p + 1) * (1 - p))
    keep = _C.dropout(x, p, [], True, None, who)[1] * (1 - p)  # 0 or 1
    # a * (x * keep + alpha * (keep - 1 + p)): kept x -> a * (x + alpha * p), dropped ->
    # a * alpha * (p - 1).
    shift = (keep + (p - 1.0)) * (_SELU_ALPHA * a)
    if inplace:
        return x.mul_(keep * a).add_(shift)
    return x * (keep * a) + shift


class _DropoutNd(Module):
    _function = staticmethod(dropout)

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p = _probability(p, type(self).__name__)
        self.inplace = bool(inplace)

    def forward(self, input):  # noqa: A002
        return type(self)._function(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """``nn.Dropout(p=0.5, inplace=False)``: each value zeroed with probability p while
    training, the others scaled by 1 / (1 - p); the identity in eval mode."""


class Dropout1d(_DropoutNd):
    """``nn.Dropout1d``: whole channels of (N, C, L) or (C, L)."""

    _function = staticmethod(dropout1d)


class Dropout2d(_DropoutNd):
    """``nn.Dropout2d``: whole channels of (N, C, H, W) (mask (N, C, 1, 1))."""

    _function = staticmethod(dropout2d)


class Dropout3d(_DropoutNd):
    """``nn.Dropout3d``: whole channels of (N, C, D, H, W) or (C, D, H, W)."""

    _function = staticmethod(dropout3d)


class AlphaDropout(_DropoutNd):
    """``nn.AlphaDropout`` for SELU networks (see ``F.alpha_dropout``)."""

    _function = staticmethod(alpha_dropout)


#: The module classes fastnn.nn exports from this file.
__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout"]
#: The functions fastnn.nn.functional exports from this file.
FUNCTIONAL = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout"]
