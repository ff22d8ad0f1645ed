"""``keras.datasets.cifar10``."""

from ...datasets import load_cifar10
from ._files import find

_WHERE = ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz (the binary version, "
          "unpacked; Keras's cached python version is pickled, which fastnn does not read)")


def load_data(path=None):
    """``(x_train, y_train), (x_test, y_test)``: uint8 images (N, 32, 32, 3) and uint8
    labels (N, 1), from the directory of CIFAR-10's binary files (``path``, or Keras's
    cache ``cifar-10-batches-bin``)."""
    return load_cifar10(find("keras.datasets.cifar10.load_data", path, "cifar-10-batches-bin",
                             _WHERE))
