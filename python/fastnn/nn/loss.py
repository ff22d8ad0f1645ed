"""PyTorch's loss modules (``nn.CrossEntropyLoss()``, ``nn.MSELoss()``, ...) and their
functional forms (``F.cross_entropy``, ...), called as torch's: ``loss_fn(input, target)``.

Fused fastnn ops (forward and backward in C++) run cross_entropy on probabilities without
weight, and mse, l1 and BCE-with-logits without weights (a target that needs a gradient
takes the composed path: the fused ops give only the input's). Cross-entropy on class
indices composes log_softmax, a gather and a masked mean: any target may equal
ignore_index (torch's default -100), and which path runs must not depend on the targets'
values, or a captured step (recorded on one batch, replayed on others) would differ from
the eager one. The fused sparse op has no ignore_index yet (a kernel change: bench/NOTES).
The rest composes tensor ops with torch's formulas and reductions ('mean' over class
indices: sum(w[y] loss) / sum(w[y]) over the targets not ignored).

Targets may be tensors, numpy arrays or lists: floats in the input's dtype, class indices
as int64 (arrays copied while gradients are recorded: the backward sees the call's values).
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import _C
from ..tensor import Tensor, _raw_dtype, no_grad, numeric_array
from ..tensor_ops import as_operand, to_dtype
from ..tensor_ops import where as _where
from .activation import real_number, tensor_input
from .conv import to_channels_last
from .module import Module

_REDUCTIONS = ("mean", "sum", "none")
_FLOATS = ("float32", "float64")
# The floor of x (1 - x) in torch's BCE gradient: 1e-12 as a float32 constant, as torch's.
_BCE_EPSILON = float(np.float32(1e-12))


# --- arguments --------------------------------------------------------------------------------

def reduction_name(size_average, reduce, reduction, who, extra=()):
    """torch's reduction, from the deprecated size_average/reduce pair when either is given
    (with torch's warning)."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
        warnings.warn("size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", UserWarning, stacklevel=3)
    if reduction not in _REDUCTIONS + extra:
        expected = ", ".join(repr(r) for r in _REDUCTIONS + extra)
        raise ValueError(f"{who}: expected reduction {expected}, got {reduction!r}")
    return reduction


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _needs_grad(t):
    return t.requires_grad and _C.is_grad_enabled()


def _float_input(input, who):  # noqa: A002
    x = tensor_input(input, who)
    if _raw_dtype(x) not in _FLOATS:
        raise TypeError(f"{who}: expected a float32 or float64 input, got {x.dtype}")
    return x


def _same_shape_target(x, target, who, broadcast):
    """The target in x's dtype and device. Another shape is broadcast with torch's warning
    (``broadcast``: mse, l1, smooth_l1, huber, kl_div) or refused (the BCE losses)."""
    if type(target) is Tensor and _raw_dtype(target) == _raw_dtype(x):
        t = target
    else:
        t = as_operand(target, x.dtype, x.device, who)
    if t.shape == x.shape:
        return x, t
    if not broadcast:
        raise ValueError(f"{who}: expected target of the input's shape {tuple(x.shape)}, got "
                         f"{tuple(t.shape)}")
    try:
        shape = tuple(np.broadcast_shapes(tuple(x.shape), tuple(t.shape)))
    except ValueError:
        raise ValueError(f"{who}: target of shape {tuple(t.shape)} does not match input of "
                         f"shape {tuple(x.shape)} (nor broadcast with it)") from None
    warnings.warn(f"{who}: Using a target size ({tuple(t.shape)}) that is different to the "
                  f"input size ({tuple(x.shape)}). This will likely lead to incorrect results "
                  "due to broadcasting. Please ensure they have the same size.", UserWarning,
                  stacklevel=4)
    return x.expand(*shape), t.expand(*shape)


def _elementwise_weight(weight, x, who, same_size=False):
    """A weight per element: broadcast to x's shape (BCE's), or of x's size (mse/l1/huber)."""
    w = as_operand(weight, x.dtype, x.device, who)
    ok = tuple(w.shape) == tuple(x.shape)
    if not ok and not same_size:
        try:
            ok = tuple(np.broadcast_shapes(tuple(w.shape), tuple(x.shape))) == tuple(x.shape)
        except ValueError:
            ok = False
    if not ok:
        raise ValueError(f"{who}: expected weight of the input's shape {tuple(x.shape)}"
                         f"{'' if same_size else ' (or broadcastable to it)'}, got "
                         f"{tuple(w.shape)}")
    return w


def _fused_elementwise(x, t, kind, from_logits, reduction, who):
    """fastnn's fused loss op on every element as its own sample (a (numel, 1) view), or
    None where it cannot give every gradient (a target that requires grad)."""
    if _needs_grad(t):
        return None
    out = _C.loss(_C.reshape(x, [-1, 1]), _C.reshape(t, [-1, 1]), kind, from_logits,
                  reduction, who)
    return _C.reshape(out, list(x.shape)) if reduction == "none" else out


# --- cross entropy and NLL --------------------------------------------------------------------

def _target(target, x, who):
    """(target tensor, whether it holds class probabilities): float targets are
    probabilities (as torch decides), integer ones class indices (as int64)."""
    if isinstance(target, Tensor):
        if target.is_floating_point():
            return (target if target.dtype == x.dtype else to_dtype(target, x.dtype)), True
        if target.dtype == "bool":
            raise TypeError(f"{who}: expected integer class indices or float class "
                            "probabilities as target, got a bool tensor")
        return (target if target.dtype == "int64" else to_dtype(target, "int64")), False
    array = numeric_array(target, who, "target")
    if array.dtype.kind == "b":
        raise TypeError(f"{who}: expected integer class indices or float class probabilities "
                        "as target, got bools")
    soft = array.dtype.kind == "f"
    return as_operand(array, x.dtype if soft else "int64", x.device, who), soft


def _label_smoothing(value, who):
    smoothing = real_number(value, who, "label_smoothing")
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"{who}: expected label_smoothing in [0, 1], got {smoothing}")
    return smoothing


def _ignore_index(value, who):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{who}: expected ignore_index to be an integer, got {value!r}")
    return int(value)


def _class_weight(weight, x, classes, who):
    if weight is None:
        return None
    w = as_operand(weight, x.dtype, x.device, who)
    if tuple(w.shape) != (classes,):
        raise ValueError(f"{who}: expected weight of shape ({classes},), one per class, got "
                         f"{tuple(w.shape)}")
    return w


def _classes(x, who):
    """C of an input (C,), (N, C) or (N, C, d1, ...)."""
    if x.ndim == 0:
        raise ValueError(f"{who}: expected input of shape (C,), (N, C) or (N, C, d1, ...), "
                         "got a scalar")
    return x.shape[0] if x.ndim == 1 else x.shape[1]


def _class_layout(x, target, who):
    """Input (C,), (N, C) or (N, C, d1, ...) with class indices (), (N,) or (N, d1, ...)
    checked, and both as (rows..., C) and (rows...): the class axis last."""
    shape = tuple(x.shape)
    expected = () if x.ndim == 1 else (shape[0],) + shape[2:]
    if tuple(target.shape) != expected:
        hint = (" (float targets of the input's shape are class probabilities)"
                if len(target.shape) == len(shape) else "")
        raise ValueError(f"{who}: expected target of shape {expected} (class indices) for input "
                         f"of shape {shape}, got {tuple(target.shape)}{hint}")
    if x.ndim == 1:
        return _C.reshape(x, [1, shape[0]]), _C.reshape(target, [1])
    return to_channels_last(x), target


def _bad_class(target, ignore_index, classes, who):
    """The IndexError for a class index outside [0, C) that is not ignore_index (a host
    read, on the error path only)."""
    values = np.asarray(target.cpu()).reshape(-1)
    bad = values[(values != ignore_index) & ((values < 0) | (values >= classes))]
    first = int(bad[0]) if bad.size else "?"
    return IndexError(f"{who}: Target {first} is out of bounds: expected class indices in "
                      f"[0, {classes}) or ignore_index={ignore_index}")


def _nll(logp, target, weight, ignore_index, reduction, smoothing, who):
    """torch's nll_loss (and cross_entropy's label smoothing) on log-probabilities
    (rows..., C) and class indices (rows...)."""
    classes = logp.shape[-1]
    keep = target != ignore_index
    safe = target.where(keep, 0)  # ignored positions read class 0, then count for nothing
    try:
        picked = logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    except IndexError:
        raise _bad_class(target, ignore_index, classes, who) from None
    scale = to_dtype(keep, logp.dtype)  # w[y] of each kept target, 0 where ignored
    if weight is not None:
        scale = weight.gather(0, safe.reshape(-1)).reshape(*safe.shape) * scale
    terms = [(-(picked * scale), 1.0 - smoothing)]
    if smoothing > 0:  # the uniform part: the (weighted) mean of -log p over the classes
        spread = logp if weight is None else logp * weight
        terms.append((-(spread.sum(-1) * to_dtype(keep, logp.dtype)), smoothing / classes))
    if reduction == "mean":
        total = scale.sum()
        empty = total == 0
        # Every target ignored: torch's NaN, with a zero gradient (0/0's would be NaN too).
        nan_if_empty = _where(empty, math.nan, 0.0)
        total = total.where(~empty, 1.0)
    out = None
    for loss, factor in terms:
        if reduction == "mean":
            loss = loss.sum() / total + nan_if_empty
        else:
            loss = _reduce(loss, reduction)
        loss = loss * factor if factor != 1.0 else loss
        out = loss if out is None else out + loss
    return out


def _index_cross_entropy(logits, target, weight, ignore_index, reduction, smoothing, who):
    """One fused op each way (ops/loss.cpp index_cross_entropy) on (rows, C) logits; class
    weights that themselves train take the composed path, which differentiates them."""
    if weight is not None and _needs_grad(weight):
        return _nll(_C.log_softmax(logits, -1), target, weight, ignore_index, reduction,
                    smoothing, who)
    classes = logits.shape[-1]
    out = _C.index_cross_entropy(_C.reshape(logits, [-1, classes]), _C.reshape(target, [-1]),
                                 weight, ignore_index, smoothing, reduction, who)
    return _C.reshape(out, list(target.shape)) if reduction == "none" else out


def _soft_cross_entropy(logits, target, weight, reduction, smoothing, who):
    """-sum_c w_c t_c log softmax(x)_c per row; 'mean' divides by the number of rows."""
    classes = logits.shape[-1]
    if smoothing > 0:
        target = target * (1.0 - smoothing) + smoothing / classes
    if weight is None and not _needs_grad(target):
        return _C.loss(logits, target, "categorical_crossentropy", True, reduction, who)
    terms = _C.log_softmax(logits, -1) * target
    return _reduce(-(terms if weight is None else terms * weight).sum(-1), reduction)


def _cross_entropy(input, target, weight, ignore_index, reduction,  # noqa: A002
                   label_smoothing, who):
    x = _float_input(input, who)
    smoothing = _label_smoothing(label_smoothing, who)
    classes = _classes(x, who)
    w = _class_weight(weight, x, classes, who)
    t, soft = _target(target, x, who)
    if soft:
        if tuple(t.shape) != tuple(x.shape):
            raise ValueError(f"{who}: expected float targets (class probabilities) of the "
                             f"input's shape {tuple(x.shape)}, got {tuple(t.shape)} (class "
                             "indices must be integers)")
        flat = (lambda a: _C.reshape(a, [1, classes])) if x.ndim == 1 else to_channels_last
        out = _soft_cross_entropy(flat(x), flat(t), w, reduction, smoothing, who)
    else:
        logits, t = _class_layout(x, t, who)
        out = _index_cross_entropy(logits, t, w, _ignore_index(ignore_index, who), reduction,
                                   smoothing, who)
    return _C.reshape(out, []) if x.ndim == 1 and reduction == "none" else out


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,  # noqa: A002
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """torch's cross_entropy: input logits (C,), (N, C) or (N, C, d1, ...); target class
    indices (), (N,) or (N, d1, ...) (integers), or class probabilities of the input's
    shape (floats)."""
    who = "cross_entropy"
    reduction = reduction_name(size_average, reduce, reduction, who)
    return _cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing, who)


def _nll_loss(input, target, weight, ignore_index, reduction, who):  # noqa: A002
    x = _float_input(input, who)
    w = _class_weight(weight, x, _classes(x, who), who)
    t, soft = _target(target, x, who)
    if soft:
        raise TypeError(f"{who}: expected class indices (integers) as target, got "
                        f"{t.dtype} values")
    logp, t = _class_layout(x, t, who)
    out = _nll(logp, t, w, _ignore_index(ignore_index, who), reduction, 0.0, who)
    return _C.reshape(out, []) if x.ndim == 1 and reduction == "none" else out


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100,  # noqa: A002
             reduce=None, reduction="mean"):
    """torch's nll_loss: -input[n, y_n] (log-probabilities (N, C, ...) in), weighted by
    weight[y_n], ignore_index skipped."""
    who = "nll_loss"
    reduction = reduction_name(size_average, reduce, reduction, who)
    return _nll_loss(input, target, weight, ignore_index, reduction, who)


# --- regression losses ------------------------------------------------------------------------

def _pointwise(input, target, reduction, weight, kind, compose, who,  # noqa: A002
               mean_by_weight=True):
    x = _float_input(input, who)
    x, t = _same_shape_target(x, target, who, broadcast=True)
    if weight is None:
        fused = _fused_elementwise(x, t, kind, False, reduction, who) if kind else None
        return fused if fused is not None else _reduce(compose(x - t), reduction)
    # torch's weighted 'mean': sum(w l) / sum(w) for mse and l1, mean(w l) for huber.
    w = _elementwise_weight(weight, x, who, same_size=True)
    loss = compose(x - t) * w
    return loss.sum() / w.sum() if reduction == "mean" and mean_by_weight else _reduce(
        loss, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
             weight=None):
    who = "mse_loss"
    reduction = reduction_name(size_average, reduce, reduction, who)
    return _pointwise(input, target, reduction, weight, "mean_squared_error", lambda d: d * d,
                      who)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
            weight=None):
    who = "l1_loss"
    reduction = reduction_name(size_average, reduce, reduction, who)
    return _pointwise(input, target, reduction, weight, "mean_absolute_error", lambda d: d.abs(),
                      who)


def _width(value, who, name, positive):
    """smooth L1's beta (>= 0) or Huber's delta (> 0)."""
    width = real_number(value, who, name)
    if width < 0 or (positive and width == 0):
        raise ValueError(f"{who}: expected {name} {'>' if positive else '>='} 0, got {width}")
    return width


def _smooth(d, width):
    """0.5 d^2 / width where |d| < width, |d| - 0.5 width elsewhere (smooth L1)."""
    a = d.abs()
    return (d * d * (0.5 / width)).where(a < width, a - 0.5 * width)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
                   beta=1.0):
    who = "smooth_l1_loss"
    reduction = reduction_name(size_average, reduce, reduction, who)
    b = _width(beta, who, "beta", positive=False)
    if b == 0:  # torch's rule: plain L1
        return _pointwise(input, target, reduction, None, "mean_absolute_error",
                          lambda d: d.abs(), who)
    return _pointwise(input, target, reduction, None, None, lambda d: _smooth(d, b), who)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):  # noqa: A002
    """delta * smooth_l1(beta=delta): 0.5 d^2 inside delta, delta (|d| - 0.5 delta) outside."""
    who = "huber_loss"
    reduction = reduction_name(None, None, reduction, who)
    dl = _width(delta, who, "delta", positive=True)
    return _pointwise(input, target, reduction, weight, None, lambda d: _smooth(d, dl) * dl, who,
                      mean_by_weight=False)


# --- binary cross entropy ---------------------------------------------------------------------

def _binary_cross_entropy(input, target, weight, reduction, who):  # noqa: A002
    x = _float_input(input, who)
    x, t = _same_shape_target(x, target, who, broadcast=False)
    if x.numel():
        low, high = _C.max_all(x.detach(), False).item(), _C.max_all(x.detach(), True).item()
        if not (0.0 <= low and high <= 1.0):  # NaN fails too
            raise ValueError(f"{who}: all elements of input should be between 0 and 1 "
                             f"(probabilities), got values in [{low}, {high}]")
    x_grad, t_grad = _needs_grad(x), _needs_grad(t)
    with no_grad():
        log_p = x.log().clamp(min=-100.0)  # torch clamps the logs at -100
        log_q = (-x).log1p().clamp(min=-100.0)
        value = (t - 1.0) * log_q - t * log_p
        # torch's input gradient is not the derivative of the clamped logs (0 * inf = NaN at
        # x = 0 or 1) but (x - t) / max(x (1 - x), eps). It rides on the value through
        # (x - x.detach()), which is 0 with derivative 1; so does the target's, log(1 - x) -
        # log(x) (with the clamped logs: finite, where torch's is infinite at x = 0 or 1).
        grad_x = (x - t) / ((1.0 - x) * x).clamp(min=_BCE_EPSILON) if x_grad else None
        grad_t = log_q - log_p if t_grad else None
    loss = value
    if grad_x is not None:
        loss = loss + (x - x.detach()) * grad_x
    if grad_t is not None:
        loss = loss + (t - t.detach()) * grad_t
    if weight is not None:
        loss = loss * _elementwise_weight(weight, x, who)
    return _reduce(loss, reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,  # noqa: A002
                         reduction="mean"):
    """-w (t log x + (1 - t) log(1 - x)) on probabilities x (logs clamped at -100, as torch's;
    an input outside [0, 1] raises ValueError, a host read of its range)."""
    who = "binary_cross_entropy"
    reduction = reduction_name(size_average, reduce, reduction, who)
    return _binary_cross_entropy(input, target, weight, reduction, who)


def _bce_with_logits(input, target, weight, pos_weight, reduction, who):  # noqa: A002
    x = _float_input(input, who)
    x, t = _same_shape_target(x, target, who, broadcast=False)
    if weight is None and pos_weight is None:
        fused = _fused_elementwise(x, t, "binary_crossentropy", True, reduction, who)
        if fused is not None:
            return fused
    # (1 - t) x + (1 + (pos_weight - 1) t) softplus(-x); softplus(-x) = -log sigmoid(x) is
    # the fused op's value at t = 1 (stable, with the exact gradient sigmoid(x) - 1).
    ones = _C.full(list(x.shape), 1.0, str(x.dtype), x.device)
    softplus_neg = _C.loss(x.reshape(-1, 1), ones.reshape(-1, 1), "binary_crossentropy", True,
                           "none", who).reshape(*x.shape)
    if pos_weight is not None:
        pw = as_operand(pos_weight, x.dtype, x.device, who)
        try:
            np.broadcast_shapes(tuple(pw.shape), tuple(x.shape))
        except ValueError:
            raise ValueError(f"{who}: pos_weight of shape {tuple(pw.shape)} does not broadcast "
                             f"with input of shape {tuple(x.shape)} (expected one weight per "
                             "class, on the last dim)") from None
        softplus_neg = softplus_neg * ((pw - 1.0) * t + 1.0)
    loss = (1.0 - t) * x + softplus_neg
    if weight is not None:
        loss = loss * _elementwise_weight(weight, x, who)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,  # noqa: A002
                                     reduce=None, reduction="mean", pos_weight=None):
    """Sigmoid + binary cross entropy in one stable formula, on logits."""
    who = "binary_cross_entropy_with_logits"
    reduction = reduction_name(size_average, reduce, reduction, who)
    return _bce_with_logits(input, target, weight, pos_weight, reduction, who)


# --- KL divergence ----------------------------------------------------------------------------

def _kl_div(input, target, reduction, log_target, who):  # noqa: A002
    x = _float_input(input, who)
    x, t = _same_shape_target(x, target, who, broadcast=True)
    if log_target:
        loss = t.exp() * (t - x)
    else:  # t (log t - x), with 0 log 0 = 0 (torch's xlogy)
        loss = t * (t.where(t != 0, 1.0).log() - x)
    if reduction == "batchmean":
        total = loss.sum()
        return total / x.shape[0] if x.ndim else total
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", UserWarning, stacklevel=4)
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
           log_target=False):
    """KL(target || exp(input)) pointwise: input holds log-probabilities; target
    probabilities (or log-probabilities with log_target=True)."""
    who = "kl_div"
    reduction = reduction_name(size_average, reduce, reduction, who, extra=("batchmean",))
    return _kl_div(input, target, reduction, bool(log_target), who)


# --- modules ----------------------------------------------------------------------------------

class _Loss(Module):
    """torch's _Loss: a module holding ``reduction`` (from the deprecated size_average and
    reduce too); call it as ``loss_fn(input, target)``."""

    #: fit calls a compiled loss as loss(y_pred, y_true), torch's order (training.loss_value).
    prediction_first = True

    def __init__(self, size_average=None, reduce=None, reduction="mean", extra=()):
        super().__init__()
        self.reduction = reduction_name(size_average, reduce, reduction, type(self).__name__,
                                        extra)

    @property
    def _who(self):
        return type(self).__name__


class _WeightedLoss(_Loss):
    """A loss with a ``weight`` buffer (in state_dict when given, as torch's)."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _buffer(weight, self._who, "weight"))


def _buffer(value, who, name):
    """A weight given to a loss module, as a tensor (float32 unless it is float64)."""
    if value is None or isinstance(value, Tensor):
        return value
    array = numeric_array(value, who, name)
    return as_operand(array, "float64" if array.dtype == np.float64 else "float32", "cpu", who)


class CrossEntropyLoss(_WeightedLoss):
    """``nn.CrossEntropyLoss(weight=None, ignore_index=-100, reduction='mean',
    label_smoothing=0.0)`` on logits: see ``cross_entropy``. Without weight and label
    smoothing, class-index targets run fastnn's fused softmax cross-entropy op."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = _ignore_index(ignore_index, self._who)
        self.label_smoothing = _label_smoothing(label_smoothing, self._who)

    def forward(self, input, target):  # noqa: A002
        return _cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                              self.label_smoothing, self._who)


class NLLLoss(_WeightedLoss):
    """``nn.NLLLoss(weight=None, ignore_index=-100, reduction='mean')`` on log-probabilities
    (e.g. nn.LogSoftmax's output)."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = _ignore_index(ignore_index, self._who)

    def forward(self, input, target):  # noqa: A002
        return _nll_loss(input, target, self.weight, self.ignore_index, self.reduction,
                         self._who)


class MSELoss(_Loss):
    """``nn.MSELoss(reduction='mean')``: (input - target)^2, one fused op."""

    def forward(self, input, target):  # noqa: A002
        return _pointwise(input, target, self.reduction, None, "mean_squared_error",
                          lambda d: d * d, self._who)


class L1Loss(_Loss):
    """``nn.L1Loss(reduction='mean')``: |input - target|, one fused op."""

    def forward(self, input, target):  # noqa: A002
        return _pointwise(input, target, self.reduction, None, "mean_absolute_error",
                          lambda d: d.abs(), self._who)


class SmoothL1Loss(_Loss):
    """``nn.SmoothL1Loss(reduction='mean', beta=1.0)``."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = _width(beta, self._who, "beta", positive=False)

    def forward(self, input, target):  # noqa: A002
        return smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """``nn.HuberLoss(reduction='mean', delta=1.0)``."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(None, None, reduction)
        self.delta = _width(delta, self._who, "delta", positive=True)

    def forward(self, input, target):  # noqa: A002
        return huber_loss(input, target, self.reduction, self.delta)


class BCELoss(_WeightedLoss):
    """``nn.BCELoss(weight=None, reduction='mean')`` on probabilities (after a sigmoid);
    nn.BCEWithLogitsLoss on logits is faster and more stable."""

    def forward(self, input, target):  # noqa: A002
        return _binary_cross_entropy(input, target, self.weight, self.reduction, self._who)


class BCEWithLogitsLoss(_WeightedLoss):
    """``nn.BCEWithLogitsLoss(weight=None, reduction='mean', pos_weight=None)``: one fused
    op without weights."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 pos_weight=None):
        super().__init__(weight, size_average, reduce, reduction)
        self.register_buffer("pos_weight", _buffer(pos_weight, self._who, "pos_weight"))

    def forward(self, input, target):  # noqa: A002
        return _bce_with_logits(input, target, self.weight, self.pos_weight, self.reduction,
                                self._who)


class KLDivLoss(_Loss):
    """``nn.KLDivLoss(reduction='mean', log_target=False)``; reduction='batchmean' is the
    KL divergence's definition ('mean' also divides by the support size, with torch's
    warning)."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(size_average, reduce, reduction, extra=("batchmean",))
        self.log_target = bool(log_target)

    def forward(self, input, target):  # noqa: A002
        return _kl_div(input, target, self.reduction, self.log_target, self._who)


__all__ = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
           "BCELoss", "BCEWithLogitsLoss", "KLDivLoss"]
FUNCTIONAL = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss",
              "huber_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
              "kl_div"]
