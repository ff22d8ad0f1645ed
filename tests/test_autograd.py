"""The autograd engine: shared inputs, residuals, detach, no_grad, retain_graph, gradient
accumulation, errors, and a small model against PyTorch."""

import numpy as np
import pytest

import fastnn as fn
from fastnn import _C

from conftest import away_from_zero, check_grad, check_grad_f32, leaf


def test_gradient_checkers_detect_wrong_gradients():
    """The conftest helpers fail on a wrong gradient (x.detach() hides half of d(x*x)/dx)."""
    a = np.random.default_rng(79).uniform(0.5, 1.0, (3, 1))
    with pytest.raises(AssertionError, match="gradient error"):
        check_grad(lambda x: (x * x.detach()).sum(), [leaf(a)])
    with pytest.raises(AssertionError, match="gradient error"):
        check_grad_f32(lambda x: (x * x.detach()).sum(), [leaf(a, "float32")])
    # and pass on a right one with an error far below the threshold
    check_grad(lambda x: (x * x).sum(), [leaf(a)], tol=1e-8)


def test_input_used_twice():
    rng = np.random.default_rng(80)
    a = rng.standard_normal((3, 7))
    x = leaf(a)
    (x * x + x).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), 2 * a + 1, rtol=1e-15)
    check_grad(lambda x: (x * x + x).sum(), [leaf(a)])
    check_grad_f32(lambda x: (x * x + x).sum(), [leaf(a, "float32")])


def test_diamond_and_deeper_reuse():
    rng = np.random.default_rng(81)
    a = away_from_zero(rng, (3, 7), 0.5, 2.0)
    w = rng.standard_normal((7, 7))

    def f(x, w):
        h = fn.tanh(x @ w)      # used by three later ops
        u = h * x + h / (x * x)
        return (fn.sigmoid(u) * h).mean() + fn.sum(u * h, axis=0).sum()

    check_grad(f, [leaf(a), leaf(w)])


def test_residual_connection():
    rng = np.random.default_rng(82)
    a = rng.standard_normal((5, 3))
    k = rng.standard_normal((3, 3))
    b = rng.standard_normal(3)
    g = rng.standard_normal((5, 3))
    x, kt, bt = leaf(a), leaf(k), leaf(b)
    (fn.dense(x, kt, bt) + x).backward(fn.tensor(g, dtype="float64"))
    np.testing.assert_allclose(np.asarray(x.grad), g @ k.T + g, rtol=1e-13)
    np.testing.assert_allclose(np.asarray(kt.grad), a.T @ g, rtol=1e-13)
    np.testing.assert_allclose(np.asarray(bt.grad), g.sum(axis=0), rtol=1e-13)
    check_grad(lambda x, k, b: ((fn.dense(x, k, b, "tanh") + x) * g).sum(), [leaf(a), leaf(k), leaf(b)])


def test_detach_stops_gradients():
    rng = np.random.default_rng(83)
    a = rng.standard_normal((3, 7))
    x = leaf(a)
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert d._same_storage(x)
    (d * x).sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), a)  # not 2a
    y = x * 3
    z = y.detach()
    assert not z.requires_grad and z.grad_fn is None
    assert y.grad_fn is not None  # detaching a result leaves the result in its graph


def test_no_grad_records_nothing():
    rng = np.random.default_rng(84)
    x = leaf(rng.standard_normal((3, 7)))
    k = leaf(rng.standard_normal((7, 2)))
    assert fn.is_grad_enabled()
    with fn.no_grad():
        assert not fn.is_grad_enabled()
        outs = [x * 2, x + x, fn.dense(x, k, None, "relu"), fn.softmax(x), x[1:], x[[0, 2]],
                fn.sum(x), fn.concat([x, x]), fn.reshape(x, (-1,)),
                fn.losses.MSELoss()(x, np.zeros((3, 7)))]
        with fn.enable_grad():
            inner = x * 2
    assert fn.is_grad_enabled()
    for out in outs:
        assert not out.requires_grad and out.grad_fn is None, out
    assert inner.requires_grad and inner.grad_fn is not None
    with pytest.raises(RuntimeError, match="does not require grad"):
        outs[0].sum().backward()
    assert x.grad is None


def test_no_grad_as_decorator_and_set_grad_enabled():
    x = fn.tensor([1.0, 2.0], requires_grad=True)

    @fn.no_grad()
    def double(t):
        return t * 2

    assert double(x).grad_fn is None and fn.is_grad_enabled()
    with fn.set_grad_enabled(False):
        assert (x * 2).grad_fn is None
    assert (x * 2).grad_fn is not None
    try:
        with fn.no_grad():
            raise KeyError("inside")
    except KeyError:
        pass
    assert fn.is_grad_enabled()  # restored after an exception


def test_retain_graph_allows_second_backward_and_grads_accumulate():
    rng = np.random.default_rng(85)
    a = rng.standard_normal((3, 7))
    x = leaf(a)
    y = (fn.tanh(x) * x).sum()
    y.backward(retain_graph=True)
    first = np.array(x.grad, copy=True)
    y.backward(retain_graph=True)
    np.testing.assert_allclose(np.asarray(x.grad), 2 * first, rtol=1e-15)
    y.backward()  # last one frees the graph
    np.testing.assert_allclose(np.asarray(x.grad), 3 * first, rtol=1e-15)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_backward_twice_without_retain_graph_raises():
    x = leaf(np.array([1.0, 2.0, 3.0]))
    h = x * x
    y = h.sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    # the intermediate's node was freed too
    with pytest.raises(RuntimeError, match="second time"):
        (h * 2).sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), [2.0, 4.0, 6.0])  # unchanged by failures


def test_backward_on_non_scalar():
    x = leaf(np.arange(6.0).reshape(2, 3))
    y = x * 2
    with pytest.raises(RuntimeError, match="one element"):
        y.backward()
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        y.backward(fn.tensor(np.ones((3, 2)), dtype="float64"))
    with pytest.raises(TypeError, match="float32"):
        y.backward(fn.tensor(np.ones((2, 3))))
    g = np.arange(6.0).reshape(2, 3)
    y.backward(fn.tensor(g, dtype="float64"))  # vector-Jacobian product
    np.testing.assert_array_equal(np.asarray(x.grad), 2 * g)


def test_one_element_non_scalar_backward():
    x = leaf(np.array([[3.0]]))
    (x * x).backward()
    np.testing.assert_array_equal(np.asarray(x.grad), [[6.0]])


def test_leaf_grads_accumulate_across_backward_calls():
    rng = np.random.default_rng(86)
    a = rng.standard_normal((3, 7))
    x = leaf(a)
    (x * 2).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), 2 + 2 * a, rtol=1e-15)
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), np.full((3, 7), 3.0))


def test_leaf_grad_does_not_alias_the_given_gradient():
    x = leaf(np.zeros((2, 3)))
    g = fn.tensor(np.ones((2, 3)), dtype="float64")
    x.reshape(3, 2).backward(fn.reshape(g, (3, 2)))
    np.asarray(g)[...] = 5.0
    np.testing.assert_array_equal(np.asarray(x.grad), 1.0)
    x.backward(g)  # backward on a leaf accumulates too
    np.asarray(g)[...] = 7.0
    np.testing.assert_array_equal(np.asarray(x.grad), 6.0)


def test_only_leaves_get_grad():
    x = leaf(np.array([1.0, 2.0]))
    h = x * 3
    (h * h).sum().backward()
    assert h.grad is None and not h.is_leaf
    np.testing.assert_array_equal(np.asarray(x.grad), 18 * np.array([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="non-leaf"):
        h.requires_grad = False


def test_requires_grad_on_integer_tensors_raises():
    t = fn.tensor([1, 2, 3])
    with pytest.raises(TypeError, match="float"):
        t.requires_grad_()
    with pytest.raises(TypeError, match="float"):
        fn.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="float"):
        fn.tensor(np.arange(3, dtype=np.int32)).requires_grad = True


def test_deep_chain_does_not_overflow_the_stack():
    x = leaf(np.array([1.0]))
    y = x
    for _ in range(20000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), [1.0001 ** 20000], rtol=1e-10)


def test_partial_requires_grad_and_unused_leaf():
    a, b = leaf(np.array([1.0, 2.0])), leaf(np.array([3.0, 4.0]))
    c = fn.tensor([5.0, 6.0], dtype="float64")
    (a * c).sum().backward()
    assert b.grad is None and c.grad is None
    np.testing.assert_array_equal(np.asarray(a.grad), [5.0, 6.0])


# --- a small model against PyTorch ---------------------------------------------------------

class _Net(fn.Model):
    def __init__(self):
        super().__init__(dtype="float64")
        self.d1 = fn.layers.Dense(5, activation="tanh", input_dim=5, dtype="float64")
        self.d2 = fn.layers.Dense(5, activation="gelu", input_dim=5, dtype="float64")
        self.out = fn.layers.Dense(3, input_dim=5, dtype="float64")

    def call(self, x):
        h = self.d1(x) + x          # residual
        u = self.d2(h)
        z = u * h + u               # u used twice, h reused from the residual
        return self.out(z)


def test_small_model_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(87)
    fn.manual_seed(87)
    model = _Net()
    x = rng.standard_normal((7, 5))
    labels = rng.integers(0, 3, 7)
    loss = fn.losses.CrossEntropyLoss()(model(x), labels)
    loss.backward()

    tlayers = []
    for layer in (model.d1, model.d2, model.out):
        kernel, bias = layer.get_weights()
        lin = torch.nn.Linear(kernel.shape[0], kernel.shape[1]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(kernel.T))
            lin.bias.copy_(torch.tensor(bias))
        tlayers.append(lin)
    tx = torch.tensor(x, requires_grad=True)
    h = torch.tanh(tlayers[0](tx)) + tx
    u = torch.nn.functional.gelu(tlayers[1](h))
    z = u * h + u
    tloss = torch.nn.functional.cross_entropy(tlayers[2](z), torch.tensor(labels))
    tloss.backward()

    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-13)
    for layer, lin in zip((model.d1, model.d2, model.out), tlayers):
        np.testing.assert_allclose(np.asarray(layer.kernel.grad), lin.weight.grad.numpy().T,
                                   rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(np.asarray(layer.bias.grad), lin.bias.grad.numpy(),
                                   rtol=1e-11, atol=1e-14)
    assert len(model.parameters()) == 6


def test_small_model_finite_differences():
    rng = np.random.default_rng(88)
    x = rng.standard_normal((3, 5))
    k1, k2 = rng.standard_normal((5, 5)) * 0.5, rng.standard_normal((5, 2)) * 0.5
    b1 = rng.standard_normal(5)
    labels = np.array([1, 0, 1])

    def f(x, k1, b1, k2):
        h = _C.dense(x, k1, b1, "sigmoid", 0.0) + x
        return fn.losses.CrossEntropyLoss()(fn.dense(h * h, k2), labels)

    check_grad(f, [leaf(x), leaf(k1), leaf(b1), leaf(k2)])
    check_grad_f32(f, [leaf(x, "float32"), leaf(k1, "float32"), leaf(b1, "float32"),
                       leaf(k2, "float32")])
