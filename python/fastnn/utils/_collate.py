"""torch's default_collate and default_convert over fastnn tensors (torch.utils.data's
_utils/collate.py): how a DataLoader turns a list of samples into a batch."""

from __future__ import annotations

import collections.abc
import copy
import numbers

import numpy as np

from .. import _C
from ..tensor import Tensor, as_tensor

# The dtypes fastnn tensors have: a numpy array of one of them keeps it, as torch.as_tensor
# keeps every dtype; others (bool, uint8, int16, float16, ...) get fastnn's nearest.
_NATIVE_DTYPES = ("float32", "float64", "int32", "int64")


def array_tensor(array: np.ndarray) -> Tensor:
    """A numpy array as a fastnn tensor of its own dtype (torch.as_tensor), borrowed when it
    is contiguous."""
    name = array.dtype.name
    return as_tensor(array, name if name in _NATIVE_DTYPES else None)


def _stack(batch):
    """torch.stack(batch, 0) of fastnn tensors."""
    shape = tuple(batch[0].shape)
    for i, t in enumerate(batch):
        if tuple(t.shape) != shape:
            raise ValueError(f"default_collate: stack expects each tensor to be equal size, "
                             f"but got {list(shape)} at entry 0 and {list(t.shape)} at entry {i}")
    if all(t.device == "cpu" and not t.requires_grad for t in batch):
        # One copy through numpy (views of the tensors) instead of a reshape and a concat
        # input per sample.
        return array_tensor(np.stack([np.asarray(t) for t in batch]))
    return _C.concat([_C.reshape(t, [1, *shape]) for t in batch], 0)


def _is_text_array(array):
    return array.dtype.kind in "OSUV"


def default_collate(batch):
    """torch's default_collate: a list of samples -> one batch.

    Tensors are stacked along a new first axis; numpy arrays become tensors of their dtype
    and are stacked; numpy scalars give a tensor of theirs; Python floats a float64 tensor,
    ints an int64 one; str/bytes stay a list. Dicts, namedtuples, tuples and lists are
    collated field by field (a tuple gives a list, as in torch).
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack(batch)
    if isinstance(elem, np.ndarray):
        if _is_text_array(elem):
            raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, "
                            f"numbers, dicts or lists; found array of dtype {elem.dtype}")
        for i, b in enumerate(batch):
            if np.shape(b) != elem.shape:
                raise ValueError(f"default_collate: stack expects each array to be equal size, "
                                 f"but got {list(elem.shape)} at entry 0 and "
                                 f"{list(np.shape(b))} at entry {i}")
        return array_tensor(np.stack(batch))
    if isinstance(elem, (np.bool_, np.number)):
        return array_tensor(np.asarray(batch))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, float):
        return as_tensor(np.asarray(batch, dtype=np.float64), "float64")
    if isinstance(elem, bool):
        return as_tensor(np.asarray(batch, dtype=bool))
    if isinstance(elem, numbers.Integral):
        return as_tensor(np.asarray(batch, dtype=np.int64), "int64")
    if isinstance(elem, collections.abc.Mapping):
        values = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)
            clone.update(values)
            return clone
        try:
            return type(elem)(values)
        except TypeError:
            return values
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise ValueError("default_collate: each element in list of batch should be of "
                             "equal size")
        fields = [default_collate(s) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return fields
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, f in enumerate(fields):
                clone[i] = f
            return clone
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    raise TypeError("default_collate: batch must contain tensors, numpy arrays, numbers, "
                    f"dicts or lists; found {type(elem)}")


def default_convert(data):
    """What a DataLoader with ``batch_size=None`` does to each sample (torch's
    default_convert): numpy arrays and scalars become tensors, containers are converted
    field by field, everything else (Python numbers included) is left as it is."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if _is_text_array(data) else array_tensor(data)
    if isinstance(data, (np.bool_, np.number)):
        return array_tensor(np.asarray(data))
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        return [default_convert(d) for d in data]
    return data
