"""``keras.datasets.boston_housing``."""

import numpy as np

from ._files import find, load_npz

_WHERE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz"


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """``(x_train, y_train), (x_test, y_test)`` from Keras's boston_housing.npz, shuffled and
    split exactly as Keras does (numpy's RandomState(seed))."""
    who = "keras.datasets.boston_housing.load_data"
    if not 0 <= test_split < 1:
        raise ValueError(f"{who}: expected test_split in [0, 1), got {test_split!r}")
    x, y = load_npz(who, find(who, path, "boston_housing.npz", _WHERE), ["x", "y"])
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))
