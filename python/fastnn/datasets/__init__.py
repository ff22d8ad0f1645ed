"""Datasets that ship with fastnn (small enough to bundle) and loaders for standard files.

``load_digits()``: the 8x8 UCI handwritten digits (1797 images, 10 classes), the copy
scikit-learn ships; see DIGITS_LICENSE.txt for attribution (CC BY 4.0).
``load_breast_cancer()``, ``load_diabetes()``: two small tables scikit-learn ships (binary
classification and regression), read through scikit-learn when it is installed.
``load_mnist(dir)``, ``load_fashion_mnist(dir)``, ``load_cifar10(dir)``: the standard files,
downloaded by the user (see files.py).
"""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np

from .files import load_cifar10, load_fashion_mnist, load_mnist, read_idx


def load_digits(return_images: bool = False):
    """(x, y): x float32 (1797, 64) pixel values in 0..16, y int64 labels 0..9.

    With ``return_images=True``, x has shape (1797, 8, 8).
    """
    with resources.files(__package__).joinpath("digits.csv.gz").open("rb") as raw:
        with gzip.open(raw, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.float32)
    x, y = table[:, :64], table[:, 64].astype(np.int64)
    if return_images:
        x = x.reshape(-1, 8, 8)
    return x, y


def _sklearn_datasets(name):
    try:
        from sklearn import datasets
    except ImportError as exc:
        raise ImportError(f"fastnn.datasets.{name} reads its data through scikit-learn, which is "
                          f"not installed: pip install scikit-learn") from exc
    return datasets


def load_breast_cancer():
    """(x, y): the Wisconsin diagnostic breast cancer data (scikit-learn's copy of the UCI
    table): x float32 (569, 30), 30 measurements of cell nuclei in an image (unscaled: their
    ranges differ by orders of magnitude, so standardise them), y int64 labels, 0 malignant
    (212) and 1 benign (357). Needs scikit-learn (``pip install scikit-learn``)."""
    data = _sklearn_datasets("load_breast_cancer").load_breast_cancer()
    return data.data.astype(np.float32), data.target.astype(np.int64)


def load_diabetes():
    """(x, y): scikit-learn's diabetes data (Efron et al., 2004): x float32 (442, 10), age,
    sex, body mass index, mean blood pressure and six blood serum measurements in their own
    units (not scikit-learn's default centred and scaled copy), y float32 (442,) a measure of
    disease progression one year later (25 to 346). A small regression problem (the stand-in
    for the Boston housing data scikit-learn no longer ships). Needs scikit-learn
    (``pip install scikit-learn``)."""
    data = _sklearn_datasets("load_diabetes").load_diabetes(scaled=False)
    return data.data.astype(np.float32), data.target.astype(np.float32)


def load_digits_images(size=28, channels=1, test_size=0.25, seed=0):
    """The bundled digits as stand-ins for MNIST or CIFAR-10 images, in the form Keras's
    ``load_data()`` gives: ``(x_train, y_train), (x_test, y_test)``, uint8 images
    (N, size, size, channels) (each 8x8 digit scaled up by an integer factor, nearest
    neighbour, centred with black borders, grey copied to every channel) and uint8 labels.
    So the seeds' MNIST (28, 1) and CIFAR-10 (32, 3) examples run unchanged without the
    real files. ``test_size`` of the 1797 images (shuffled by ``seed``) are for testing."""
    if size < 8 or channels < 1:
        raise ValueError(f"load_digits_images: expected size >= 8 and channels >= 1, got "
                         f"size={size}, channels={channels}")
    x, y = load_digits(return_images=True)
    factor = size // 8
    pixels = np.minimum(np.kron(x, np.ones((factor, factor), np.float32)) * 16, 255)
    before = (size - 8 * factor) // 2
    after = size - 8 * factor - before
    pixels = np.pad(pixels, ((0, 0), (before, after), (before, after)))
    images = np.repeat(pixels.astype(np.uint8)[..., None], channels, axis=-1)
    x_train, x_test, y_train, y_test = train_test_split(images, y.astype(np.uint8),
                                                        test_size=test_size, seed=seed)
    return (x_train, y_train), (x_test, y_test)


def train_test_split(x, y, test_size=0.25, seed=0):
    """A shuffled split with numpy's generator (independent of fastnn's seed)."""
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"train_test_split: expected test_size in (0, 1), got {test_size}")
    if len(x) != len(y):
        raise ValueError(f"train_test_split: x has {len(x)} samples but y has {len(y)}")
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(len(x) * test_size))
    test, train = order[:n_test], order[n_test:]
    return x[train], x[test], y[train], y[test]
