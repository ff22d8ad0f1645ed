"""``keras.datasets.fashion_mnist``."""

from ...datasets import load_fashion_mnist
from ._files import find

_WHERE = ("https://github.com/zalandoresearch/fashion-mnist (data/fashion: the four "
          "*-ubyte.gz files, in one directory)")


def load_data(path=None):
    """``(x_train, y_train), (x_test, y_test)``: uint8 images (N, 28, 28) and labels, from
    the directory of the four IDX files (``path``, or Keras's cache ``fashion-mnist``)."""
    return load_fashion_mnist(find("keras.datasets.fashion_mnist.load_data", path,
                                   "fashion-mnist", _WHERE))
