"""Dense (x @ kernel + bias, then a fused activation) and matmul."""

import math

import numpy as np
import pytest

import fastnn as fn
from fastnn import _C

from conftest import check_grad, check_grad_f32, leaf

_erf = np.vectorize(math.erf)

_ACT = {
    "linear": lambda z, a: z,
    "relu": lambda z, a: np.maximum(z, 0.0),
    "leaky_relu": lambda z, a: np.where(z > 0, z, a * z),
    "sigmoid": lambda z, a: 1.0 / (1.0 + np.exp(-z)),
    "tanh": lambda z, a: np.tanh(z),
    "gelu": lambda z, a: 0.5 * z * (1.0 + _erf(z / math.sqrt(2.0))),
}
# (activation, alpha): leaky_relu at two slopes, including > 1
_CASES = [("linear", 0.0), ("relu", 0.0), ("leaky_relu", 0.2), ("leaky_relu", 1.7),
          ("sigmoid", 0.0), ("tanh", 0.0), ("gelu", 0.0)]
_IDS = [f"{a}-{alpha}" for a, alpha in _CASES]


def _data(seed, x_shape, units, use_bias):
    """x, kernel, bias with every pre-activation at least 0.02 away from 0 (no kinks)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((x_shape[-1], units)) / math.sqrt(x_shape[-1])
    b = rng.standard_normal(units) * 0.5 if use_bias else None
    z = x @ w + (b if use_bias else 0.0)
    # nudge x along its own sign so no |z| is tiny; then re-check
    for _ in range(20):
        bad = np.abs(z) < 0.02
        if not bad.any():
            break
        rows = np.nonzero(bad.reshape(-1, units).any(axis=1))[0]
        flat = x.reshape(-1, x_shape[-1])
        flat[rows] += rng.standard_normal((len(rows), x_shape[-1])) * 0.1
        z = x @ w + (b if use_bias else 0.0)
    assert np.abs(z).min() >= 0.02
    return x, w, b, z


def _ref(act, alpha, z):
    return _ACT[act](z, alpha)


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("act,alpha", _CASES, ids=_IDS)
@pytest.mark.parametrize("x_shape,units", [((5, 3), 4), ((1, 7), 1), ((2, 3, 5), 3), ((3,), 2)])
def test_dense_float64(act, alpha, use_bias, x_shape, units):
    x, w, b, z = _data(30, x_shape, units, use_bias)
    args = [leaf(x), leaf(w)] + ([leaf(b)] if use_bias else [])
    out = _C.dense(*args[:2], args[2] if use_bias else None, act, alpha)
    assert out.shape == z.shape and out.dtype == "float64"
    np.testing.assert_allclose(np.asarray(out), _ref(act, alpha, z), rtol=1e-13, atol=1e-14)
    g = np.random.default_rng(31).standard_normal(z.shape)

    def f(x, w, b=None):
        return (_C.dense(x, w, b, act, alpha) * g).sum()

    check_grad(f, args)


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("act,alpha", _CASES, ids=_IDS)
def test_dense_float32(act, alpha, use_bias):
    x, w, b, z = _data(32, (7, 5), 3, use_bias)
    args = [leaf(x, "float32"), leaf(w, "float32")] + ([leaf(b, "float32")] if use_bias else [])
    out = _C.dense(*args[:2], args[2] if use_bias else None, act, alpha)
    assert out.dtype == "float32"
    np.testing.assert_allclose(np.asarray(out), _ref(act, alpha, z), rtol=1e-5, atol=1e-6)
    g = np.random.default_rng(33).standard_normal(z.shape)
    check_grad_f32(lambda x, w, b=None: (_C.dense(x, w, b, act, alpha) * g).sum(), args)


@pytest.mark.parametrize("act", ["linear", "relu", "leaky_relu", "sigmoid", "tanh", "gelu"])
def test_functional_dense(act):
    """fn.dense: leaky_relu slopes 0.01 by default like fn.leaky_relu, or negative_slope."""
    x, w, b, z = _data(34, (7, 3), 5, True)
    xt, wt, bt = leaf(x), leaf(w), leaf(b)
    alpha = 0.01 if act == "leaky_relu" else 0.0
    np.testing.assert_allclose(np.asarray(fn.dense(xt, wt, bt, act)), _ref(act, alpha, z),
                               rtol=1e-13, atol=1e-14)
    if act == "leaky_relu":
        np.testing.assert_allclose(np.asarray(fn.dense(xt, wt, bt, act, negative_slope=0.3)),
                                   _ref(act, 0.3, z), rtol=1e-13, atol=1e-14)
    # numpy inputs go through as_tensor; the activation fused equals the op applied after it
    unfused = getattr(fn, act)(fn.dense(xt, wt, bt)) if act != "linear" else fn.dense(xt, wt, bt)
    np.testing.assert_allclose(np.asarray(fn.dense(xt, wt, bt, act)), np.asarray(unfused),
                               rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("act,alpha", _CASES, ids=_IDS)
def test_dense_vs_torch(act, alpha, use_bias):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, w, b, z = _data(35, (2, 3, 5), 4, use_bias)
    g = np.random.default_rng(36).standard_normal(z.shape)
    xt, wt = leaf(x), leaf(w)
    bt = leaf(b) if use_bias else None
    (_C.dense(xt, wt, bt, act, alpha) * g).sum().backward()

    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True) if use_bias else None
    tz = F.linear(tx, tw.T, tb)
    ty = {"linear": lambda t: t, "relu": F.relu,
          "leaky_relu": lambda t: F.leaky_relu(t, negative_slope=alpha),
          "sigmoid": torch.sigmoid, "tanh": torch.tanh,
          "gelu": lambda t: F.gelu(t, approximate="none")}[act](tz)
    (ty * torch.tensor(g)).sum().backward()
    y = _C.dense(xt, wt, bt, act, alpha)
    np.testing.assert_allclose(np.asarray(y), ty.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.asarray(xt.grad), tx.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(np.asarray(wt.grad), tw.grad.numpy(), rtol=1e-12, atol=1e-13)
    if use_bias:
        np.testing.assert_allclose(np.asarray(bt.grad), tb.grad.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
# (64, 129, 1024): B's rows are 4 KiB apart, so the forward GEMM is not cut into pieces.
# (4096, 100, 20): the weight gradient x^T @ g runs as slices of k of a transposed x.
@pytest.mark.parametrize("rows,inputs,units", [(64, 784, 130), (64, 128, 785), (33, 513, 129),
                                               (64, 129, 1024), (4096, 100, 20)])
def test_dense_layers_whose_gemms_run_in_pieces(rows, inputs, units, dtype):
    # A thread's share of these GEMMs is over OpenBLAS's small-GEMM size: where its kernel
    # multiplies small products without packing, fastnn cuts them into column pieces or
    # slices of k (cpu/blas.cpp); forward, input and weight gradients must not change.
    rng = np.random.default_rng(rows + inputs + units)
    x, w = rng.standard_normal((rows, inputs)), rng.standard_normal((inputs, units))
    b, g = rng.standard_normal(units), rng.standard_normal((rows, units))
    xt, wt, bt = leaf(x, dtype), leaf(w, dtype), leaf(b, dtype)
    y = _C.dense(xt, wt, bt, "linear")
    (y * fn.tensor(g, dtype=dtype)).sum().backward()
    # float32: products of up to 785 terms of size ~1, summed in another order than numpy's
    tol = dict(rtol=1e-12, atol=1e-10) if dtype == "float64" else dict(rtol=1e-4, atol=2e-4)
    np.testing.assert_allclose(np.asarray(y), x @ w + b, **tol)
    np.testing.assert_allclose(np.asarray(xt.grad), g @ w.T, **tol)
    np.testing.assert_allclose(np.asarray(wt.grad), x.T @ g, **tol)


def test_dense_grad_only_for_some_inputs():
    x, w, b, z = _data(37, (5, 3), 2, True)
    g = np.random.default_rng(38).standard_normal(z.shape)
    wt = leaf(w)
    (_C.dense(fn.tensor(x, dtype="float64"), wt, fn.tensor(b, dtype="float64"), "tanh") * g).sum().backward()
    np.testing.assert_allclose(np.asarray(wt.grad), x.T @ (g * (1 - np.tanh(z) ** 2)), rtol=1e-12)
    with fn.no_grad():
        y = _C.dense(leaf(x), wt, None, "relu")
    assert not y.requires_grad and y.grad_fn is None


def test_dense_gelu_large_inputs_finite():
    x = np.array([[-40.0, -8.0, 0.0, 8.0, 40.0]]).T
    xt = leaf(x)
    y = _C.dense(xt, leaf(np.ones((1, 1))), None, "gelu")
    y.sum().backward()
    np.testing.assert_allclose(np.asarray(y)[:, 0], [0.0, -8 * 0.5 * math.erfc(8 / math.sqrt(2)),
                                                      0.0, 8.0, 40.0], rtol=1e-12, atol=1e-15)
    assert np.isfinite(np.asarray(xt.grad)).all()


# --- matmul --------------------------------------------------------------------------------

@pytest.mark.parametrize("sa,sb", [((5, 3), (3, 4)), ((1, 1), (1, 1)), ((2, 3, 5), (5, 7)),
                                   ((7,), (7, 3)), ((33, 2), (2, 1)), ((2, 1, 3, 4), (4, 2))])
def test_matmul(sa, sb):
    rng = np.random.default_rng(39)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    out = fn.matmul(leaf(a), leaf(b))
    expected = a @ b
    assert out.shape == expected.shape
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-13, atol=1e-14)
    w = rng.standard_normal(expected.shape)
    check_grad(lambda x, y: ((x @ y) * w).sum(), [leaf(a), leaf(b)])
    check_grad_f32(lambda x, y: (fn.matmul(x, y) * w).sum(), [leaf(a, "float32"), leaf(b, "float32")])


# Large enough that the CPU backend cuts each GEMM into blocks for its threads: tall and
# wide products, and the transposed ones of the backward pass; odd sizes leave partial blocks.
@pytest.mark.parametrize("sa,sb", [((301, 77), (77, 43)), ((37, 211), (211, 303)),
                                   ((129, 1000), (1000, 17))])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_large_matmul_forward_and_backward(sa, sb, dtype):
    rng = np.random.default_rng(47)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    g = rng.standard_normal((sa[0], sb[1]))
    x, y = leaf(a, dtype), leaf(b, dtype)
    out = fn.matmul(x, y)
    (out * fn.tensor(g, dtype=dtype)).sum().backward()
    tol = dict(rtol=1e-12, atol=1e-11) if dtype == "float64" else dict(rtol=2e-5, atol=2e-4)
    np.testing.assert_allclose(np.asarray(out), a @ b, **tol)
    np.testing.assert_allclose(np.asarray(x.grad), g @ b.T, **tol)
    np.testing.assert_allclose(np.asarray(y.grad), a.T @ g, **tol)


@pytest.mark.parametrize("sa,sb", [((3, 0), (0, 2)), ((2, 3, 0), (0, 5)), ((0, 3), (3, 2))])
def test_matmul_with_an_empty_dimension(sa, sb):
    """An empty inner dimension gives zeros (not uninitialised memory), like numpy."""
    for _ in range(3):  # recycle freed memory full of NaN under the result
        junk = fn.tensor(np.full((64, 64), np.nan))
        del junk
        a, b = leaf(np.ones(sa)), leaf(np.ones(sb))
        y = fn.matmul(a, b)
        assert y.shape == np.ones(sa).dot(np.ones(sb)).shape
        np.testing.assert_array_equal(np.asarray(y), 0.0)
        (y * 2.0).sum().backward()
        assert a.grad.shape == sa and b.grad.shape == sb
        np.testing.assert_array_equal(np.asarray(a.grad), 0.0)
        np.testing.assert_array_equal(np.asarray(b.grad), 0.0)


def test_matmul_vs_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(40)
    a, b = rng.standard_normal((2, 3, 5)), rng.standard_normal((5, 7))
    w = rng.standard_normal((2, 3, 7))
    x, y = leaf(a), leaf(b)
    ((x @ y) * w).sum().backward()
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    ((ta @ tb) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(y.grad), tb.grad.numpy(), rtol=1e-12)


# --- the Dense layer -----------------------------------------------------------------------

@pytest.mark.parametrize("activation,alpha", [(None, 0.0), ("relu", 0.0), ("leaky_relu", 0.2),
                                              ("sigmoid", 0.0), ("softmax", 0.0)])
def test_dense_layer_forward_and_backward(activation, alpha):
    fn.manual_seed(41)
    layer = fn.layers.Dense(3, activation=activation, dtype="float64")
    x, w, b, z = _data(42, (7, 5), 3, True)
    out = layer(x)
    assert layer.kernel.shape == (5, 3) and layer.bias.shape == (3,)
    layer.set_weights([w, b])
    out = layer(x)
    if activation == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        expected = e / e.sum(axis=1, keepdims=True)
    else:
        expected = _ref(activation or "linear", alpha, z)
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-13, atol=1e-14)
    g = np.random.default_rng(43).standard_normal(z.shape)
    gx = layer.backward(g)
    gk = np.array(layer.kernel.grad, copy=True)
    # the layer's backward equals autograd through a fresh call
    xt = leaf(x)
    layer.kernel.grad = None
    (layer(xt) * g).sum().backward()
    np.testing.assert_allclose(np.asarray(gx), np.asarray(xt.grad), rtol=1e-14)
    np.testing.assert_allclose(gk, np.asarray(layer.kernel.grad), rtol=1e-14)
