"""Data for training: ``fn.data.DataLoader`` over numpy arrays, and TensorFlow's
``tf.data.Dataset`` (``fn.data.Dataset``, ``fn.data.AUTOTUNE``: python/fastnn/tf_dataset.py).

    loader = fn.data.DataLoader(x, y, batch_size=32, shuffle=True)
    for xb, yb in loader:          # numpy arrays, the last batch possibly smaller
        ...
    model.fit(loader, epochs=10)

    ds = fn.data.Dataset.from_tensor_slices((x, y)).shuffle(1024).batch(32)
    model.fit(ds, epochs=10)       # or iterate it: fastnn tensors

Shuffling draws from fastnn's seeded generator, so ``fn.manual_seed`` fixes the order.
PyTorch's DataLoader over a dataset is ``fastnn.utils.data.DataLoader``.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _C
from .tensor import numeric_array
from .tf_dataset import (AUTOTUNE, INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset,
                         experimental)


def permutation(n: int) -> np.ndarray:
    """A random permutation of range(n) drawn from fastnn's seeded generator."""
    return _C.permutation(int(n))


def _as_array(value, who, arg):
    return None if value is None else numeric_array(value, who, arg, batch_axis=True)


class DataLoader:
    """Iterates ``(xb, yb)`` numpy batches of ``x`` and ``y`` (``xb`` alone when y is None).

    ``len(loader)`` is the number of batches per pass. With ``shuffle=True`` every pass
    draws a new order from fastnn's generator; ``drop_last=True`` skips a last batch smaller
    than ``batch_size``.
    """

    def __init__(self, x, y=None, batch_size=32, shuffle=False, drop_last=False):
        who = "DataLoader"
        if (isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral)
                or batch_size <= 0):
            raise ValueError(f"{who}: expected batch_size to be a positive integer, "
                             f"got {batch_size!r}")
        self.x = _as_array(x, who, "x")
        if self.x is None:
            raise ValueError(f"{who}: x is required")
        self.y = _as_array(y, who, "y")
        if len(self.x) == 0:
            raise ValueError(f"{who}: x is empty (0 samples)")
        if self.y is not None and len(self.y) != len(self.x):
            raise ValueError(f"{who}: x and y must have the same number of samples, got "
                             f"{len(self.x)} in x and {len(self.y)} in y")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)

    @property
    def num_samples(self) -> int:
        return len(self.x)

    def __len__(self) -> int:
        n, b = len(self.x), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self):
        n, b = len(self.x), self.batch_size
        order = permutation(n) if self.shuffle else None
        stop = (n // b) * b if self.drop_last else n
        for start in range(0, stop, b):
            end = min(start + b, n)
            if order is None:
                xb = self.x[start:end]
                yb = None if self.y is None else self.y[start:end]
            else:
                idx = order[start:end]
                xb = self.x[idx]
                yb = None if self.y is None else self.y[idx]
            yield xb if self.y is None else (xb, yb)

    def __repr__(self):
        return (f"DataLoader({len(self.x)} samples, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last})")


__all__ = ["DataLoader", "permutation", "Dataset", "AUTOTUNE", "INFINITE_CARDINALITY",
           "UNKNOWN_CARDINALITY", "experimental"]
