"""PyTorch's ``nn.Linear``, ``nn.Identity``, ``nn.Flatten`` and ``nn.Unflatten``, and their
functional forms ``F.linear``."""

from __future__ import annotations

import math

import numpy as np

from .. import _C
from ..initializers import _uniform
from ..tensor import as_tensor
from .module import Module, dtype_name


def uniform_init(bound):
    """An add_weight initializer drawing U(-bound, bound) from fastnn's generator."""
    return lambda shape, dtype: _uniform(shape, bound).astype(dtype)


def positive_int(value, who, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{who}: expected {name} to be a positive integer, got {value!r}")
    return int(value)


def linear(input, weight, bias=None):  # noqa: A002 - torch's argument name
    """``F.linear``: input (..., in) @ weight (out, in)^T + bias (out,), one op (the GEMM
    reads the (out, in) weight as it is)."""
    return _C.dense(as_tensor(input), as_tensor(weight), bias, "linear", 0.0, "linear", True)


class Linear(Module):
    """``nn.Linear(in_features, out_features, bias=True)``: weight (out, in) and bias (out,)
    drawn from U(-1/sqrt(in), 1/sqrt(in)), PyTorch's initialisation."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        who = "Linear"
        super().__init__(dtype=dtype_name(dtype, who))
        self.in_features = positive_int(in_features, who, "in_features")
        self.out_features = positive_int(out_features, who, "out_features")
        bound = 1.0 / math.sqrt(self.in_features)
        self.weight = self.add_weight("weight", (self.out_features, self.in_features),
                                      uniform_init(bound))
        self.bias = self.add_weight("bias", (self.out_features,), uniform_init(bound)) \
            if bias else None
        if device is not None:
            self.to(device)

    def forward(self, input):  # noqa: A002
        return _C.dense(input, self.weight, self.bias, "linear", 0.0,
                        f"Linear({self.in_features}, {self.out_features})", True)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Identity(Module):
    """``nn.Identity()``: returns its input (arguments are accepted and ignored)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):  # noqa: A002
        return input


class Flatten(Module):
    """``nn.Flatten(start_dim=1, end_dim=-1)``."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):  # noqa: A002
        return as_tensor(input).flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """``nn.Unflatten(dim, unflattened_size)``."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input):  # noqa: A002
        x = as_tensor(input)
        d = self.dim % x.ndim
        return x.reshape(tuple(x.shape[:d]) + self.unflattened_size + tuple(x.shape[d + 1:]))

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


__all__ = ["Linear", "Identity", "Flatten", "Unflatten"]
FUNCTIONAL = ["linear"]
