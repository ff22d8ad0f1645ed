"""File loaders for MNIST / Fashion-MNIST (IDX) and CIFAR-10 (binary): tiny files built here,
read back exactly; damaged, truncated, foreign or missing files raise clear errors. The
bundled digits as images, and the tables read through scikit-learn."""

import gzip
import struct
import sys

import numpy as np
import pytest

from fastnn import datasets


def write_idx(path, array, type_code=0x08, compress=False):
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    big = array.astype(array.dtype.newbyteorder(">"))
    data = header + big.tobytes()
    with (gzip.open if compress else open)(path, "wb") as f:
        f.write(data)


def mnist_dir(tmp_path, n_train=7, n_test=3, compress=False, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        suffix = ".gz" if compress else ""
        write_idx(tmp_path / f"{split}-images-idx3-ubyte{suffix}", images, compress=compress)
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte{suffix}", labels, compress=compress)
        arrays[split] = (images, labels)
    return arrays


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("loader", [datasets.load_mnist, datasets.load_fashion_mnist])
def test_mnist_files_load_exactly(tmp_path, compress, loader):
    arrays = mnist_dir(tmp_path, compress=compress)
    (x_train, y_train), (x_test, y_test) = loader(tmp_path)
    np.testing.assert_array_equal(x_train, arrays["train"][0])
    np.testing.assert_array_equal(y_train, arrays["train"][1])
    np.testing.assert_array_equal(x_test, arrays["t10k"][0])
    np.testing.assert_array_equal(y_test, arrays["t10k"][1])
    assert x_train.dtype == np.uint8 and x_train.shape == (7, 28, 28)


@pytest.mark.parametrize("type_code, dtype", [(0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16),
                                              (0x0C, np.int32), (0x0D, np.float32),
                                              (0x0E, np.float64)])
def test_read_idx_every_type_in_native_order(tmp_path, type_code, dtype):
    rng = np.random.default_rng(1)
    a = (rng.normal(size=(3, 5, 2)) * 50).astype(dtype)
    write_idx(tmp_path / "a.idx", a, type_code)
    b = datasets.read_idx(tmp_path / "a.idx")
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    np.testing.assert_array_equal(a, b)


def test_damaged_idx_files_raise(tmp_path):
    mnist_dir(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    data = path.read_bytes()
    path.write_bytes(data[:-5])
    with pytest.raises(ValueError, match="truncated"):
        datasets.load_mnist(tmp_path)
    path.write_bytes(b"\x12\x34" + data[2:])
    with pytest.raises(ValueError, match="not an IDX file"):
        datasets.load_mnist(tmp_path)
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        datasets.load_mnist(tmp_path)
    (tmp_path / "x.gz").write_bytes(gzip.compress(data)[:40])
    with pytest.raises(ValueError, match="gzip"):
        datasets.read_idx(tmp_path / "x.gz")


def test_mismatched_counts_and_bad_labels_raise(tmp_path):
    mnist_dir(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(6, np.uint8))
    with pytest.raises(ValueError, match="7 images but .* 6 labels"):
        datasets.load_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.full(7, 12, np.uint8))
    with pytest.raises(ValueError, match="labels 0..9"):
        datasets.load_mnist(tmp_path)


def test_missing_files_say_where_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="ossci-datasets"):
        datasets.load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        datasets.load_mnist(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="cs.toronto.edu"):
        datasets.load_cifar10(tmp_path)


def write_cifar(path, n, rng):
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    planes = images.transpose(0, 3, 1, 2).reshape(n, -1)  # red plane, green, blue
    path.write_bytes(np.concatenate([labels[:, None], planes], axis=1).tobytes())
    return images, labels


@pytest.mark.parametrize("nested", [False, True])
def test_cifar10_binary_loads_channels_last(tmp_path, nested):
    rng = np.random.default_rng(2)
    where = tmp_path / "cifar-10-batches-bin" if nested else tmp_path
    where.mkdir(exist_ok=True)
    train = [write_cifar(where / f"data_batch_{i}.bin", 2 + i, rng) for i in range(1, 6)]
    test = write_cifar(where / "test_batch.bin", 3, rng)
    (x_train, y_train), (x_test, y_test) = datasets.load_cifar10(tmp_path)
    np.testing.assert_array_equal(x_train, np.concatenate([t[0] for t in train]))
    np.testing.assert_array_equal(y_train[:, 0], np.concatenate([t[1] for t in train]))
    np.testing.assert_array_equal(x_test, test[0])
    assert x_train.shape == (25, 32, 32, 3) and y_train.shape == (25, 1)
    assert x_test.dtype == np.uint8 and y_test.shape == (3, 1)


def test_damaged_cifar10_raises(tmp_path):
    rng = np.random.default_rng(3)
    for i in range(1, 6):
        write_cifar(tmp_path / f"data_batch_{i}.bin", 2, rng)
    write_cifar(tmp_path / "test_batch.bin", 2, rng)
    path = tmp_path / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match="whole CIFAR-10 records"):
        datasets.load_cifar10(tmp_path)
    write_cifar(path, 2, rng)
    data = bytearray(path.read_bytes())
    data[0] = 200
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="labels 0..9"):
        datasets.load_cifar10(tmp_path)


@pytest.mark.parametrize("size, channels", [(28, 1), (32, 3), (8, 2), (11, 1)])
def test_digits_as_images(size, channels):
    (x_train, y_train), (x_test, y_test) = datasets.load_digits_images(size, channels)
    x, y = datasets.load_digits(return_images=True)
    assert x_train.shape[1:] == (size, size, channels) and x_train.dtype == np.uint8
    assert len(x_train) + len(x_test) == len(x) and len(x_test) == round(len(x) * 0.25)
    assert y_train.dtype == np.uint8 and set(np.unique(y_train)) <= set(range(10))
    # Every image is its digit scaled up, centred: the sum of pixels is factor^2 * 16 * sum.
    factor = size // 8
    totals = np.sort(x_train[..., 0].reshape(len(x_train), -1).sum(1).astype(np.int64))
    reference = np.minimum(x * 16, 255).reshape(len(x), -1).sum(1).astype(np.int64) * factor ** 2
    assert set(totals) <= set(reference)
    if channels > 1:
        assert np.array_equal(x_train[..., 0], x_train[..., -1])
    with pytest.raises(ValueError, match="size >= 8"):
        datasets.load_digits_images(7)


@pytest.mark.parametrize("name, shape, y_dtype", [("load_breast_cancer", (569, 30), np.int64),
                                                  ("load_diabetes", (442, 10), np.float32)])
def test_scikit_learn_tables(name, shape, y_dtype):
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    x, y = getattr(datasets, name)()
    assert x.shape == shape and x.dtype == np.float32 and np.isfinite(x).all()
    assert y.shape == (shape[0],) and y.dtype == y_dtype
    if name == "load_breast_cancer":
        assert np.bincount(y).tolist() == [212, 357]  # malignant, benign
        np.testing.assert_allclose(x, sklearn_datasets.load_breast_cancer().data, rtol=1e-6)
    else:
        assert 25 <= y.min() and y.max() <= 346
        assert set(np.unique(x[:, 1])) == {1.0, 2.0}  # sex in its own units, not rescaled
        np.testing.assert_allclose(y, sklearn_datasets.load_diabetes().target)


@pytest.mark.parametrize("name", ["load_breast_cancer", "load_diabetes"])
def test_scikit_learn_tables_say_how_to_install_it(name, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn... fails
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        getattr(datasets, name)()
