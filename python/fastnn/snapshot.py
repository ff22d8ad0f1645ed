"""Numpy inputs as tensors of their own: what a layer, a model or a functional op records
for the backward pass must not change when the caller's array does."""

from __future__ import annotations

import numpy as np

from . import _C


def snapshot(array: np.ndarray, dtype=None):
    """A tensor holding a copy of ``array`` (in ``dtype``; None: from_numpy's default).

    ``_C.from_numpy`` borrows an array that is already C-contiguous, aligned and of the
    dtype, and converts anything else into a new array that only the tensor holds; so only
    the borrowed case needs a copy, one pass either way. That copy goes to fastnn's
    allocator (``_C.Tensor``): a fresh numpy array of 200 KB may cost 50-70 us of page
    faults where the allocator reuses memory (~9 us for 64x784 float32).
    """
    target = np.dtype(dtype) if dtype is not None else None
    if ((target is None or array.dtype == target) and array.flags.c_contiguous
            and array.flags.aligned and array.dtype.isnative):
        return _C.Tensor(array, dtype)
    return _C.from_numpy(array, dtype)


__all__ = ["snapshot"]
