"""Activations, softmax and log_softmax: forward and backward against numpy, finite
differences and PyTorch."""

import math

import numpy as np
import pytest

import fastnn as fn

from conftest import away_from_zero, check_grad, check_grad_f32, leaf

_erf = np.vectorize(math.erf)
_SQRT_2PI = math.sqrt(2 * math.pi)

# name -> (fastnn function, numpy forward, numpy derivative)
_ELEMENTWISE = {
    "relu": (fn.relu, lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(float)),
    "leaky_relu": (lambda x: fn.leaky_relu(x, 0.3), lambda x: np.where(x > 0, x, 0.3 * x),
                   lambda x: np.where(x > 0, 1.0, 0.3)),
    "leaky_relu_default": (fn.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x),
                           lambda x: np.where(x > 0, 1.0, 0.01)),
    "sigmoid": (fn.sigmoid, lambda x: 1 / (1 + np.exp(-x)),
                lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
    "tanh": (fn.tanh, np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "gelu": (fn.gelu, lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
             lambda x: 0.5 * (1 + _erf(x / math.sqrt(2))) + x * np.exp(-x * x / 2) / _SQRT_2PI),
}
_SHAPES = [(1,), (33,), (3, 7), (2, 3, 5)]


@pytest.mark.parametrize("shape", _SHAPES, ids=str)
@pytest.mark.parametrize("name", list(_ELEMENTWISE))
def test_elementwise_activation(name, shape):
    f, ref, dref = _ELEMENTWISE[name]
    rng = np.random.default_rng(50)
    a = away_from_zero(rng, shape, 0.05, 3.0)  # no input on relu's kink
    x = leaf(a)
    y = f(x)
    assert y.shape == shape and y.dtype == "float64" and y.grad_fn is not None
    np.testing.assert_allclose(np.asarray(y), ref(a), rtol=1e-14, atol=1e-15)
    w = rng.standard_normal(shape)
    g = check_grad(lambda x: (f(x) * w).sum(), [x])
    np.testing.assert_allclose(g[0], w * dref(a), rtol=1e-13, atol=1e-15)
    x32 = leaf(a, "float32")
    np.testing.assert_allclose(np.asarray(f(x32)), ref(a), rtol=2e-6, atol=1e-7)
    check_grad_f32(lambda x: (f(x) * w).sum(), [x32])


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh", "gelu"])
def test_elementwise_activation_vs_torch(name):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    tf = {"relu": F.relu, "leaky_relu": lambda t: F.leaky_relu(t, 0.3), "sigmoid": torch.sigmoid,
          "tanh": torch.tanh, "gelu": lambda t: F.gelu(t, approximate="none")}[name]
    f = _ELEMENTWISE[name][0]
    rng = np.random.default_rng(51)
    a = away_from_zero(rng, (3, 7), 0.05, 6.0)
    w = rng.standard_normal((3, 7))
    for dtype, rtol in (("float64", 1e-13), ("float32", 2e-6)):
        x = leaf(a, dtype)
        y = f(x)
        (y * fn.tensor(w, dtype=dtype)).sum().backward()
        t = torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=True)
        ty = tf(t)
        (ty * torch.tensor(w, dtype=t.dtype)).sum().backward()
        np.testing.assert_allclose(np.asarray(y), ty.detach().numpy(), rtol=rtol, atol=rtol)
        np.testing.assert_allclose(np.asarray(x.grad), t.grad.numpy(), rtol=rtol, atol=rtol)


def test_relu_at_zero_has_zero_gradient_like_torch():
    x = leaf(np.array([-1.0, 0.0, 1.0]))
    fn.relu(x).sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), [0.0, 0.0, 1.0])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_and_tanh_saturate_without_nan(dtype):
    a = np.array([-1000.0, -80.0, -40.0, -1e-8, 0.0, 1e-8, 40.0, 100.0, 1000.0])
    x = leaf(a, dtype)
    s = fn.sigmoid(x)
    vals = np.asarray(s, dtype=np.float64)
    assert np.isfinite(vals).all()
    assert vals[0] == 0.0 and vals[-1] == 1.0 and vals[4] == 0.5
    np.testing.assert_allclose(vals[1], math.exp(-80), rtol=1e-5)  # not flushed to 0 early
    assert np.all(np.diff(vals) >= 0)
    s.sum().backward()
    g = np.asarray(x.grad, dtype=np.float64)
    assert np.isfinite(g).all() and g[0] == 0.0 and g[-1] == 0.0
    np.testing.assert_allclose(g[4], 0.25)
    x.grad = None
    t = fn.tanh(x)
    np.testing.assert_array_equal(np.asarray(t, dtype=np.float64)[[0, -1]], [-1.0, 1.0])
    t.sum().backward()
    assert np.isfinite(np.asarray(x.grad)).all()


def test_gelu_matches_exact_erf_form_not_tanh_approximation():
    a = np.array([1.0, -1.0, 3.0, -2.5])
    y = np.asarray(fn.gelu(fn.tensor(a, dtype="float64")))
    exact = np.array([v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in a])
    approx = 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a ** 3)))
    np.testing.assert_allclose(y, exact, rtol=1e-14)
    assert np.abs(y - approx).max() > 1e-4  # the forms differ by ~1.5e-4 at x = 1


def test_leaky_relu_negative_slope_rejected():
    with pytest.raises(ValueError, match="alpha >= 0"):
        fn.leaky_relu(fn.tensor([1.0]), -0.1)


# --- softmax and log_softmax ---------------------------------------------------------------

def _softmax(a):
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(a):
    m = a.max(axis=-1, keepdims=True)
    return a - m - np.log(np.exp(a - m).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("shape", [(1,), (7,), (1, 1), (3, 7), (2, 3, 5), (33, 2)], ids=str)
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_softmax(log, shape):
    f, ref = (fn.log_softmax, _log_softmax) if log else (fn.softmax, _softmax)
    rng = np.random.default_rng(52)
    a = rng.standard_normal(shape) * 2
    x = leaf(a)
    y = f(x)
    np.testing.assert_allclose(np.asarray(y), ref(a), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(np.asarray(f(x, axis=len(shape) - 1)), ref(a), rtol=1e-13,
                               atol=1e-15)
    w = rng.standard_normal(shape)
    g = check_grad(lambda x: (f(x) * w).sum(), [x])
    s = _softmax(a)
    if log:
        expected = w - s * w.sum(axis=-1, keepdims=True)
    else:
        expected = s * (w - (w * s).sum(axis=-1, keepdims=True))
    np.testing.assert_allclose(g[0], expected, rtol=1e-12, atol=1e-14)
    check_grad_f32(lambda x: (f(x) * w).sum(), [leaf(a, "float32")])


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_softmax_vs_torch(log):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(53)
    a = rng.standard_normal((2, 3, 5)) * 3
    w = rng.standard_normal((2, 3, 5))
    x = leaf(a)
    y = (fn.log_softmax if log else fn.softmax)(x)
    (y * w).sum().backward()
    t = torch.tensor(a, requires_grad=True)
    ty = (torch.log_softmax if log else torch.softmax)(t, dim=-1)
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(np.asarray(y), ty.detach().numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(np.asarray(x.grad), t.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_extreme_logits(dtype):
    a = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0], [1e4, 1e4 - 1, 0.0]])
    x = leaf(a, dtype)
    s = np.asarray(fn.softmax(x), dtype=np.float64)
    ls = np.asarray(fn.log_softmax(x), dtype=np.float64)
    assert np.isfinite(s).all() and np.isfinite(ls).all()
    np.testing.assert_allclose(s, _softmax(a), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(ls, _log_softmax(a), rtol=1e-6)
    (fn.log_softmax(x) * fn.tensor(np.ones((3, 3)), dtype=dtype)).sum().backward()
    assert np.isfinite(np.asarray(x.grad)).all()


def test_softmax_rows_sum_to_one():
    rng = np.random.default_rng(54)
    y = fn.softmax(fn.tensor(rng.standard_normal((33, 7)) * 10))
    np.testing.assert_allclose(np.asarray(y).sum(axis=1), 1.0, rtol=1e-6)


def test_softmax_axis_errors():
    x = fn.tensor(np.zeros((3, 7)))
    with pytest.raises(ValueError, match="last axis"):
        fn.softmax(x, axis=0)
    with pytest.raises(ValueError, match="scalar"):
        fn.log_softmax(fn.tensor(1.0))
    with pytest.raises(TypeError, match="float32 or float64"):
        fn.softmax(fn.tensor([1, 2]))


# --- activation layers and lookup ----------------------------------------------------------

@pytest.mark.parametrize("layer,ref", [
    (fn.layers.ReLU(), lambda a: np.maximum(a, 0)),
    (fn.layers.LeakyReLU(), lambda a: np.where(a > 0, a, 0.3 * a)),
    (fn.layers.LeakyReLU(negative_slope=0.05), lambda a: np.where(a > 0, a, 0.05 * a)),
    (fn.layers.Sigmoid(), lambda a: 1 / (1 + np.exp(-a))),
    (fn.layers.Tanh(), np.tanh),
    (fn.layers.Softmax(), _softmax),
    (fn.layers.Activation("gelu"), lambda a: 0.5 * a * (1 + _erf(a / math.sqrt(2)))),
], ids=lambda v: getattr(v, "name", ""))
def test_activation_layers(layer, ref):
    rng = np.random.default_rng(55)
    a = away_from_zero(rng, (3, 7), 0.05, 3.0).astype(np.float32)
    np.testing.assert_allclose(np.asarray(layer(a)), ref(a.astype(np.float64)), rtol=2e-6,
                               atol=1e-7)


def test_activations_get():
    name, f = fn.activations.get("ReLU")
    assert name == "relu" and f is fn.relu
    assert fn.activations.get(None)[0] == "linear"
    assert fn.activations.get(fn.tanh) == ("tanh", fn.tanh)


def _ulps(got, exact):
    """|got - exact| in units of float32 spacing at exact (exact in float64)."""
    return np.abs(got.astype(np.float64) - exact) / np.spacing(np.abs(exact).astype(np.float32))


def _sigmoid64(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


_NORMAL_CDF = np.vectorize(lambda v: 0.5 * math.erfc(-v / math.sqrt(2)))
# name: (op, exact value, exact derivative, the derivative's error scale, input range, ulps
# allowed for the value, for the derivative at its scale). Sigmoid's and tanh's derivatives
# come from the output (y (1 - y), 1 - y^2: PyTorch's too), so they are good to an ulp of 1;
# GELU's is Phi(x) + x phi(x), good to an ulp of its larger term.
_FLOAT32_CASES = {
    "sigmoid": (fn.sigmoid, _sigmoid64, lambda x: _sigmoid64(x) * _sigmoid64(-x),
                lambda x: np.ones_like(x), (-87, 30), 3, 2),
    "tanh": (fn.tanh, np.tanh, lambda x: 1 / np.cosh(x) ** 2, lambda x: np.ones_like(x),
             (-20, 20), 2, 2),
    "gelu": (fn.gelu, lambda x: x * _NORMAL_CDF(x),
             lambda x: _NORMAL_CDF(x) + x * np.exp(-x * x / 2) / _SQRT_2PI,
             lambda x: _NORMAL_CDF(x) + np.abs(x) * np.exp(-x * x / 2) / _SQRT_2PI,
             (-13, 13), 6, 6),
}


@pytest.mark.parametrize("name", list(_FLOAT32_CASES))
def test_float32_activation_accuracy_in_ulps(name):
    """The vectorised float32 paths (exp, tanh, the normal CDF of GELU) against float64 over
    their whole useful range: values within a few float32 ulps wherever the exact value is a
    normal float (below that, within the smallest normal float), derivatives within a few
    ulps of their error scale."""
    op, exact, dexact, dscale, (lo, hi), allowed, dallowed = _FLOAT32_CASES[name]
    rng = np.random.default_rng(60)
    a = np.concatenate([np.linspace(lo, hi, 20001), rng.uniform(lo, hi, 20000),
                        rng.uniform(-1, 1, 2000) * 1e-3]).astype(np.float32)
    a64 = a.astype(np.float64)
    x = leaf(a64, "float32")
    y = op(x)
    y.sum().backward()
    got, want = np.asarray(y).astype(np.float64), exact(a64)
    tiny = np.finfo(np.float32).tiny
    normal = np.abs(want) >= tiny
    err = _ulps(got[normal], want[normal])
    worst = int(np.argmax(err))
    assert err[worst] <= allowed, (a[normal][worst], got[normal][worst], want[normal][worst])
    assert np.all(np.abs(got[~normal] - want[~normal]) <= tiny)
    g = np.asarray(x.grad).astype(np.float64)
    derr = np.abs(g - dexact(a64)) / np.spacing(dscale(a64).astype(np.float32))
    worst = int(np.argmax(derr))
    assert derr[worst] <= dallowed, (a[worst], g[worst], dexact(a64)[worst])
