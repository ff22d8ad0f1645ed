"""PyTorch's activation modules (``nn.ReLU()``, ``nn.Softmax(dim=1)``, ...) and their
functional forms (``F.relu``, ``F.softmax``, ``F.normalize``, ...).

ReLU, LeakyReLU (slope >= 0), Sigmoid, Tanh, the exact GELU, softmax and log_softmax are
fastnn's fused ops (one kernel forward, one backward); the others are a few differentiable
tensor ops each, with torch's values and gradients (boundaries included: Hardtanh's gradient
is 0 at min_val and max_val, as torch's).

``inplace=True`` writes the result into the input tensor through the tensor API's in-place
machinery, with torch's autograd rules: a leaf that requires grad raises RuntimeError (use
``fn.no_grad()``), and a backward that saved the overwritten values raises instead of using
them. The result is computed out of place first, so it saves no memory; it only gives torch's
visible effect (the input holds the result).
"""

from __future__ import annotations

import math
import numbers
import warnings

from .. import _C
from ..tensor import Tensor, _softmax, as_tensor
from ..tensor_ops import inplace as write_inplace
from ..tensor_ops import to_dtype
from ..tensor_reduce import t_norm
from .module import Module

# SELU's constants (Klambauer et al. 2017), as torch.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# --- arguments --------------------------------------------------------------------------------

def tensor_input(input, who):  # noqa: A002 - torch's argument name
    """``input`` as a tensor: tensors as they are, arrays and lists converted (float32 for
    float data, as fn.tensor)."""
    if isinstance(input, Tensor):
        return input
    try:
        return as_tensor(input)
    except TypeError:
        raise TypeError(f"{who}: expected input to be a tensor or an array of numbers, got "
                        f"{type(input).__name__}") from None


def real_number(value, who, name):
    if type(value) is float:  # the common case, without the ABC check below
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{who}: expected {name} to be a number, got {value!r}")
    return float(value)


def _run(input, inplace, who, compute):  # noqa: A002
    """compute(x), or (inplace=True) compute(x) written into x, which is returned."""
    if not inplace:
        return compute(tensor_input(input, who))
    if not isinstance(input, Tensor):
        raise TypeError(f"{who}: inplace=True needs a fastnn tensor to write into, got "
                        f"{type(input).__name__}")
    return write_inplace(input, f"{who}_", compute)


def _records(x):
    return x.requires_grad and _C.is_grad_enabled()


# --- functional forms -------------------------------------------------------------------------

def relu(input, inplace=False):  # noqa: A002
    return _run(input, inplace, "relu", lambda x: _C.activation(x, "relu"))


def leaky_relu(input, negative_slope=0.01, inplace=False):  # noqa: A002
    """x for x > 0, negative_slope * x otherwise (the gradient at 0 is negative_slope, as
    torch's). The fused op takes slopes >= 0; a negative slope composes two ops."""
    slope = real_number(negative_slope, "leaky_relu", "negative_slope")
    if slope >= 0:
        return _run(input, inplace, "leaky_relu", lambda x: _C.activation(x, "leaky_relu", slope))
    return _run(input, inplace, "leaky_relu", lambda x: x.where(x > 0, x * slope))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):  # noqa: A002
    """x clamped to [min_val, max_val]; the gradient is 1 strictly inside and 0 elsewhere
    (torch's; a plain clamp would pass it at the boundaries too)."""
    low = real_number(min_val, "hardtanh", "min_val")
    high = real_number(max_val, "hardtanh", "max_val")
    if not low < high:
        raise ValueError(f"hardtanh: expected min_val < max_val, got min_val={low}, "
                         f"max_val={high}")

    def compute(x):
        if not _records(x):
            return x.clamp(low, high)
        return x.where((x > low) & (x < high), x.detach().clamp(low, high))

    return _run(input, inplace, "hardtanh", compute)


def relu6(input, inplace=False):  # noqa: A002
    return hardtanh(input, 0.0, 6.0, inplace)


def _elu(x, alpha):
    # expm1 of min(x, 0): the branch where() drops must stay finite, or its zero gradient
    # times an infinite derivative would be NaN.
    return x.where(x > 0, x.clamp(max=0.0).expm1() * alpha)


def elu(input, alpha=1.0, inplace=False):  # noqa: A002
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    a = real_number(alpha, "elu", "alpha")
    return _run(input, inplace, "elu", lambda x: _elu(x, a))


def selu(input, inplace=False):  # noqa: A002
    """SELU_SCALE * elu(x, SELU_ALPHA)."""
    return _run(input, inplace, "selu", lambda x: _elu(x, SELU_ALPHA) * SELU_SCALE)


def gelu(input, approximate="none"):  # noqa: A002
    """x * Phi(x): the fused exact (erf) form, or (approximate='tanh')
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) composed from tensor ops."""
    x = tensor_input(input, "gelu")
    if approximate == "none":
        return _C.activation(x, "gelu")
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * math.sqrt(2.0 / math.pi)
        return x * 0.5 * (_C.activation(inner, "tanh") + 1.0)
    raise ValueError(f"gelu: expected approximate 'none' or 'tanh', got {approximate!r}")


def silu(input, inplace=False):  # noqa: A002
    """x * sigmoid(x)."""
    return _run(input, inplace, "silu", lambda x: x * _C.activation(x, "sigmoid"))


def _softplus(x, beta, threshold):
    z = x * beta if beta != 1.0 else x
    # log1p(exp(z)) / beta, and x itself where z > threshold (torch's formula); the clamp
    # keeps the dropped branch finite.
    soft = z.clamp(max=threshold).exp().log1p()
    soft = soft * (1.0 / beta) if beta != 1.0 else soft
    return x.where(z > threshold, soft)


def softplus(input, beta=1.0, threshold=20.0):  # noqa: A002
    b = real_number(beta, "softplus", "beta")
    t = real_number(threshold, "softplus", "threshold")
    if b == 0:
        raise ValueError("softplus: expected beta != 0, got 0")
    return _softplus(tensor_input(input, "softplus"), b, t)


def mish(input, inplace=False):  # noqa: A002
    """x * tanh(softplus(x))."""
    return _run(input, inplace, "mish",
                lambda x: x * _C.activation(_softplus(x, 1.0, 20.0), "tanh"))


def sigmoid(input):  # noqa: A002
    return _C.activation(tensor_input(input, "sigmoid"), "sigmoid")


def tanh(input):  # noqa: A002
    return _C.activation(tensor_input(input, "tanh"), "tanh")


def _implicit_dim(name, ndim, stacklevel):
    """torch's rule for dim=None (deprecated there, with this warning): 0 for 0-, 1- and
    3-dimensional inputs, 1 otherwise."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", UserWarning, stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def _along(op, name, input, dim, stacklevel, dtype, negate=False):  # noqa: A002
    x = tensor_input(input, name)
    if dtype is not None:
        x = to_dtype(x, dtype)
    if negate:
        x = -x
    if dim is None:
        dim = _implicit_dim(name, x.ndim, stacklevel + 1)
    if x.ndim == 0:  # a scalar is one row of one element
        if dim not in (0, -1):
            raise IndexError(f"{name}: dim {dim} is out of range for a 0-d tensor")
        return _C.reshape(op(_C.reshape(x, [1]), -1), [])
    return _softmax(op, x, dim)


def softmax(input, dim=None, _stacklevel=3, dtype=None):  # noqa: A002
    """exp(x) / sum(exp(x)) along ``dim`` (one fused op along the last dim; another dim is
    transposed there and back). ``dtype``: the input is cast to it first, as torch does."""
    return _along(_C.softmax, "softmax", input, dim, _stacklevel, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):  # noqa: A002
    return _along(_C.log_softmax, "log_softmax", input, dim, _stacklevel, dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):  # noqa: A002
    """softmax(-x)."""
    return _along(_C.softmax, "softmin", input, dim, _stacklevel, dtype, negate=True)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):  # noqa: A002
    """x / max(||x||_p, eps) along ``dim``. For p = 2 the clamp is applied to the sum of
    squares (at eps^2, the same value), so an all-zero slice gets a zero gradient, as in
    torch, instead of sqrt's infinite derivative at 0."""
    if out is not None:
        raise NotImplementedError("normalize: out= is not supported; use the returned tensor")
    x = tensor_input(input, "normalize")
    e = real_number(eps, "normalize", "eps")
    if p in (2, 2.0) and e * e > 0:
        norm = (x * x).sum(dim, keepdim=True).clamp(min=e * e).sqrt()
    else:
        norm = t_norm(x, p, dim, keepdim=True).clamp(min=e)
    return x / norm


# --- modules ----------------------------------------------------------------------------------

class _InplaceActivation(Module):
    """An activation whose only option is torch's ``inplace``."""

    function = None  # the functional form

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, input):  # noqa: A002
        return type(self).function(input, inplace=self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class ReLU(_InplaceActivation):
    """``nn.ReLU(inplace=False)``: max(x, 0), one fused op."""

    function = staticmethod(relu)


class ReLU6(_InplaceActivation):
    """``nn.ReLU6(inplace=False)``: min(max(x, 0), 6)."""

    function = staticmethod(relu6)


class SELU(_InplaceActivation):
    """``nn.SELU(inplace=False)``."""

    function = staticmethod(selu)


class SiLU(_InplaceActivation):
    """``nn.SiLU(inplace=False)``: x * sigmoid(x) (also called swish)."""

    function = staticmethod(silu)


class Mish(_InplaceActivation):
    """``nn.Mish(inplace=False)``: x * tanh(softplus(x))."""

    function = staticmethod(mish)


class LeakyReLU(Module):
    """``nn.LeakyReLU(negative_slope=0.01, inplace=False)``."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = real_number(negative_slope, "LeakyReLU", "negative_slope")
        self.inplace = bool(inplace)

    def forward(self, input):  # noqa: A002
        return leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """``nn.ELU(alpha=1.0, inplace=False)``."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = real_number(alpha, "ELU", "alpha")
        self.inplace = bool(inplace)

    def forward(self, input):  # noqa: A002
        return elu(input, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Hardtanh(Module):
    """``nn.Hardtanh(min_val=-1.0, max_val=1.0, inplace=False)``."""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False, min_value=None,
                 max_value=None):
        super().__init__()
        if min_value is not None or max_value is not None:  # torch's deprecated spellings
            warnings.warn("Hardtanh: keyword arguments min_value and max_value are deprecated; "
                          "use min_val and max_val", FutureWarning, stacklevel=2)
            min_val = min_val if min_value is None else min_value
            max_val = max_val if max_value is None else max_value
        self.min_val = real_number(min_val, "Hardtanh", "min_val")
        self.max_val = real_number(max_val, "Hardtanh", "max_val")
        if not self.min_val < self.max_val:
            raise ValueError(f"Hardtanh: expected min_val < max_val, got min_val="
                             f"{self.min_val}, max_val={self.max_val}")
        self.inplace = bool(inplace)

    def forward(self, input):  # noqa: A002
        return hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        return (f"min_val={self.min_val}, max_val={self.max_val}"
                + (", inplace=True" if self.inplace else ""))


class GELU(Module):
    """``nn.GELU(approximate='none')``: the exact (erf) GELU, one fused op; 'tanh' gives
    the tanh approximation."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: expected approximate 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):  # noqa: A002
        return gelu(input, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Sigmoid(Module):
    """``nn.Sigmoid()``: one fused op."""

    def forward(self, input):  # noqa: A002
        return sigmoid(input)


class Tanh(Module):
    """``nn.Tanh()``: one fused op."""

    def forward(self, input):  # noqa: A002
        return tanh(input)


class Softplus(Module):
    """``nn.Softplus(beta=1.0, threshold=20.0)``: log(1 + exp(beta x)) / beta, and x where
    beta x > threshold."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = real_number(beta, "Softplus", "beta")
        self.threshold = real_number(threshold, "Softplus", "threshold")
        if self.beta == 0:
            raise ValueError("Softplus: expected beta != 0, got 0")

    def forward(self, input):  # noqa: A002
        return softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class _SoftmaxFamily(Module):
    function = None

    def __init__(self, dim=None):
        super().__init__()
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, numbers.Integral)):
            raise TypeError(f"{type(self).__name__}: expected dim to be an integer or None, "
                            f"got {dim!r}")
        self.dim = None if dim is None else int(dim)

    def forward(self, input):  # noqa: A002
        # _stacklevel: the implicit-dim warning points at the code that called the module
        # (through Module.__call__, _call_forward, Model.__call__, Module.call and forward).
        return type(self).function(input, self.dim, _stacklevel=8)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_SoftmaxFamily):
    """``nn.Softmax(dim=None)``: softmax along ``dim`` (None: torch's deprecated implicit
    choice, with its warning)."""

    function = staticmethod(softmax)


class LogSoftmax(_SoftmaxFamily):
    """``nn.LogSoftmax(dim=None)``: log(softmax(x)) in one fused, stable op."""

    function = staticmethod(log_softmax)


class Softmin(_SoftmaxFamily):
    """``nn.Softmin(dim=None)``: softmax(-x)."""

    function = staticmethod(softmin)


__all__ = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "GELU", "SiLU", "Mish", "Sigmoid",
           "Tanh", "Softplus", "Hardtanh", "Softmax", "LogSoftmax", "Softmin"]
FUNCTIONAL = ["relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "mish", "sigmoid",
              "tanh", "softplus", "hardtanh", "softmax", "log_softmax", "softmin", "normalize"]
