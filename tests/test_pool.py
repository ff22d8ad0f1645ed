"""Pooling (max/avg 2D and 1D, global): forward against a float64 numpy reference with
TensorFlow's 'same' rule, gradients by finite differences, PyTorch as a second oracle."""

import numpy as np
import pytest

import fastnn as fn
from fastnn import layers

from conftest import check_grad, check_grad_f32, leaf


def _axis(extent, pool, stride, padding):
    """(output size, padding before) along one axis, as TensorFlow computes them."""
    if padding == "valid":
        return (extent - pool) // stride + 1, 0
    out = -(-extent // stride)
    return out, max((out - 1) * stride + pool - extent, 0) // 2


def ref_pool2d(x, is_max, pool, strides, padding):
    n, h, w, c = x.shape
    oh, pt = _axis(h, pool[0], strides[0], padding)
    ow, pl = _axis(w, pool[1], strides[1], padding)
    y = np.empty((n, oh, ow, c))
    for i in range(oh):
        h0 = i * strides[0] - pt
        for j in range(ow):
            w0 = j * strides[1] - pl
            win = x[:, max(h0, 0):h0 + pool[0], max(w0, 0):w0 + pool[1], :]
            y[:, i, j] = win.max(axis=(1, 2)) if is_max else win.mean(axis=(1, 2))
    return y


def distinct(rng, shape):
    """Values with no ties (so max pooling's gradient has no kink within eps)."""
    return rng.permutation(np.arange(np.prod(shape))).reshape(shape) * 0.1 + rng.uniform(
        -0.01, 0.01, shape)


_CASES = [  # (shape, pool, strides, padding)
    ((2, 5, 7, 3), (2, 2), (2, 2), "valid"),
    ((1, 7, 5, 2), (3, 2), (2, 1), "valid"),
    ((3, 5, 5, 1), (3, 3), (2, 2), "same"),
    ((2, 6, 7, 3), (2, 3), (3, 2), "same"),
    ((1, 1, 1, 4), (1, 1), (1, 1), "valid"),
    ((2, 4, 3, 2), (4, 3), (1, 1), "same"),
]


@pytest.mark.parametrize("is_max", [True, False], ids=["max", "avg"])
@pytest.mark.parametrize("case", _CASES, ids=str)
def test_pool2d_forward_and_gradients(case, is_max):
    shape, pool, strides, padding = case
    rng = np.random.default_rng(hash((case, is_max)) % 2**32)
    a = distinct(rng, shape)
    f = fn.max_pool2d if is_max else fn.avg_pool2d
    x = leaf(a)
    y = f(x, pool, strides, padding)
    ref = ref_pool2d(a, is_max, pool, strides, padding)
    assert y.shape == ref.shape and y.dtype == "float64"
    np.testing.assert_allclose(np.asarray(y), ref, rtol=1e-14, atol=1e-14)
    w = rng.standard_normal(ref.shape)
    check_grad(lambda x: (f(x, pool, strides, padding) * w).sum(), [x])
    x32 = leaf(a, "float32")
    np.testing.assert_allclose(np.asarray(f(x32, pool, strides, padding)), ref, rtol=1e-6,
                               atol=1e-6)
    check_grad_f32(lambda x: (f(x, pool, strides, padding) * w).sum(), [x32])


@pytest.mark.parametrize("is_max", [True, False], ids=["max", "avg"])
@pytest.mark.parametrize("case", [((2, 7, 3), 2, None, "valid"), ((3, 9, 2), 3, 2, "same"),
                                  ((1, 5, 4), 4, 3, "same"), ((2, 6, 1), 1, 1, "valid")],
                         ids=str)
def test_pool1d_is_2d_with_height_one(case, is_max):
    shape, pool, strides, padding = case
    rng = np.random.default_rng(7)
    a = distinct(rng, shape)
    f = fn.max_pool1d if is_max else fn.avg_pool1d
    x = leaf(a)
    y = f(x, pool, strides, padding)
    s = pool if strides is None else strides
    ref = ref_pool2d(a[:, None], is_max, (1, pool), (1, s), padding)[:, 0]
    np.testing.assert_allclose(np.asarray(y), ref, rtol=1e-14, atol=1e-14)
    w = rng.standard_normal(ref.shape)
    check_grad(lambda x: (f(x, pool, strides, padding) * w).sum(), [x])


@pytest.mark.parametrize("is_max", [True, False], ids=["max", "avg"])
def test_global_pooling(is_max):
    rng = np.random.default_rng(3)
    a = distinct(rng, (3, 5, 7, 4))
    f = fn.global_max_pool2d if is_max else fn.global_avg_pool2d
    x = leaf(a)
    y = f(x)
    ref = a.max(axis=(1, 2)) if is_max else a.mean(axis=(1, 2))
    np.testing.assert_allclose(np.asarray(y), ref, rtol=1e-14, atol=1e-14)
    w = rng.standard_normal(ref.shape)
    check_grad(lambda x: (f(x) * w).sum(), [x])
    layer = layers.GlobalMaxPooling2D(keepdims=True) if is_max else layers.GlobalAveragePooling2D(
        keepdims=True)
    assert layer(a).shape == (3, 1, 1, 4)


def test_max_gradient_goes_to_the_first_maximum():
    a = np.zeros((1, 2, 2, 1))  # all tied
    x = leaf(a)
    fn.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad)[0, :, :, 0], [[1, 0], [0, 0]])
    # Overlapping windows (stride 1) add their gradients at a shared maximum.
    b = np.array([[1.0, 5.0, 2.0], [0.0, 3.0, 1.0], [2.0, 1.0, 0.0]]).reshape(1, 3, 3, 1)
    x = leaf(b)
    fn.max_pool2d(x, 2, 1).sum().backward()
    g = np.zeros((3, 3))
    g[0, 1] = 2
    g[1, 1] = 2
    np.testing.assert_array_equal(np.asarray(x.grad)[0, :, :, 0], g)


# 2x2 max pools over fewer channels than a 64-byte vector holds (but at least half) run one
# vector per pixel (cpu/pool.cpp): channel counts around both thresholds of float32 (8, 16)
# and float64 (4, 8), strides 1 and 2, odd sizes, a NaN and ties in the windows.
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("channels", [4, 5, 7, 8, 10, 15, 16, 17])
@pytest.mark.parametrize("strides", [(2, 2), (1, 1), (2, 1), (1, 2)], ids=str)
def test_two_by_two_max_pool_across_channel_counts(channels, strides, dtype):
    rng = np.random.default_rng(channels * 10 + strides[0] * 3 + strides[1])
    a = distinct(rng, (3, 7, 9, channels))
    a[1, 2, 3, channels - 1] = np.nan
    a[2, 4, 4:6, 0] = a[2, 5, 4, 0] = 1e3  # a tie: the first in the window wins
    x = leaf(a, dtype)
    y = fn.max_pool2d(x, 2, strides)
    ref = ref_pool2d(np.nan_to_num(a, nan=np.inf), True, (2, 2), strides, "valid")
    ref[np.isinf(ref)] = np.nan
    np.testing.assert_array_equal(np.asarray(y), ref.astype(dtype))
    w = rng.standard_normal(ref.shape)
    (y * fn.tensor(w, dtype=dtype)).sum().backward()
    # Each output's gradient goes to the first maximum of its window (the NaN where one is).
    expected = np.zeros_like(a)
    for n, i, j, c in np.ndindex(*ref.shape):
        h0, w0 = i * strides[0], j * strides[1]
        window = np.nan_to_num(a[n, h0:h0 + 2, w0:w0 + 2, c], nan=np.inf)
        di, dj = np.unravel_index(np.argmax(window), (2, 2))
        expected[n, h0 + di, w0 + dj, c] += w[n, i, j, c]
    np.testing.assert_allclose(np.asarray(x.grad), expected, rtol=1e-6, atol=1e-6)


def test_max_pool_propagates_nan():
    a = np.array([1.0, np.nan, 3.0, 2.0]).reshape(1, 2, 2, 1)
    assert np.isnan(np.asarray(fn.max_pool2d(fn.tensor(a, dtype="float64"), 2))).all()


@pytest.mark.parametrize("case", _CASES, ids=str)
def test_pool2d_vs_torch(case):
    torch = pytest.importorskip("torch")
    shape, pool, strides, padding = case
    rng = np.random.default_rng(11)
    a = distinct(rng, shape)
    w = rng.standard_normal(ref_pool2d(a, True, pool, strides, padding).shape)
    for is_max in (True, False):
        f = fn.max_pool2d if is_max else fn.avg_pool2d
        x = leaf(a)
        y = f(x, pool, strides, padding)
        (y * fn.tensor(w, dtype="float64")).sum().backward()
        t = torch.tensor(a.transpose(0, 3, 1, 2), requires_grad=True)
        tp = t
        if padding == "same":  # TF's asymmetric padding made explicit; -inf never wins a max
            (_, pt), (_, pl) = (_axis(shape[1], pool[0], strides[0], "same"),
                                _axis(shape[2], pool[1], strides[1], "same"))
            oh, ow = y.shape[1], y.shape[2]
            pb = max((oh - 1) * strides[0] + pool[0] - shape[1], 0) - pt
            pr = max((ow - 1) * strides[1] + pool[1] - shape[2], 0) - pl
            if not is_max and (pt or pb or pl or pr):
                continue  # torch's average would count the padding
            tp = torch.nn.functional.pad(t, (pl, pr, pt, pb), value=-float("inf"))
        op = torch.nn.functional.max_pool2d if is_max else torch.nn.functional.avg_pool2d
        ty = op(tp, pool, strides)
        (ty * torch.tensor(w.transpose(0, 3, 1, 2))).sum().backward()
        np.testing.assert_allclose(np.asarray(y), ty.detach().numpy().transpose(0, 2, 3, 1),
                                   rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(np.asarray(x.grad), t.grad.numpy().transpose(0, 2, 3, 1),
                                   rtol=1e-13, atol=1e-13)


def test_layers_keras_arguments_and_aliases():
    assert layers.MaxPooling2D is layers.MaxPool2D and layers.MaxPool2D().name.startswith("max_pooling2d") and layers.AveragePooling1D is layers.AvgPool1D
    layer = layers.AveragePooling2D(pool_size=3, strides=(1, 2), padding="SAME")
    assert layer.pool_size == (3, 3) and layer.strides == (1, 2) and layer.padding == "same"
    assert layers.MaxPool2D().strides == (2, 2)
    model = fn.Sequential([layers.MaxPool2D(), layers.GlobalAvgPool2D()], input_shape=(6, 6, 3))
    assert model.predict(np.ones((2, 6, 6, 3), np.float32)).shape == (2, 3)


def test_pool_errors_name_the_layer_and_argument():
    x = np.zeros((1, 3, 3, 1), np.float32)
    with pytest.raises(ValueError, match="MaxPooling2D 'p'.*pool_size.*at most.*height"):
        layers.MaxPool2D(4, name="p")(x)
    with pytest.raises(ValueError, match="rank 4"):
        layers.AvgPool2D()(np.zeros((3, 3, 1), np.float32))
    with pytest.raises(ValueError, match="rank 3"):
        fn.max_pool1d(fn.tensor(x), 2)
    for bad in (0, -1, (2, 0), (1, 2, 3), 1.5):
        with pytest.raises(ValueError, match="pool_size"):
            layers.MaxPool2D(bad)
    with pytest.raises(ValueError, match="strides"):
        layers.AvgPool1D(2, strides=0)
    with pytest.raises(ValueError, match="padding"):
        layers.MaxPool2D(padding="full")
    with pytest.raises(ValueError, match="data_format"):
        layers.MaxPool2D(data_format="channels_first")
    with pytest.raises(ValueError, match="rank 4"):
        fn.global_max_pool2d(fn.tensor(np.zeros((2, 3), np.float32)))
    with pytest.raises(TypeError):
        fn.max_pool2d(fn.tensor(np.zeros((1, 2, 2, 1), np.int64)), 2)
