"""Weight initializers with Keras's names and formulas.

Each initializer is called as ``init(shape, dtype)`` and returns a numpy array; random ones
draw from fastnn's seeded generator, so ``fn.manual_seed`` fixes every initial weight.
"""

from __future__ import annotations

import math

import numpy as np

from . import _C
from ._lookup import resolve

# std of a standard normal truncated to [-2, 2]: Keras divides by it so the truncated draw
# keeps the intended variance.
_TRUNCATED_STD = 0.87962566103423978


def _fans(shape):
    shape = tuple(shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])  # (kh, kw, cin, cout) and (k, cin, cout) kernels
    return receptive * shape[-2], receptive * shape[-1]


def _uniform(shape, limit):
    return np.asarray(_C.uniform(list(shape), -limit, limit, "float64"))


def _normal(shape, std):
    return np.asarray(_C.normal(list(shape), 0.0, std, "float64"))


def _truncated_normal(shape, std):
    """Normal(0, std) redrawn outside two standard deviations, as Keras does."""
    values = _normal(shape, 1.0)
    bad = np.abs(values) > 2.0
    while bad.any():
        values[bad] = _normal((int(bad.sum()),), 1.0)
        bad = np.abs(values) > 2.0
    return values * std


class Initializer:
    def __call__(self, shape, dtype="float32"):
        return self.sample(tuple(int(s) for s in shape)).astype(dtype)

    def sample(self, shape):
        raise NotImplementedError

    def get_config(self):
        return dict(vars(self))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    def sample(self, shape):
        return np.zeros(shape)


class Ones(Initializer):
    def sample(self, shape):
        return np.ones(shape)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = float(value)

    def sample(self, shape):
        return np.full(shape, self.value)


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05):
        self.minval, self.maxval = float(minval), float(maxval)

    def sample(self, shape):
        u = np.asarray(_C.uniform(list(shape), self.minval, self.maxval, "float64"))
        return u


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05):
        self.mean, self.stddev = float(mean), float(stddev)

    def sample(self, shape):
        return self.mean + _normal(shape, self.stddev)


class TruncatedNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05):
        self.mean, self.stddev = float(mean), float(stddev)

    def sample(self, shape):
        return self.mean + _truncated_normal(shape, self.stddev)


class VarianceScaling(Initializer):
    """Keras's VarianceScaling: variance scale / fan, uniform or truncated normal."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal"):
        if scale <= 0:
            raise ValueError(f"VarianceScaling: expected scale > 0, got {scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: expected mode fan_in, fan_out or fan_avg, got {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError("VarianceScaling: expected distribution truncated_normal, "
                             f"untruncated_normal or uniform, got {distribution!r}")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def sample(self, shape):
        fan_in, fan_out = _fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "uniform":
            return _uniform(shape, math.sqrt(3.0 * variance))
        if self.distribution == "untruncated_normal":
            return _normal(shape, math.sqrt(variance))
        return _truncated_normal(shape, math.sqrt(variance) / _TRUNCATED_STD)


class GlorotUniform(VarianceScaling):
    def __init__(self):
        super().__init__(1.0, "fan_avg", "uniform")


class GlorotNormal(VarianceScaling):
    def __init__(self):
        super().__init__(1.0, "fan_avg", "truncated_normal")


class HeUniform(VarianceScaling):
    def __init__(self):
        super().__init__(2.0, "fan_in", "uniform")


class HeNormal(VarianceScaling):
    def __init__(self):
        super().__init__(2.0, "fan_in", "truncated_normal")


class LecunUniform(VarianceScaling):
    def __init__(self):
        super().__init__(1.0, "fan_in", "uniform")


class LecunNormal(VarianceScaling):
    def __init__(self):
        super().__init__(1.0, "fan_in", "truncated_normal")


def orthonormal(a, rows, cols):
    """The (semi-)orthogonal (rows, cols) matrix of a normal draw ``a`` of shape
    (max, min): the Q of its QR factorisation, signs fixed by R's diagonal so the result is
    uniformly distributed (Keras's Orthogonal and PyTorch's orthogonal_ alike)."""
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    return q.T if rows < cols else q


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix over (prod(shape[:-1]), shape[-1]), times gain."""

    def __init__(self, gain=1.0):
        self.gain = float(gain)

    def sample(self, shape):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: expected a shape with at least 2 dimensions, got {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = _normal((max(rows, cols), min(rows, cols)), 1.0)
        return self.gain * orthonormal(a, rows, cols).reshape(shape)


_BY_NAME = {
    "zeros": Zeros, "ones": Ones, "constant": Constant,
    "random_uniform": RandomUniform, "random_normal": RandomNormal,
    "uniform": RandomUniform, "normal": RandomNormal,  # Keras's short aliases
    "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "xavier_uniform": GlorotUniform, "xavier_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal,
}


def get(identifier, who="initializer"):
    """An initializer from a Keras name, an instance, a class or a callable(shape, dtype)."""
    return resolve(identifier, kind="initializer", base=Initializer, names=_BY_NAME, who=who)


zeros, ones = Zeros, Ones
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_uniform, he_normal = HeUniform, HeNormal
lecun_uniform, lecun_normal = LecunUniform, LecunNormal
orthogonal = Orthogonal
