"""Loaders for the standard image datasets from files the user has downloaded: MNIST and
Fashion-MNIST (IDX files, gzipped or not) and CIFAR-10 (the binary version). Nothing is
downloaded: a missing file raises FileNotFoundError saying which files are expected and
where to get them. Every file is checked (magic number, sizes, matching counts) before its
data is used, so a truncated or foreign file raises ValueError naming it.

The arrays are those Keras's ``load_data()`` returns: uint8 images (MNIST (N, 28, 28),
CIFAR-10 channels-last (N, 32, 32, 3)) and uint8 labels (CIFAR-10's of shape (N, 1)).
"""

from __future__ import annotations

import gzip
import os

import numpy as np

# IDX type codes (http://yann.lecun.com/exdb/mnist/, "the IDX file format"), big-endian data.
_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}

_MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_WHERE = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/ (the original files of "
             "http://yann.lecun.com/exdb/mnist/)",
    "fashion_mnist": "https://github.com/zalandoresearch/fashion-mnist (data/fashion)",
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz (unpack it; the "
               "files are in cifar-10-batches-bin)",
}
_CIFAR_RECORD = 1 + 32 * 32 * 3  # label byte, then 1024 red, 1024 green, 1024 blue bytes


def _read_bytes(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":  # gzip, whatever the name says
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: a damaged or truncated gzip file ({exc})") from None
    return data


def read_idx(path) -> np.ndarray:
    """The array in an IDX file (gzipped or not), in native byte order."""
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file (expected the magic bytes 00 00 <type> "
                         f"<ndim>, got {data[:4].hex(' ') or 'an empty file'})")
    dtype, ndim = _IDX_TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(data)} bytes for {ndim} sizes)")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(f"{path}: expected {expected} bytes of data for shape {shape}, got "
                         f"{len(data) - header} (a truncated or damaged file)")
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find(directory, name, dataset):
    for candidate in (name, name + ".gz", name.replace("-idx", ".idx"),
                      name.replace("-idx", ".idx") + ".gz"):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"load_{dataset}: no {name} (or {name}.gz) in {directory!r}; fastnn downloads nothing: "
        f"get the four files from {_WHERE[dataset]} and pass their directory")


def _load_idx_pair(directory, split, dataset):
    images_name, labels_name = _MNIST_FILES[split]
    images_path = _find(directory, images_name, dataset)
    labels_path = _find(directory, labels_name, dataset)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"{images_path}: expected uint8 images of shape (N, rows, cols), got "
                         f"{images.dtype} of shape {images.shape}")
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise ValueError(f"{labels_path}: expected uint8 labels of shape (N,), got "
                         f"{labels.dtype} of shape {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"load_{dataset}: {images_path} has {len(images)} images but "
                         f"{labels_path} has {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{labels_path}: expected labels 0..9, found {int(labels.max())}")
    return images, labels


def _check_directory(directory, dataset):
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"load_{dataset}: {directory!r} is not a directory; fastnn "
                                f"downloads nothing: get the files from {_WHERE[dataset]}")
    return directory


def load_mnist(directory):
    """``(x_train, y_train), (x_test, y_test)`` from the four MNIST IDX files in
    ``directory`` (gzipped or not): uint8 images (N, 28, 28) and labels (N,)."""
    directory = _check_directory(directory, "mnist")
    return (_load_idx_pair(directory, "train", "mnist"),
            _load_idx_pair(directory, "test", "mnist"))


def load_fashion_mnist(directory):
    """Fashion-MNIST: the same four file names and format as MNIST."""
    directory = _check_directory(directory, "fashion_mnist")
    return (_load_idx_pair(directory, "train", "fashion_mnist"),
            _load_idx_pair(directory, "test", "fashion_mnist"))


def _read_cifar_batch(path):
    data = _read_bytes(path)
    if len(data) == 0 or len(data) % _CIFAR_RECORD:
        raise ValueError(f"{path}: expected whole CIFAR-10 records of {_CIFAR_RECORD} bytes, got "
                         f"{len(data)} bytes (a truncated file, or not the binary version)")
    records = np.frombuffer(data, np.uint8).reshape(-1, _CIFAR_RECORD)
    labels = records[:, :1].copy()
    if labels.max() > 9:
        raise ValueError(f"{path}: expected labels 0..9 in the first byte of each record, found "
                         f"{int(labels.max())} (not the CIFAR-10 binary version?)")
    # Stored plane by plane (all red, all green, all blue); fastnn is channels-last.
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
    return images, labels


def load_cifar10(directory):
    """``(x_train, y_train), (x_test, y_test)`` from CIFAR-10's binary version
    (data_batch_1.bin .. data_batch_5.bin, test_batch.bin) in ``directory`` or its
    cifar-10-batches-bin subdirectory: uint8 images (N, 32, 32, 3), labels (N, 1)."""
    directory = _check_directory(directory, "cifar10")
    nested = os.path.join(directory, "cifar-10-batches-bin")
    if os.path.isdir(nested):
        directory = nested
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    missing = [n for n in names if not os.path.isfile(os.path.join(directory, n))]
    if missing:
        raise FileNotFoundError(f"load_cifar10: {', '.join(missing)} not found in {directory!r}; "
                                f"fastnn downloads nothing: get {_WHERE['cifar10']}")
    batches = [_read_cifar_batch(os.path.join(directory, n)) for n in names]
    x_train = np.concatenate([b[0] for b in batches[:5]])
    y_train = np.concatenate([b[1] for b in batches[:5]])
    return (x_train, y_train), batches[5]


__all__ = ["read_idx", "load_mnist", "load_fashion_mnist", "load_cifar10"]
