"""Functional ops on tensors (``fn.relu(x)``, ``fn.concat([a, b])``, ...).

Every function accepts fastnn tensors or array-likes and records autograd nodes when an
input requires grad.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _C
from .snapshot import snapshot
from .tensor import Tensor, _axes, as_tensor, numeric_array


def _kept(x, dtype=None):
    """``as_tensor(x)`` for an operand the backward pass may read: while gradients are
    recorded, an array is copied instead of borrowed, so changing it between the forward
    and the backward pass cannot change the gradients (layers do the same with inputs)."""
    if isinstance(x, Tensor) or not _C.is_grad_enabled():
        return as_tensor(x, dtype)
    array = np.asarray(x)
    if array is not x and array.flags.owndata:  # a fresh array (from a list): nobody else's
        return as_tensor(array, dtype)
    if dtype is None and array.dtype.kind == "f":
        dtype = "float32"  # as_tensor's default
    return snapshot(array, dtype)


def _other(b, a):
    """The right operand of a binary op with tensor ``a``: an array is kept (see _kept) in
    ``a``'s dtype, as the tensor operators convert it; anything else goes to them as is."""
    return _kept(b, a.dtype) if isinstance(b, np.ndarray) else b


def relu(x):
    return _C.activation(as_tensor(x), "relu")


def leaky_relu(x, negative_slope=0.01):
    return _C.activation(as_tensor(x), "leaky_relu", float(negative_slope))


def sigmoid(x):
    return _C.activation(as_tensor(x), "sigmoid")


def tanh(x):
    return _C.activation(as_tensor(x), "tanh")


def gelu(x):
    return _C.activation(as_tensor(x), "gelu")


def linear(x):
    return as_tensor(x)


def softmax(x, axis=-1):
    return _C.softmax(as_tensor(x), axis)


def log_softmax(x, axis=-1):
    return _C.log_softmax(as_tensor(x), axis)


def matmul(a, b):
    """torch.matmul's rules: vectors, (..., M, K) @ (K, N), and batch dims on both sides."""
    from .tensor_ops import matmul as tensor_matmul

    return tensor_matmul(_kept(a), _kept(b))


def dense(x, kernel, bias=None, activation="linear", negative_slope=0.01):
    """act(x @ kernel + bias) in one op (``negative_slope``: leaky_relu's, as leaky_relu)."""
    return _C.dense(_kept(x), kernel, bias, activation, float(negative_slope))


def add(a, b):
    a = _kept(a)
    return a + _other(b, a)


def sub(a, b):
    a = _kept(a)
    return a - _other(b, a)


def mul(a, b):
    a = _kept(a)
    return a * _other(b, a)


def div(a, b):
    a = _kept(a)
    return a / _other(b, a)


def sum(x, axis=None, keepdims=False):  # noqa: A001 - numpy's name
    return _C.sum(as_tensor(x), _axes(axis), keepdims)


def mean(x, axis=None, keepdims=False):
    return _C.mean(as_tensor(x), _axes(axis), keepdims)


def _stacked(values):
    """A list or tuple of same-shape tensors as one tensor with a new first axis (TensorFlow
    converts such a list to a tensor before reducing it); anything else as it is."""
    if isinstance(values, (list, tuple)) and values and all(isinstance(v, Tensor) for v in values):
        return concat([reshape(v, (1,) + tuple(v.shape)) for v in values], axis=0)
    return values


def reduce_sum(input_tensor, axis=None, keepdims=False, name=None):
    """TensorFlow's name for sum (tf.reduce_sum); a list of tensors is stacked first."""
    return sum(_stacked(input_tensor), axis, keepdims)


def reduce_mean(input_tensor, axis=None, keepdims=False, name=None):
    """TensorFlow's name for mean (tf.reduce_mean); a list of tensors is stacked first."""
    return mean(_stacked(input_tensor), axis, keepdims)


def reshape(x, shape):
    return _C.reshape(as_tensor(x), [int(s) for s in shape])


def flatten(x):
    """(N, ...) -> (N, prod(...))."""
    return _C.flatten(as_tensor(x))


def concat(tensors, axis=0):
    """tf.concat: the tensors joined along ``axis``; a single tensor is returned as it is
    (TensorFlow's values may be one Tensor)."""
    if isinstance(tensors, Tensor):
        return tensors
    tensors = [as_tensor(t) for t in tensors]
    return _C.concat(tensors, axis)


concatenate = cat = concat


def _operand(b, x):
    """A kernel or bias for an op on tensor ``x``: a tensor as is, anything else kept
    (see _kept) in ``x``'s dtype."""
    return b if isinstance(b, Tensor) else _kept(b, x.dtype)


def _ints(value, n, who, name):
    """An int or a sequence of n ints, as a tuple of n ints."""
    import numbers

    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (int(value),) * n
    try:
        items = tuple(value)
    except TypeError:
        items = ()
    if len(items) != n or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                  for v in items):
        raise ValueError(f"{who}: expected {name} to be an integer or {n} integers, got {value!r}")
    return tuple(int(v) for v in items)


def conv_padding(padding, spatial_axes, who):
    """(mode, explicit sizes) for the conv ops: 'valid' / 'same' (TensorFlow's rule), or
    explicit sizes: p (every side), one p per axis (both sides), or (before, after) per
    axis; the sizes come out as (top, bottom, left, right) or (left, right)."""
    sides = 2 * spatial_axes
    if isinstance(padding, str):
        if padding.lower() not in ("valid", "same"):
            raise ValueError(f"{who}: expected padding 'valid', 'same' or explicit sizes, got "
                             f"{padding!r}")
        return padding.lower(), (0,) * sides
    try:
        per_axis = [padding] * spatial_axes if not hasattr(padding, "__len__") else list(padding)
        if len(per_axis) != spatial_axes:
            raise ValueError
        sizes = []
        for p in per_axis:
            sizes.extend(_ints(p, 2, who, "padding"))
    except (TypeError, ValueError):
        raise ValueError(f"{who}: expected padding 'valid', 'same', an integer, {spatial_axes} "
                         f"integers or {spatial_axes} (before, after) pairs, got {padding!r}") from None
    if any(p < 0 for p in sizes):
        raise ValueError(f"{who}: expected non-negative padding, got {padding!r}")
    return "explicit", tuple(sizes)


def conv2d(x, kernel, bias=None, strides=1, padding="valid", dilation=1, activation="linear",
           negative_slope=0.01):
    """act(conv(x, kernel) + bias), channels-last: x (N, H, W, C), kernel (KH, KW, C, F)
    (Keras layout), bias (F,) -> (N, OH, OW, F). padding: 'valid', 'same' (TensorFlow's:
    the odd pixel at the bottom/right), p, (ph, pw) or ((top, bottom), (left, right))."""
    who = "conv2d"
    x = _kept(x)
    mode, pads = conv_padding(padding, 2, who)
    return _C.conv2d(x, _operand(kernel, x), None if bias is None else _operand(bias, x),
                     _ints(strides, 2, who, "strides"), mode, pads,
                     _ints(dilation, 2, who, "dilation"), activation, float(negative_slope), who)


def conv1d(x, kernel, bias=None, stride=1, padding="valid", dilation=1, activation="linear",
           negative_slope=0.01):
    """act(conv(x, kernel) + bias): x (N, T, C), kernel (K, C, F) (Keras layout), bias (F,)
    -> (N, OT, F). padding: 'valid', 'same', 'causal' (all on the left), p or (left, right)."""
    who = "conv1d"
    x = _kept(x)
    kernel = _operand(kernel, x)
    if isinstance(padding, str) and padding.lower() == "causal":
        span = (kernel.shape[0] - 1) * _ints(dilation, 1, who, "dilation")[0] if kernel.ndim else 0
        mode, pads = "explicit", (max(span, 0), 0)
    else:
        mode, pads = conv_padding(padding if isinstance(padding, str) else [padding], 1, who)
    return _C.conv1d(x, kernel, None if bias is None else _operand(bias, x),
                     _ints(stride, 1, who, "stride")[0], mode, pads,
                     _ints(dilation, 1, who, "dilation")[0], activation, float(negative_slope), who)


def ids_tensor(ids, who="embedding"):
    """``ids`` (a tensor, or an array of integers or integral floats) as a tensor the
    embedding op takes: tensors as they are, integer arrays as int32/int64, float arrays as
    float64 so the op's integrality check sees the exact values."""
    if isinstance(ids, Tensor):
        return ids
    array = numeric_array(ids, who, "ids")
    if array.dtype.kind in "bu" or (array.dtype.kind == "i" and array.dtype != np.int32):
        array = array.astype(np.int64)
    elif array.dtype.kind == "f":
        array = array.astype(np.float64)
    if _C.is_grad_enabled():
        # The gradient's scatter reads the ids in backward: a borrowed array changed before
        # then would change it.
        return snapshot(array, array.dtype.name)
    return _C.from_numpy(array, array.dtype.name)


def embedding(ids, weights):
    """Rows of ``weights`` (num, dim) at integer ``ids`` of any shape: ids.shape + (dim,)
    (torch.nn.functional.embedding's argument order). The gradient adds repeated ids' rows."""
    return _C.embedding(_kept(weights), ids_tensor(ids), "embedding")


def stack_rows(x, index):
    """x[index] along the first axis (differentiable gather)."""
    return as_tensor(x)[index]


def _pair(value, who, arg):
    """An int or a pair of ints, each positive, as a pair (Keras's pool_size/strides)."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                 and v > 0 for v in pair):
        raise ValueError(f"{who}: expected {arg} to be a positive integer or a pair of them, "
                         f"got {value!r}")
    return tuple(int(v) for v in pair)


def _single(value, who, arg):
    """A positive int, or a 1-tuple of one (Keras's 1D pool_size/strides)."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{who}: expected {arg} to be a positive integer, got {value!r}")
    return int(value)


def _padding(padding, who):
    mode = padding.lower() if isinstance(padding, str) else padding
    if mode not in ("valid", "same"):
        raise ValueError(f"{who}: expected padding 'valid' or 'same', got {padding!r}")
    return mode


def _pool2d(x, is_max, pool_size, strides, padding, who):
    ph, pw = _pair(pool_size, who, "pool_size")
    sh, sw = _pair(pool_size if strides is None else strides, who, "strides")
    return _C.pool2d(as_tensor(x), is_max, ph, pw, sh, sw, _padding(padding, who), who)


def _pool1d(x, is_max, pool_size, strides, padding, who):
    p = _single(pool_size, who, "pool_size")
    s = _single(p if strides is None else strides, who, "strides")
    return _C.pool1d(as_tensor(x), is_max, p, s, _padding(padding, who), who)


def max_pool2d(x, pool_size=2, strides=None, padding="valid"):
    """Max pooling of x (N, H, W, C); strides default to pool_size, padding as TensorFlow."""
    return _pool2d(x, True, pool_size, strides, padding, "max_pool2d")


def avg_pool2d(x, pool_size=2, strides=None, padding="valid"):
    """Average pooling of x (N, H, W, C); with 'same', padded positions are not counted."""
    return _pool2d(x, False, pool_size, strides, padding, "avg_pool2d")


def max_pool1d(x, pool_size=2, strides=None, padding="valid"):
    """Max pooling of x (N, T, C)."""
    return _pool1d(x, True, pool_size, strides, padding, "max_pool1d")


def avg_pool1d(x, pool_size=2, strides=None, padding="valid"):
    """Average pooling of x (N, T, C)."""
    return _pool1d(x, False, pool_size, strides, padding, "avg_pool1d")


def global_avg_pool2d(x):
    """(N, H, W, C) -> (N, C): the mean over each image."""
    return _C.global_pool2d(as_tensor(x), False, "global_avg_pool2d")


def global_max_pool2d(x):
    """(N, H, W, C) -> (N, C): the max over each image."""
    return _C.global_pool2d(as_tensor(x), True, "global_max_pool2d")


def dropout(x, rate, training=True, noise_shape=None):
    """Inverted dropout: zeroes each value with probability ``rate`` and scales the others
    by 1 / (1 - rate) while training; the identity otherwise. The mask comes from fastnn's
    generator (fn.manual_seed). ``noise_shape``: the mask's shape, dims of x or 1 (None
    entries take x's)."""
    x = as_tensor(x)
    shape = [] if noise_shape is None else [
        x.shape[i] if d is None else int(d) for i, d in enumerate(noise_shape)]
    return _C.dropout(x, float(rate), shape, bool(training), None, "dropout")[0]


def batch_norm(x, moving_mean, moving_variance, gamma=None, beta=None, training=False,
               momentum=0.99, epsilon=1e-3):
    """Batch normalisation over the last axis with Keras's semantics: training normalises
    with the batch's mean and biased variance and updates moving_mean/moving_variance in
    place (moving = momentum * moving + (1 - momentum) * batch); otherwise it uses them."""
    return _C.batch_norm(as_tensor(x), gamma, beta, moving_mean, moving_variance,
                         bool(training), float(momentum), float(epsilon), "batch_norm")


__all__ = [name for name in dir() if not name.startswith("_") and name not in (
    "annotations", "Tensor", "as_tensor", "np", "snapshot", "numbers")]
