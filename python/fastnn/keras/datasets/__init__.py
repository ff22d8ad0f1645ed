"""``keras.datasets``: Keras's ``load_data()`` for the datasets fastnn can read. fastnn
downloads nothing: each reads the file Keras would have downloaded (its cache,
``~/.keras/datasets``, or a path you give) or the dataset's original files, and says where
to get them when they are missing. ``fastnn.datasets.load_digits_images(size, channels)``
gives bundled stand-ins of the same form (small digits scaled up) that need no files."""

from . import boston_housing, cifar10, fashion_mnist, mnist

__all__ = ["mnist", "fashion_mnist", "cifar10", "boston_housing"]
