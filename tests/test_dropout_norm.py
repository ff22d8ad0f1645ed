"""Dropout, SpatialDropout2D and BatchNormalization: masks from the seeded generator,
gradients by finite differences, numpy and PyTorch references, and captured fits equal to
eager ones (every replay draws a new mask and updates the moving statistics)."""

import warnings

import numpy as np
import pytest

import fastnn as fn
from fastnn import layers

from conftest import check_grad, check_grad_f32, leaf


# --- dropout -------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dropout_keep_fraction_and_exact_scaling(dtype):
    rate, n = 0.3, 200_003
    a = np.random.default_rng(1).uniform(0.5, 2.0, n)
    y = np.asarray(fn.dropout(fn.tensor(a, dtype=dtype), rate))
    kept = y != 0
    # Binomial(n, 0.7): 6 standard deviations.
    assert abs(kept.mean() - (1 - rate)) < 6 * np.sqrt(rate * (1 - rate) / n)
    scale = np.array(1 / (1 - rate), dtype=dtype)
    np.testing.assert_array_equal(y[kept], a.astype(dtype)[kept] * scale)


def philox(seed, counters):
    """Philox4x32-10 in numpy (math/random.h): the four 32-bit lanes of each counter."""
    m32 = np.uint64(0xFFFFFFFF)
    c = [counters & m32, counters >> np.uint64(32), np.zeros_like(counters),
         np.zeros_like(counters)]
    k0, k1 = np.uint64(seed & 0xFFFFFFFF), np.uint64(seed >> 32)
    for _ in range(10):
        p0, p1 = np.uint64(0xD2511F53) * c[0], np.uint64(0xCD9E8D57) * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ k0, p1 & m32, (p0 >> np.uint64(32)) ^ c[3] ^ k1,
             p0 & m32]
        k0, k1 = (k0 + np.uint64(0x9E3779B9)) & m32, (k1 + np.uint64(0xBB67AE85)) & m32
    return np.stack(c, axis=-1)


def test_dropout_mask_is_philox_lanes_and_advances_the_generator_like_rand():
    n, rate = 7 * 33, 0.4
    fn.manual_seed(5)
    u = np.asarray(fn.rand(n))  # the reference Philox agrees with the generator's own draws
    lanes = philox(5, np.arange(n, dtype=np.uint64))
    np.testing.assert_array_equal(u, (lanes[:, 0] >> np.uint64(8)) * np.float32(2.0**-24))
    after = np.asarray(fn.rand(3))
    for dtype in ("float32", "float64"):
        fn.manual_seed(5)
        y = np.asarray(fn.dropout(fn.ones((7, 33), dtype=dtype), rate))
        keep = philox(5, np.arange((n + 3) // 4, dtype=np.uint64)).reshape(-1)[:n] >= np.uint64(
            np.ceil(rate * 2.0**32))
        np.testing.assert_array_equal(y.reshape(-1) != 0, keep)
        np.testing.assert_array_equal(np.asarray(fn.rand(3)), after)  # advanced by n, like rand


def test_dropout_same_seed_same_mask_and_a_new_mask_each_call():
    x = fn.ones((5, 9))
    fn.manual_seed(3)
    first, second = np.asarray(fn.dropout(x, 0.5)), np.asarray(fn.dropout(x, 0.5))
    assert not np.array_equal(first, second)
    fn.manual_seed(3)
    np.testing.assert_array_equal(np.asarray(fn.dropout(x, 0.5)), first)


def test_dropout_backward_uses_the_forward_mask():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((4, 7))
    w = rng.standard_normal((4, 7))
    x = leaf(a)
    fn.manual_seed(9)
    y = fn.dropout(x, 0.25)
    (y * fn.tensor(w, dtype="float64")).sum().backward()
    mask = np.asarray(y) / a
    np.testing.assert_allclose(np.asarray(x.grad), w * mask, rtol=1e-15)

    def f(x):  # the same draw on every evaluation: a fixed linear map, checkable
        fn.manual_seed(9)
        return (fn.dropout(x, 0.25) * fn.tensor(w, dtype=x.dtype)).sum()

    check_grad(f, [leaf(a)])
    check_grad_f32(f, [leaf(a, "float32")])


def test_dropout_identity_at_inference_and_rate_zero_and_errors():
    x = fn.tensor(np.arange(6.0).reshape(2, 3))
    layer = layers.Dropout(0.5)
    np.testing.assert_array_equal(np.asarray(layer(x)), np.asarray(x))
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), np.asarray(x))
    np.testing.assert_array_equal(np.asarray(fn.dropout(x, 0.0)), np.asarray(x))
    for bad in (-0.1, 1.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="rate"):
            layers.Dropout(bad)
        with pytest.raises(ValueError, match="rate"):
            fn.dropout(x, bad)
    with pytest.raises(ValueError, match="noise_shape"):
        fn.dropout(x, 0.5, noise_shape=(2, 2))


def test_noise_shape_and_spatial_dropout_share_a_mask_over_broadcast_axes():
    x = fn.ones((3, 4, 5, 6))
    y = np.asarray(layers.SpatialDropout2D(0.5)(x, training=True))
    assert (y == y[:, :1, :1, :]).all() and 0 < (y != 0).mean() < 1
    y = np.asarray(layers.Dropout(0.5, noise_shape=(None, 1, 5, None))(x, training=True))
    assert (y == y[:, :1]).all()
    a = np.random.default_rng(4).standard_normal((2, 3, 3, 4))

    def f(x):
        fn.manual_seed(1)
        return (layers.SpatialDropout2D(0.5, dtype=x.dtype)(x, training=True) * x).sum()

    check_grad(f, [leaf(a)])
    with pytest.raises(ValueError, match="rank 4"):
        layers.SpatialDropout2D(0.5)(np.ones((2, 3), np.float32), training=True)


def test_dropout_seed_gives_the_layer_its_own_sequence():
    x = fn.ones((4, 8))
    a = layers.Dropout(0.5, seed=42)
    fn.manual_seed(0)
    first = np.asarray(a(x, training=True))
    b = layers.Dropout(0.5, seed=42)
    fn.manual_seed(123)
    np.testing.assert_array_equal(np.asarray(b(x, training=True)), first)
    assert not np.array_equal(np.asarray(a(x, training=True)), first)


# --- batch normalisation -------------------------------------------------------------------

def ref_bn(x, gamma, beta, mean, var, eps):
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


@pytest.mark.parametrize("shape", [(7, 3), (1, 5), (3, 5, 4, 6), (2, 1, 3, 1)], ids=str)
def test_batch_norm_training_forward_and_gradients(shape):
    rng = np.random.default_rng(len(shape) * 10 + shape[-1])
    c = shape[-1]
    a = rng.standard_normal(shape) * 2 + 3
    g, b = rng.uniform(0.5, 2, c), rng.standard_normal(c)
    mm0, mv0 = rng.standard_normal(c), rng.uniform(0.5, 2, c)
    mm, mv = fn.tensor(mm0, dtype="float64"), fn.tensor(mv0, dtype="float64")
    x, gamma, beta = leaf(a), leaf(g), leaf(b)
    y = fn.batch_norm(x, mm, mv, gamma, beta, training=True)
    axes = tuple(range(len(shape) - 1))
    mean, var = a.mean(axis=axes), a.var(axis=axes)
    np.testing.assert_allclose(np.asarray(y), ref_bn(a, g, b, mean, var, 1e-3), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(np.asarray(mm), 0.99 * mm0 + 0.01 * mean, rtol=1e-13)
    np.testing.assert_allclose(np.asarray(mv), 0.99 * mv0 + 0.01 * var, rtol=1e-13)
    w = rng.standard_normal(shape)
    def f(x, g, b):
        stats = (fn.tensor(mm0, dtype=x.dtype), fn.tensor(mv0, dtype=x.dtype))
        return (fn.batch_norm(x, *stats, g, b, training=True) * fn.tensor(w, dtype=x.dtype)).sum()

    check_grad(f, [x, gamma, beta])
    check_grad_f32(f, [leaf(a, "float32"), leaf(g, "float32"), leaf(b, "float32")])


def test_batch_norm_inference_uses_moving_statistics():
    rng = np.random.default_rng(8)
    a = rng.standard_normal((5, 3))
    mm0, mv0 = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    g, b = rng.uniform(0.5, 2, 3), rng.standard_normal(3)
    mm, mv = fn.tensor(mm0, dtype="float64"), fn.tensor(mv0, dtype="float64")
    x, gamma, beta = leaf(a), leaf(g), leaf(b)
    w = rng.standard_normal((5, 3))
    y = fn.batch_norm(x, mm, mv, gamma, beta, training=False)
    np.testing.assert_allclose(np.asarray(y), ref_bn(a, g, b, mm0, mv0, 1e-3), rtol=1e-13)
    np.testing.assert_array_equal(np.asarray(mm), mm0)  # untouched
    check_grad(lambda x, g, b: (fn.batch_norm(x, mm, mv, g, b) * fn.tensor(w, dtype="float64")).sum(), [x, gamma, beta])


def test_batch_norm_layer_weights_flags_and_moving_statistics_over_steps():
    layer = layers.BatchNormalization(center=False, input_shape=(4,))
    assert [w.name.split("/")[1] for w in layer.weights] == ["gamma", "moving_mean",
                                                             "moving_variance"]
    assert len(layer.parameters()) == 1 and len(layer.non_trainable_weights) == 2
    rng = np.random.default_rng(3)
    mm, mv = np.zeros(4), np.ones(4)
    for _ in range(4):
        a = rng.standard_normal((6, 4)).astype(np.float32)
        layer(a, training=True)
        mm = 0.99 * mm + 0.01 * a.mean(0)
        mv = 0.99 * mv + 0.01 * a.var(0)
    np.testing.assert_allclose(layer.get_weights()[1], mm, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(layer.get_weights()[2], mv, rtol=1e-5)
    frozen = layers.BatchNormalization(trainable=False, input_shape=(4,))
    frozen(a, training=True)  # Keras: a frozen layer runs in inference mode
    np.testing.assert_array_equal(frozen.get_weights()[3], np.ones(4))
    with pytest.raises(ValueError, match="momentum"):
        layers.BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match="epsilon"):
        layers.BatchNormalization(epsilon=0)
    with pytest.raises(ValueError, match=r"BatchNormalization 'bn'.*gamma of shape \(3,\)"):
        layers.BatchNormalization(name="bn", input_shape=(4,))(np.ones((2, 3), np.float32))


def test_batch_norm_vs_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    a = rng.standard_normal((5, 3, 4, 6)) * 1.5 + 0.5
    g, b = rng.uniform(0.5, 2, 6), rng.standard_normal(6)
    w = rng.standard_normal(a.shape)
    mm, mv = fn.zeros(6, dtype="float64"), fn.ones(6, dtype="float64")
    x, gamma, beta = leaf(a), leaf(g), leaf(b)
    y = fn.batch_norm(x, mm, mv, gamma, beta, training=True, momentum=0.9, epsilon=1e-3)
    (y * fn.tensor(w, dtype="float64")).sum().backward()
    bn = torch.nn.BatchNorm2d(6, eps=1e-3, momentum=0.1, dtype=torch.float64)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(g))
        bn.bias.copy_(torch.tensor(b))
    t = torch.tensor(a.transpose(0, 3, 1, 2), requires_grad=True)
    ty = bn(t)
    (ty * torch.tensor(w.transpose(0, 3, 1, 2))).sum().backward()
    np.testing.assert_allclose(np.asarray(y), ty.detach().numpy().transpose(0, 2, 3, 1),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(x.grad), t.grad.numpy().transpose(0, 2, 3, 1),
                               rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(np.asarray(gamma.grad), bn.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(beta.grad), bn.bias.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(mm), bn.running_mean.numpy(), rtol=1e-13)


# --- captured fits ---------------------------------------------------------------------------

def _data(n=75, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6, 6, 2)).astype(np.float32), rng.integers(0, 3, n)


def _cnn_like():
    return fn.Sequential([
        layers.MaxPool2D(padding="same"), layers.SpatialDropout2D(0.2),
        layers.BatchNormalization(), layers.Flatten(), layers.Dense(8, activation="relu"),
        layers.Dropout(0.3), layers.BatchNormalization(), layers.Dense(3)],
        input_shape=(6, 6, 2))


def _dense_dropout():
    return fn.Sequential([layers.Flatten(), layers.Dense(9, activation="relu"),
                          layers.Dropout(0.5), layers.Dense(3)], input_shape=(6, 6, 2))


@pytest.mark.parametrize("make", [_dense_dropout, _cnn_like], ids=["dropout", "bn_pool_dropout"])
def test_captured_fit_equals_eager_fit(make):
    results = []
    for capture in (True, False):
        fn.manual_seed(11)
        m = make()
        m.compile(optimizer="adam", loss=fn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  capture=capture)
        x, y = _data()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a replayable step must not warn
            h = m.fit(x, y, batch_size=16, epochs=4, verbose=0)
        if capture:
            assert m._captured.refused == {} and len(m._captured) >= 2
        results.append((h.history["loss"], m.get_weights(), np.asarray(fn.rand(2))))
    (loss_c, w_c, r_c), (loss_e, w_e, r_e) = results
    assert loss_c == loss_e
    assert all(p.tobytes() == q.tobytes() for p, q in zip(w_c, w_e))  # moving stats included
    assert r_c.tobytes() == r_e.tobytes()  # the generator ends where the eager fit left it


# --- backprop by hand and thread counts ----------------------------------------------------

def test_layer_backward_reuses_the_mask_and_leaves_moving_statistics_alone():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((4, 3, 3, 5)).astype(np.float32)
    a[0, 0, 0] = 0.0  # a kept zero input still passes its gradient
    gy = rng.standard_normal(a.shape).astype(np.float32)
    for layer in (layers.Dropout(0.5), layers.SpatialDropout2D(0.5)):
        y = np.asarray(layer(a, training=True))
        mask = np.asarray(layer._last_mask)
        np.testing.assert_array_equal(y, a * mask)
        np.testing.assert_array_equal(np.asarray(layer.backward(gy)), gy * mask)
        layer(a, training=False)
        np.testing.assert_array_equal(np.asarray(layer.backward(gy)), gy)
    bn = layers.BatchNormalization()
    bn(a, training=True)
    before = bn.get_weights()
    gx = np.asarray(bn.backward(gy))
    assert all(p.tobytes() == q.tobytes() for p, q in zip(before, bn.get_weights()))
    x = fn.tensor(a, requires_grad=True)
    stats = [fn.tensor(w) for w in before[2:]]
    fn.batch_norm(x, *stats, bn.gamma, bn.beta, training=True).backward(fn.tensor(gy))
    np.testing.assert_array_equal(gx, np.asarray(x.grad))


def _run_all(a, gy):
    x = fn.tensor(a, requires_grad=True)
    mm, mv = fn.zeros(a.shape[-1]), fn.ones(a.shape[-1])
    fn.manual_seed(4)
    outs = [fn.max_pool2d(x, 3, 2, "same"), fn.avg_pool2d(x, 2), fn.global_avg_pool2d(x),
            fn.batch_norm(x, mm, mv, training=True), fn.dropout(x, 0.3)]
    total = sum(((o * fn.tensor(gy[: o.numel()].reshape(o.shape))).sum() for o in outs[1:]),
                (outs[0] * fn.tensor(gy[: outs[0].numel()].reshape(outs[0].shape))).sum())
    total.backward()
    return [np.asarray(o).tobytes() for o in outs] + [np.asarray(x.grad).tobytes(),
                                                       np.asarray(mv).tobytes()]


def test_results_do_not_depend_on_the_thread_count():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((33, 17, 15, 24)).astype(np.float32) * 3 + 1
    gy = rng.standard_normal(a.size).astype(np.float32)
    threads = fn.get_num_threads()
    try:
        fn.set_num_threads(1)
        one = _run_all(a, gy)
        fn.set_num_threads(3)
        three = _run_all(a, gy)
    finally:
        fn.set_num_threads(threads)
    assert one == three
