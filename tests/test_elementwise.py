"""Broadcasting arithmetic, reductions, scale, shape ops and the weight penalty."""

import numpy as np
import pytest

import fastnn as fn
from fastnn import _C

from conftest import away_from_zero, check_grad, check_grad_f32, leaf

_NP = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}
_FN = {"add": fn.add, "sub": fn.sub, "mul": fn.mul, "div": fn.div}

_SHAPES = [
    ((3, 7), (3, 7)),        # same shape
    ((3, 7), (7,)),          # row bias
    ((3, 7), (3, 1)),        # column
    ((3, 7), ()),            # scalar
    ((), (3, 7)),            # scalar on the left
    ((1,), (1,)),
    ((1, 7), (3, 1)),        # outer broadcast on both sides
    ((2, 3, 5), (3, 1)),     # 3-D against 2-D column
    ((2, 1, 5), (1, 3, 1)),  # 3-D, both broadcast
    ((5,), (2, 3, 5)),       # low rank on the left
    ((2, 3, 5), (2, 3, 5)),
    ((2, 3, 1), (1, 1, 5)),
    ((33, 1), (1, 3)),
]


def _operands(rng, sa, sb):
    a = away_from_zero(rng, sa, 0.5, 2.0)
    b = away_from_zero(rng, sb, 0.5, 2.0)
    return a, b


@pytest.mark.parametrize("op", list(_NP))
@pytest.mark.parametrize("sa,sb", _SHAPES, ids=[f"{a}-{b}" for a, b in _SHAPES])
def test_binary_forward_and_grad_float64(op, sa, sb):
    rng = np.random.default_rng(10)
    a, b = _operands(rng, sa, sb)
    expected = _NP[op](a, b)
    w = rng.standard_normal(expected.shape)
    x, y = leaf(a), leaf(b)
    out = _FN[op](x, y)
    assert out.shape == expected.shape and out.dtype == "float64"
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-15, atol=0)
    check_grad(lambda x, y: (_FN[op](x, y) * w).sum(), [x, y])


@pytest.mark.parametrize("op", list(_NP))
@pytest.mark.parametrize("sa,sb", _SHAPES[:4] + _SHAPES[7:9], ids=str)
def test_binary_grad_float32(op, sa, sb):
    rng = np.random.default_rng(11)
    a, b = _operands(rng, sa, sb)
    w = rng.standard_normal(np.broadcast_shapes(sa, sb))
    out = _FN[op](leaf(a, "float32"), leaf(b, "float32"))
    assert out.dtype == "float32"
    np.testing.assert_allclose(np.asarray(out), _NP[op](a.astype(np.float32), b.astype(np.float32)),
                               rtol=1e-6)
    check_grad_f32(lambda x, y: (_FN[op](x, y) * w).sum(), [leaf(a, "float32"), leaf(b, "float32")])


@pytest.mark.parametrize("op", list(_NP))
@pytest.mark.parametrize("sa,sb", [((3, 7), (7,)), ((2, 3, 5), (3, 1)), ((1, 7), (3, 1))])
def test_binary_vs_torch(op, sa, sb):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    a, b = _operands(rng, sa, sb)
    w = rng.standard_normal(np.broadcast_shapes(sa, sb))
    x, y = leaf(a), leaf(b)
    out = _FN[op](x, y)
    (out * w).sum().backward()
    ta = torch.tensor(a, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    tout = getattr(torch, op)(ta, tb)
    (tout * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(np.asarray(out), tout.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(np.asarray(x.grad), ta.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.asarray(y.grad), tb.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_binary_same_tensor_both_sides():
    rng = np.random.default_rng(13)
    a = away_from_zero(rng, (3, 7))
    for op in _NP:
        check_grad(lambda x: (_FN[op](x, x) * x).sum(), [leaf(a)])


def test_binary_only_one_side_requires_grad():
    rng = np.random.default_rng(14)
    a, b = _operands(rng, (3, 7), (7,))
    x = leaf(a)
    y = fn.tensor(b, dtype="float64")
    (fn.div(y, x)).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), -b / a ** 2, rtol=1e-14)
    assert y.grad is None


@pytest.mark.parametrize("sa,sb", [((0, 3), (1, 3)), ((0, 3), ()), ((2, 0, 3), (3,)),
                                   ((3, 0), (3, 1))], ids=str)
def test_binary_and_reductions_on_empty_tensors(sa, sb):
    """Empty operands give empty results and zero (empty-sum) gradients, never a crash."""
    a, b = np.ones(sa), np.full(sb, 2.0)
    for op in _NP:
        x, y = leaf(a), leaf(b)
        out = _FN[op](x, y)
        assert out.shape == _NP[op](a, b).shape
        total = fn.sum(fn.sum(out, axis=0) * 3.0)
        assert total.item() == 0.0
        total.backward()
        assert x.grad.shape == sa and y.grad.shape == sb
        np.testing.assert_array_equal(np.asarray(y.grad), 0.0)
    np.testing.assert_array_equal(np.asarray(fn.sum(fn.tensor(np.ones((2, 0, 3))), axis=1)),
                                  np.zeros((2, 3)))


# --- reductions ----------------------------------------------------------------------------

_REDUCE = [
    ((33,), None, False), ((33,), 0, True), ((3, 7), None, True), ((3, 7), 0, False),
    ((3, 7), 1, True), ((3, 7), -1, False), ((2, 3, 5), (0, 2), False),
    ((2, 3, 5), (0, 2), True), ((2, 3, 5), (2, 1), False), ((2, 3, 5), (-3, -2, -1), True),
    ((2, 3, 5), 1, False), ((1, 1), None, False), ((7, 1, 3), 1, False),
]


@pytest.mark.parametrize("name", ["sum", "mean"])
@pytest.mark.parametrize("shape,axis,keepdims", _REDUCE, ids=str)
def test_reductions(name, shape, axis, keepdims):
    rng = np.random.default_rng(15)
    a = rng.standard_normal(shape)
    f = getattr(fn, name)
    ref = getattr(np, name)(a, axis=axis, keepdims=keepdims)
    x = leaf(a)
    out = f(x, axis=axis, keepdims=keepdims)
    assert out.shape == ref.shape
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-13, atol=1e-15)
    w = rng.standard_normal(ref.shape)
    check_grad(lambda x: (f(x, axis=axis, keepdims=keepdims) * w).sum(), [x])
    check_grad_f32(lambda x: (f(x, axis=axis, keepdims=keepdims) * w).sum(), [leaf(a, "float32")])


def test_sum_accumulates_float32_in_double():
    a = np.full(100001, 0.1, dtype=np.float32)
    out = fn.sum(fn.tensor(a)).item()
    exact = a.astype(np.float64).sum()
    # one float32 rounding of the exact total (a float32 running sum is off by ~1.4)
    assert abs(out - exact) <= np.spacing(np.float32(exact))
    out = fn.mean(fn.tensor(a.reshape(1, -1)), axis=1).item()
    assert abs(out - exact / a.size) <= 2 * np.spacing(np.float32(exact / a.size))  # sum, scale


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rows,cols", [(70001, 33), (36865, 10), (100003, 1), (4099, 64), (5, 4097),
                                       (3, 70000), (1, 1), (7, 3)])
def test_a_broadcast_bias_gradient_sums_every_row_in_double(rows, cols, dtype):
    # x + b with b of shape (cols,): b's gradient is the column sums of the upstream
    # gradient (Backend::sum_to): tall ones in blocks of rows, wide ones by columns.
    rng = np.random.default_rng(rows + cols)
    g = rng.standard_normal((rows, cols)).astype(dtype)
    b = fn.tensor(np.zeros(cols), dtype=dtype, requires_grad=True)
    (fn.tensor(np.zeros((rows, cols)), dtype=dtype) + b).backward(fn.tensor(g, dtype=dtype))
    exact = g.astype(np.float64).sum(axis=0)
    got = b.grad.numpy()
    assert got.dtype == dtype
    # One rounding of the double sum to the dtype (float64: the summation order's error).
    tol = np.spacing(np.abs(exact).astype(dtype)) if dtype == "float32" else 1e-12 * rows
    assert np.all(np.abs(got - exact) <= tol)


@pytest.mark.parametrize("name", ["sum", "mean"])
def test_reductions_vs_torch(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(16)
    a = rng.standard_normal((2, 3, 5))
    w = rng.standard_normal((2, 1, 1))
    x = leaf(a)
    (getattr(fn, name)(x, axis=(1, 2), keepdims=True) * w).sum().backward()
    t = torch.tensor(a, requires_grad=True)
    (getattr(torch, name)(t, dim=(1, 2), keepdim=True) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), t.grad.numpy(), rtol=1e-14)


def test_reduction_bad_axes():
    x = fn.tensor(np.zeros((2, 3)))
    with pytest.raises(IndexError, match="out of range"):
        fn.sum(x, axis=2)
    with pytest.raises(ValueError, match="repeated"):
        fn.mean(x, axis=(1, -1))


# --- scale and shape ops -------------------------------------------------------------------

@pytest.mark.parametrize("alpha", [0.0, -1.5, 3.0])
def test_scale(alpha):
    rng = np.random.default_rng(17)
    a = rng.standard_normal((3, 7))
    np.testing.assert_allclose(np.asarray(_C.scale(leaf(a), alpha)), alpha * a, rtol=1e-15)
    w = rng.standard_normal((3, 7))
    g = check_grad(lambda x: (_C.scale(x, alpha) * w).sum(), [leaf(a)])
    np.testing.assert_allclose(g[0], alpha * w, rtol=1e-15)


@pytest.mark.parametrize("src,dst", [((3, 7), (7, 3)), ((3, 7), (-1,)), ((2, 3, 5), (6, -1)),
                                     ((33,), (3, 11)), ((1,), ()), ((), (1, 1))])
def test_reshape(src, dst):
    rng = np.random.default_rng(18)
    a = rng.standard_normal(src)
    out = fn.reshape(leaf(a), dst)
    np.testing.assert_array_equal(np.asarray(out), a.reshape(dst))
    w = rng.standard_normal(a.reshape(dst).shape)
    check_grad(lambda x: (fn.reshape(x, dst) * w).sum(), [leaf(a)])


def test_reshape_errors():
    x = fn.tensor(np.zeros((3, 7)))
    with pytest.raises(ValueError, match="21"):
        fn.reshape(x, (4, 5))
    with pytest.raises(ValueError, match="-1"):
        fn.reshape(x, (-1, -1))
    with pytest.raises(ValueError):
        fn.reshape(x, (2, -1))


@pytest.mark.parametrize("shape", [(3, 7), (2, 3, 5), (1, 1, 1, 4), (7,)])
def test_flatten(shape):
    rng = np.random.default_rng(19)
    a = rng.standard_normal(shape)
    expected = a.reshape(shape[0], -1)
    np.testing.assert_array_equal(np.asarray(fn.flatten(leaf(a))), expected)
    w = rng.standard_normal(expected.shape)
    check_grad(lambda x: (fn.flatten(x) * w).sum(), [leaf(a)])


@pytest.mark.parametrize("shapes,axis", [
    ([(3, 7), (1, 7), (2, 7)], 0),
    ([(3, 2), (3, 1), (3, 5)], 1),
    ([(2, 3, 1), (2, 3, 4)], -1),
    ([(2, 1, 5), (2, 3, 5)], 1),
    ([(33,), (1,)], 0),
    ([(3, 7)], -1),
])
def test_concat(shapes, axis):
    rng = np.random.default_rng(20)
    arrays = [rng.standard_normal(s) for s in shapes]
    expected = np.concatenate(arrays, axis=axis)
    out = fn.concat([leaf(a) for a in arrays], axis=axis)
    np.testing.assert_array_equal(np.asarray(out), expected)
    w = rng.standard_normal(expected.shape)
    check_grad(lambda *xs: (fn.concat(list(xs), axis=axis) * w).sum(), [leaf(a) for a in arrays])
    check_grad_f32(lambda *xs: (fn.concat(list(xs), axis=axis) * w).sum(),
                   [leaf(a, "float32") for a in arrays])


def test_concat_partial_requires_grad_and_torch():
    rng = np.random.default_rng(21)
    a, b = rng.standard_normal((3, 2)), rng.standard_normal((3, 5))
    w = rng.standard_normal((3, 7))
    x = leaf(a)
    (fn.concat([x, fn.tensor(b, dtype="float64")], axis=1) * w).sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), w[:, :2])
    torch = pytest.importorskip("torch")
    t = torch.tensor(a, requires_grad=True)
    (torch.cat([t, torch.tensor(b)], dim=1) * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), t.grad.numpy())


def test_concat_errors():
    a = fn.tensor(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"\(3, 2\)"):
        fn.concat([a, fn.tensor(np.zeros((2, 3)))], axis=0)
    with pytest.raises(IndexError, match="axis 2"):
        fn.concat([a, a], axis=2)
    with pytest.raises(ValueError, match="at least one"):
        fn.concat([], axis=0)
    with pytest.raises(TypeError, match="float64"):
        fn.concat([a, fn.tensor(np.zeros((1, 2)), dtype="float64")])


@pytest.mark.parametrize("begin,end", [(0, 7), (2, 5), (6, 7), (0, 1)])
def test_slice_rows(begin, end):
    rng = np.random.default_rng(22)
    a = rng.standard_normal((7, 3))
    np.testing.assert_array_equal(np.asarray(_C.slice_rows(leaf(a), begin, end)), a[begin:end])
    w = rng.standard_normal((end - begin, 3))
    check_grad(lambda x: (_C.slice_rows(x, begin, end) * w).sum(), [leaf(a)])


@pytest.mark.parametrize("index", [[0], [6, 2, 2, 0], list(range(7))[::-1], [3] * 5])
@pytest.mark.parametrize("idx_dtype", ["int32", "int64"])
def test_take_rows(index, idx_dtype):
    rng = np.random.default_rng(23)
    a = rng.standard_normal((7, 2, 3))
    idx = fn.tensor(np.array(index), dtype=idx_dtype)
    np.testing.assert_array_equal(np.asarray(_C.take_rows(leaf(a), idx)), a[index])
    w = rng.standard_normal((len(index), 2, 3))
    check_grad(lambda x: (_C.take_rows(x, idx) * w).sum(), [leaf(a)])
    check_grad_f32(lambda x: (_C.take_rows(x, idx) * w).sum(), [leaf(a, "float32")])


def test_take_rows_errors():
    x = fn.tensor(np.zeros((7, 2)))
    with pytest.raises(IndexError, match="position 1"):
        _C.take_rows(x, fn.tensor([0, 7]))
    with pytest.raises(TypeError, match="int32 or int64"):
        _C.take_rows(x, fn.tensor([0.0]))
    with pytest.raises(IndexError, match="slice"):
        _C.slice_rows(x, 3, 8)


# --- weight penalty ------------------------------------------------------------------------

@pytest.mark.parametrize("l1,l2", [(0.0, 0.0), (0.01, 0.0), (0.0, 0.3), (0.5, 0.25)])
@pytest.mark.parametrize("shape", [(1,), (3, 7), (2, 3, 5)])
def test_weight_penalty(l1, l2, shape):
    rng = np.random.default_rng(24)
    a = away_from_zero(rng, shape, 0.05, 1.0)
    out = _C.weight_penalty(leaf(a), l1, l2)
    assert out.shape == ()
    np.testing.assert_allclose(out.item(), l1 * np.abs(a).sum() + l2 * (a ** 2).sum(), rtol=1e-14)
    check_grad(lambda w: _C.weight_penalty(w, l1, l2) * 3.0, [leaf(a)])
    check_grad_f32(lambda w: _C.weight_penalty(w, l1, l2), [leaf(a, "float32")])


def test_weight_penalty_via_regularizers_and_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(25)
    a = away_from_zero(rng, (3, 7), 0.05, 1.0)
    w = leaf(a)
    fn.regularizers.L1L2(l1=0.1, l2=0.2)(w).backward()
    t = torch.tensor(a, requires_grad=True)
    (0.1 * t.abs().sum() + 0.2 * (t ** 2).sum()).backward()
    np.testing.assert_allclose(np.asarray(w.grad), t.grad.numpy(), rtol=1e-14)
    with pytest.raises(ValueError, match="l1 >= 0"):
        _C.weight_penalty(w, -0.1, 0.0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_all_finite_finds_any_nan_or_inf(dtype):
    """The bit-test scan fit runs over whole target arrays: every position, both infinities,
    the largest finite value and denormals."""
    rng = np.random.default_rng(5)
    info = np.finfo(dtype)
    n = 3 * 4096 + 77  # three full chunks and a partial one
    base = rng.standard_normal(n).astype(dtype)
    base[:3] = [info.max, -info.max, info.tiny / 4]
    assert _C.all_finite(_C.from_numpy(base)) and _C.all_finite(_C.from_numpy(base[:0]))
    for position in [0, 4095, 4096, n - 1, int(rng.integers(n))]:
        for bad in [np.nan, np.inf, -np.inf]:
            x = base.copy()
            x[position] = bad
            assert not _C.all_finite(_C.from_numpy(x)), (position, bad)
