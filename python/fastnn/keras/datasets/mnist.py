"""``keras.datasets.mnist``."""

import os

from ...datasets import load_mnist
from ._files import find, load_npz

_WHERE = ("https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz (Keras's "
          "file), or the four IDX files of https://ossci-datasets.s3.amazonaws.com/mnist/ in "
          "one directory")


def load_data(path="mnist.npz"):
    """``(x_train, y_train), (x_test, y_test)``: uint8 images (N, 28, 28) and uint8 labels,
    from Keras's mnist.npz (``path``, or the name in Keras's cache) or a directory of the
    original IDX files."""
    who = "keras.datasets.mnist.load_data"
    found = find(who, path, "mnist.npz", _WHERE)
    if os.path.isdir(found):
        return load_mnist(found)
    x_train, y_train, x_test, y_test = load_npz(who, found, ["x_train", "y_train", "x_test",
                                                             "y_test"])
    return (x_train, y_train), (x_test, y_test)
