"""``fastnn.nn.init``: PyTorch's initialisers, in place on a parameter.

Each function fills ``tensor`` in place and returns it, recording nothing (torch's run under
no_grad): the values are written into the tensor's own memory with ``copy_`` under
``fn.no_grad()``, so the tensor stays the same object and an optimizer (or a captured step)
made before sees the new values. Random values come from fastnn's seeded generator
(``fn.manual_seed``), drawn in float64 as the layers' own initialisers draw them (so
``kaiming_uniform_(w, a=math.sqrt(5))`` after a seed gives the weights ``nn.Linear`` draws
after that seed) and on the tensor's device. The numbers differ from torch's generator; the
distributions, bounds and fans are torch's.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import _C
from ..initializers import orthonormal
from ..tensor import Tensor, no_grad

_FLOATS = ("float32", "float64")


# --- fans and gains ---------------------------------------------------------------------------

def _check_tensor(tensor, who):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"nn.init.{who}: expected a fastnn tensor (a parameter), got "
                        f"{type(tensor).__name__}")
    return tensor


def _calculate_fan_in_and_fan_out(tensor):
    """torch's fans of a weight (out, in, *kernel): fan_in = in * prod(kernel), fan_out =
    out * prod(kernel)."""
    shape = tuple(tensor.shape)
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         f"dimensions (got shape {shape})")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower() if isinstance(mode, str) else mode
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


_UNIT_GAIN = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (torch's table): 1 for linear, conv and
    sigmoid; 5/3 for tanh; sqrt(2) for relu; sqrt(2 / (1 + slope^2)) for leaky_relu
    (param: the slope, 0.01 by default); 3/4 for selu."""
    if nonlinearity in _UNIT_GAIN:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float, numbers.Real)):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


# --- writing in place -------------------------------------------------------------------------

def _write(tensor, values):
    """tensor's elements = values (a tensor or an array of its shape), in its memory."""
    if not isinstance(values, Tensor):
        values = _C.from_numpy(np.ascontiguousarray(values, dtype=np.float64), "float64")
    if values.device != tensor.device:
        values = values.to_device(tensor.device)
    with no_grad():
        tensor.copy_(values)  # converts to tensor's dtype; bumps its version, as torch's
    return tensor


def _random_target(tensor, who, generator):
    _check_tensor(tensor, who)
    if generator is not None:
        raise NotImplementedError(f"nn.init.{who}: generator= is not supported; fastnn draws "
                                  "from its global generator (seed it with fn.manual_seed)")
    if tensor.dtype not in _FLOATS:
        raise TypeError(f"nn.init.{who}: expected a float32 or float64 tensor, got "
                        f"{tensor.dtype}")
    return tensor


def _number(value, who, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"nn.init.{who}: expected {name} to be a number, got {value!r}")
    return float(value)


def _uniform(tensor, low, high):
    values = _C.uniform(list(tensor.shape), low, high, "float64", tensor.device)
    return _write(tensor, values)


def _normal(tensor, mean, std):
    values = _C.normal(list(tensor.shape), mean, std, "float64", tensor.device)
    return _write(tensor, values)


def _is_empty(tensor, who):
    if tensor.numel() == 0:
        warnings.warn(f"nn.init.{who}: Initializing zero-element tensors is a no-op",
                      UserWarning, stacklevel=3)
        return True
    return False


# --- plain distributions ----------------------------------------------------------------------

def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """U(a, b)."""
    _random_target(tensor, "uniform_", generator)
    low, high = _number(a, "uniform_", "a"), _number(b, "uniform_", "b")
    if low > high:
        raise ValueError(f"nn.init.uniform_: expected a <= b, got a={low}, b={high}")
    return _uniform(tensor, low, high)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """N(mean, std^2)."""
    _random_target(tensor, "normal_", generator)
    s = _number(std, "normal_", "std")
    if s < 0:
        raise ValueError(f"nn.init.normal_: expected std >= 0, got {s}")
    return _normal(tensor, _number(mean, "normal_", "mean"), s)


def constant_(tensor, val):
    _check_tensor(tensor, "constant_")
    with no_grad():
        tensor.fill_(val)
    return tensor


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def eye_(tensor):
    """The identity matrix (ones on the diagonal of a 2-D tensor, zeros elsewhere)."""
    _check_tensor(tensor, "eye_")
    if tensor.ndim != 2:
        raise ValueError(f"nn.init.eye_: Only tensors with 2 dimensions are supported, got "
                         f"shape {tuple(tensor.shape)}")
    return _write(tensor, np.eye(*tensor.shape))


# Acklam's rational approximation of the standard normal's inverse CDF (relative error below
# 1.2e-9): the central region and the two tails.
_CENTRAL_NUM = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
_CENTRAL_DEN = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                6.680131188771972e+01, -1.328068155288572e+01, 1.0)
_TAIL_NUM = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)
_TAIL_DEN = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
             3.754408661907416e+00, 1.0)
_TAIL_P = 0.02425


def _ndtri(p):
    """The standard normal quantile of each probability in ``p`` (numpy, vectorised)."""
    p = np.asarray(p, dtype=np.float64)
    out = np.empty_like(p)
    central = (p >= _TAIL_P) & (p <= 1 - _TAIL_P)
    q = p[central] - 0.5
    r = q * q
    out[central] = q * np.polyval(_CENTRAL_NUM, r) / np.polyval(_CENTRAL_DEN, r)
    with np.errstate(divide="ignore", invalid="ignore"):  # p = 0 or 1: set below
        low = p < _TAIL_P
        q = np.sqrt(-2 * np.log(p[low]))
        out[low] = np.polyval(_TAIL_NUM, q) / np.polyval(_TAIL_DEN, q)
        high = p > 1 - _TAIL_P
        q = np.sqrt(-2 * np.log1p(-p[high]))
        out[high] = -np.polyval(_TAIL_NUM, q) / np.polyval(_TAIL_DEN, q)
    out[p <= 0] = -np.inf
    out[p >= 1] = np.inf
    return out


def _norm_cdf(x):
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """N(mean, std^2) restricted to [a, b] (a and b are values, not numbers of std), by
    torch's method: a uniform draw between the CDF's values at a and b, through the inverse
    CDF, clamped to [a, b]."""
    who = "trunc_normal_"
    _random_target(tensor, who, generator)
    mean, std = _number(mean, who, "mean"), _number(std, who, "std")
    a, b = _number(a, who, "a"), _number(b, who, "b")
    if not a < b:
        raise ValueError(f"nn.init.{who}: expected a < b, got a={a}, b={b}")
    if std <= 0:
        raise ValueError(f"nn.init.{who}: expected std > 0, got {std}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The "
                      "distribution of values may be incorrect.", UserWarning, stacklevel=2)
    low, high = _norm_cdf((a - mean) / std), _norm_cdf((b - mean) / std)
    u = np.asarray(_C.uniform(list(tensor.shape), low, high, "float64"))
    return _write(tensor, np.clip(mean + std * _ndtri(u), a, b))


# --- scaled by the fans ------------------------------------------------------------------------

def xavier_uniform_(tensor, gain=1.0, generator=None):
    """U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio)."""
    _random_target(tensor, "xavier_uniform_", generator)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if tensor.numel() == 0:
        return tensor
    std = _number(gain, "xavier_uniform_", "gain") * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return _uniform(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    _random_target(tensor, "xavier_normal_", generator)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if tensor.numel() == 0:
        return tensor
    std = _number(gain, "xavier_normal_", "gain") * math.sqrt(2.0 / float(fan_in + fan_out))
    return _normal(tensor, 0.0, std)


def _kaiming_std(tensor, a, mode, nonlinearity):
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """U(-bound, bound), bound = gain * sqrt(3 / fan) (He et al.); ``a``: leaky_relu's
    negative slope for the gain; ``mode``: 'fan_in' keeps the forward pass's variance,
    'fan_out' the backward's."""
    who = "kaiming_uniform_"
    _random_target(tensor, who, generator)
    if _is_empty(tensor, who):
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return _uniform(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """N(0, std^2), std = gain / sqrt(fan)."""
    who = "kaiming_normal_"
    _random_target(tensor, who, generator)
    if _is_empty(tensor, who):
        return tensor
    return _normal(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity))


def orthogonal_(tensor, gain=1, generator=None):
    """A (semi-)orthogonal matrix over (shape[0], numel / shape[0]), times gain (torch's:
    the Q of a QR factorisation of a normal matrix, its signs fixed by R's diagonal)."""
    who = "orthogonal_"
    _random_target(tensor, who, generator)
    if tensor.ndim < 2:
        raise ValueError(f"nn.init.{who}: Only tensors with 2 or more dimensions are "
                         f"supported, got shape {tuple(tensor.shape)}")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = np.asarray(_C.normal([rows, cols], 0.0, 1.0, "float64"))  # drawn as torch draws
    q = orthonormal(flat.T if rows < cols else flat, rows, cols)
    return _write(tensor, (_number(gain, who, "gain") * q).reshape(tuple(tensor.shape)))


def _deprecated(function):
    """torch's old names without the underscore (nn.init.xavier_uniform), with its warning."""
    old = function.__name__[:-1]

    def deprecated(*args, **kwargs):
        warnings.warn(f"nn.init.{old} is now deprecated in favor of nn.init.{function.__name__}.",
                      FutureWarning, stacklevel=2)
        return function(*args, **kwargs)

    deprecated.__name__ = old
    deprecated.__doc__ = f"Deprecated: use nn.init.{function.__name__}."
    return deprecated


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "ones_", "zeros_", "eye_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
           "trunc_normal_", "orthogonal_", "uniform", "normal", "constant", "xavier_uniform",
           "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal"]
