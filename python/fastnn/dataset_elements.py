"""The elements of a tf.data-style Dataset (python/fastnn/tf_dataset.py): numpy arrays in
tuples (namedtuples too) and dicts, made from what users give (tensors, arrays, Python numbers
and lists with TensorFlow's dtypes), handed out as fastnn tensors, and stacked into batches."""

from __future__ import annotations

import collections.abc
import numbers

import numpy as np

from .tensor import Tensor, as_tensor

_NATIVE_DTYPES = ("float32", "float64", "int32", "int64")


def map_structure(fn, value):
    if isinstance(value, tuple):
        items = [map_structure(fn, v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, collections.abc.Mapping):
        return {k: map_structure(fn, v) for k, v in value.items()}
    return fn(value)


def flatten(value, out=None):
    out = [] if out is None else out
    if isinstance(value, tuple):
        for v in value:
            flatten(v, out)
    elif isinstance(value, collections.abc.Mapping):
        for v in value.values():
            flatten(v, out)
    else:
        out.append(value)
    return out


def pack(template, leaves):
    it = iter(leaves)
    return map_structure(lambda _: next(it), template)


def signature(value):
    """The structure's shape, leaves left out: elements batched together must share it."""
    if isinstance(value, tuple):
        return (type(value), tuple(signature(v) for v in value))
    if isinstance(value, collections.abc.Mapping):
        return (dict, tuple((k, signature(v)) for k, v in value.items()))
    return None


def _python_leaf(value):
    """A Python number or nested list of numbers as TensorFlow converts it: floats to
    float32, ints to int32 (int64 when they do not fit), bools to bool."""
    array = np.asarray(value)
    if array.dtype.kind == "f":
        return array.astype(np.float32)
    if array.dtype.kind in "iu":
        fits = array.size == 0 or (array.min() >= -2**31 and array.max() < 2**31)
        return array.astype(np.int32 if fits else np.int64)
    return array


def _holds_numpy(value):
    if isinstance(value, (np.ndarray, np.generic, Tensor)):
        return True
    if isinstance(value, (list, tuple)) and value:
        return any(_holds_numpy(v) for v in value)
    return False


def _leaf(value, who):
    """One component as a numpy array (tensors, arrays, numpy scalars, Python numbers, and
    lists of them, which TensorFlow turns into one tensor)."""
    if isinstance(value, Tensor):
        return value.numpy() if value.device != "cpu" else np.asarray(value)
    if isinstance(value, list):
        if any(isinstance(v, Tensor) for v in value):
            value = [np.asarray(_leaf(v, who)) for v in value]
        array = np.asarray(value) if _holds_numpy(value) else _python_leaf(value)
    elif isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
    elif isinstance(value, (bool, numbers.Number)):
        array = _python_leaf(value)
    elif hasattr(value, "__array__"):  # pandas Series/DataFrames, other arrays
        array = np.asarray(value)
    else:
        raise TypeError(f"{who}: expected tensors, numpy arrays or numbers (in tuples or "
                        f"dicts), got {type(value).__name__}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{who}: fastnn datasets hold numbers; got an array of dtype "
                        f"{array.dtype}")
    return array


def structure(value, who, lists_are_tuples=False):
    """``value`` as a structure of numpy leaves. Lists are one tensor in from_tensor_slices
    (as TensorFlow converts them) and tuples in what a map function returns."""
    if lists_are_tuples and isinstance(value, list):
        value = tuple(value)
    if isinstance(value, tuple):
        items = [structure(v, who, lists_are_tuples) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, collections.abc.Mapping):
        return {k: structure(v, who, lists_are_tuples) for k, v in value.items()}
    return _leaf(value, who)


def _tensor(array):
    """A numpy leaf as a fastnn tensor of its dtype; views of other arrays are copied so an
    element never changes under its user."""
    if array.base is not None or not array.flags.c_contiguous:
        array = np.array(array, order="C")
    name = array.dtype.name
    return as_tensor(array, name if name in _NATIVE_DTYPES else None)


def to_tensors(element):
    return map_structure(_tensor, element)


def to_numpy(element):
    return map_structure(lambda a: a[()] if a.ndim == 0 else np.array(a), element)


def stack(elements, who):
    """Elements (same structure) -> one batch element, each component stacked."""
    template = elements[0]
    expected = signature(template)
    columns = [[] for _ in flatten(template)]
    for e in elements:
        if signature(e) != expected:
            raise ValueError(f"{who}: cannot batch elements of different structures")
        for column, leaf in zip(columns, flatten(e)):
            column.append(leaf)
    stacked = []
    for k, column in enumerate(columns):
        shape = column[0].shape
        for leaf in column:
            if leaf.shape != shape:
                raise ValueError(f"{who}: cannot batch tensors with different shapes in "
                                 f"component {k}: first element had shape {shape} and another "
                                 f"{leaf.shape}")
        stacked.append(np.stack(column))
    return pack(template, stacked)


def first_dims(element, who):
    """The length of the first axis all components share (what slicing or unbatching
    walks along)."""
    leaves = flatten(element)
    for leaf in leaves:
        if leaf.ndim == 0:
            raise ValueError(f"{who}: every component needs at least one dimension to slice "
                             "along; got a scalar (use from_tensors for a single element)")
    sizes = [leaf.shape[0] for leaf in leaves]
    if any(s != sizes[0] for s in sizes):
        raise ValueError(f"{who}: every component must have the same first dimension, got "
                         f"sizes {sizes}")
    return sizes[0]
