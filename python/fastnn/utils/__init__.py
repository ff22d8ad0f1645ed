"""Utilities with Keras's names (``keras.utils``), and PyTorch's ``torch.utils.data`` as
``fastnn.utils.data`` (Dataset, TensorDataset, DataLoader, random_split, ...)."""

from __future__ import annotations

import numbers

import numpy as np

from ..tensor import numeric_array


def to_categorical(y, num_classes=None):
    """One-hot encodes integer class labels: shape ``y.shape + (num_classes,)``, float32.

    As Keras, a trailing axis of size 1 is dropped first ((N, 1) labels give (N, C)), and
    ``num_classes`` defaults to ``max(y) + 1``. Labels must be integers (integer-valued
    floats are accepted) in [0, num_classes).
    """
    who = "to_categorical"
    labels = numeric_array(y, who, "y (integer labels)")
    if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(
            num_classes, numbers.Integral) or num_classes <= 0):
        raise ValueError(f"{who}: expected num_classes to be a positive integer, "
                         f"got {num_classes!r}")
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = labels.reshape(-1)
    if labels.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(flat) | (flat != np.round(flat)))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{who}: labels must be integers, but y{_position(i, labels.shape)} "
                             f"= {flat[i].item()!r}")
    flat = flat.astype(np.int64)
    if flat.size and flat.min() < 0:
        i = int(np.argmax(flat < 0))
        raise ValueError(f"{who}: labels must be non-negative, but y{_position(i, labels.shape)} "
                         f"= {flat[i]}")
    if num_classes is None:
        if flat.size == 0:
            raise ValueError(f"{who}: cannot infer num_classes from empty labels; pass num_classes")
        num_classes = int(flat.max()) + 1
    num_classes = int(num_classes)
    if flat.size and flat.max() >= num_classes:
        i = int(np.argmax(flat >= num_classes))
        raise ValueError(f"{who}: labels must be < num_classes={num_classes}, but "
                         f"y{_position(i, labels.shape)} = {flat[i]}")
    out = np.zeros((flat.size, num_classes), dtype=np.float32)
    out[np.arange(flat.size), flat] = 1.0
    return out.reshape(tuple(shape) + (num_classes,))


def _position(flat_index, shape):
    if len(shape) <= 1:
        return f"[{flat_index}]"
    return str([int(i) for i in np.unravel_index(flat_index, shape)]).replace(" ", "")


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0):
    """Ragged sequences (lists or arrays) -> one array (num_sequences, maxlen, ...), as
    ``keras.utils.pad_sequences``.

    Each item is a sequence of scalars, or of equally shaped vectors (an array (len, ...)),
    whose shape then trails the result's. ``maxlen`` defaults to the longest; longer ones
    lose steps at the start (``truncating="pre"``) or the end ("post"); shorter ones get
    ``value`` before (``padding="pre"``) or after ("post"). Empty sequences are all padding.
    """
    who = "pad_sequences"
    for arg, given in (("padding", padding), ("truncating", truncating)):
        if not isinstance(given, str) or given not in ("pre", "post"):
            raise ValueError(f"{who}: expected {arg} to be 'pre' or 'post', got {given!r}")
    if maxlen is not None and (isinstance(maxlen, bool) or not isinstance(
            maxlen, numbers.Integral) or maxlen < 0):
        raise ValueError(f"{who}: expected maxlen to be a non-negative integer or None, got "
                         f"{maxlen!r}")
    if not hasattr(sequences, "__len__") or isinstance(sequences, (str, bytes)):
        raise ValueError(f"{who}: expected sequences to be a list of sequences, got "
                         f"{type(sequences).__name__}")
    dtype = np.dtype(dtype)
    if isinstance(value, str) and dtype.kind not in "OUS":
        raise ValueError(f"{who}: expected a value of dtype {dtype} to pad with, got the "
                         f"string {value!r} (pass dtype=object or a string dtype for strings)")
    lengths, sample_shape = [], None
    for i, seq in enumerate(sequences):
        try:
            n = len(seq)
        except TypeError:
            raise ValueError(f"{who}: expected sequences to be a list of sequences, but "
                             f"sequences[{i}] is a {type(seq).__name__} ({seq!r})") from None
        lengths.append(n)
        if sample_shape is None and n:
            sample_shape = np.asarray(seq).shape[1:]
    sample_shape = sample_shape or ()
    if maxlen is None:
        maxlen = max(lengths, default=0)
    maxlen = int(maxlen)
    out = np.full((len(lengths), maxlen) + tuple(sample_shape), value, dtype=dtype)
    if maxlen == 0:
        return out
    for i, seq in enumerate(sequences):
        if not lengths[i]:
            continue
        kept = seq[-maxlen:] if truncating == "pre" else seq[:maxlen]
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise ValueError(f"{who}: expected every step to have the shape "
                             f"{tuple(sample_shape)} of the first non-empty sequence's steps, "
                             f"but sequences[{i}] has steps of shape {kept.shape[1:]}")
        if padding == "post":
            out[i, :len(kept)] = kept
        else:
            out[i, maxlen - len(kept):] = kept
    return out


def set_random_seed(seed: int) -> None:
    """Seeds fastnn's generator and numpy's global one (Keras's keras.utils.set_random_seed)."""
    from .. import manual_seed

    manual_seed(seed)
    np.random.seed(seed % (1 << 32))


# torch.utils.data's place: `fn.utils.data.DataLoader` works after `import fastnn`, as
# `torch.utils.data.DataLoader` does after `import torch`.
from . import data  # noqa: E402

__all__ = ["to_categorical", "set_random_seed", "pad_sequences"]
