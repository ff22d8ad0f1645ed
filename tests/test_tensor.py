"""Tensors from Python: construction, dtypes, numpy interop, item, indexing, repr, operators."""

import numpy as np
import pytest

import fastnn as fn
from fastnn import _C

from conftest import check_grad, check_grad_f32, leaf


# --- construction and memory ---------------------------------------------------------------

def test_tensor_copies_its_data():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 7)).astype(np.float32)
    t = fn.tensor(a)
    assert not np.shares_memory(np.asarray(t), a)
    a[0, 0] = 1234.0
    assert np.asarray(t)[0, 0] != 1234.0
    # and a tensor built from a tensor is a copy too
    u = fn.tensor(t)
    np.asarray(t)[1, 1] = -5.0
    assert np.asarray(u)[1, 1] != -5.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
def test_from_numpy_is_zero_copy_for_contiguous_arrays(dtype):
    a = np.arange(21).reshape(3, 7).astype(dtype)
    t = _C.from_numpy(a)
    assert t.dtype == np.dtype(dtype).name
    assert np.shares_memory(np.asarray(t), a)
    a[2, 6] = 99
    assert np.asarray(t)[2, 6] == 99


def test_as_tensor_is_zero_copy_for_matching_contiguous_arrays():
    a = np.linspace(-1, 1, 33, dtype=np.float32)
    t = fn.as_tensor(a)
    assert t.dtype == "float32" and np.shares_memory(np.asarray(t), a)
    b = np.linspace(-1, 1, 33)
    t64 = fn.as_tensor(b, dtype="float64")
    assert t64.dtype == "float64" and np.shares_memory(np.asarray(t64), b)
    # a tensor comes back as it is
    assert fn.as_tensor(t) is t
    with pytest.raises(TypeError, match="float64"):
        fn.as_tensor(t, dtype="float64")


@pytest.mark.parametrize("make", [
    lambda a: a.T,                                 # transposed
    lambda a: a[:, ::2],                           # strided columns
    lambda a: np.asfortranarray(a),                # Fortran order
    lambda a: a[::-1],                             # negative stride
])
def test_from_numpy_copies_non_contiguous_arrays(make):
    rng = np.random.default_rng(1)
    base = rng.standard_normal((5, 7))
    a = make(base)
    t = _C.from_numpy(a)
    assert t.shape == a.shape
    assert not np.shares_memory(np.asarray(t), base)
    np.testing.assert_array_equal(np.asarray(t), a)


def test_from_numpy_converts_dtype_by_copy():
    a = np.arange(7, dtype=np.float64)
    t = _C.from_numpy(a, "float32")
    assert t.dtype == "float32" and not np.shares_memory(np.asarray(t), a)
    np.testing.assert_array_equal(np.asarray(t), a.astype(np.float32))


def test_default_dtypes():
    assert fn.tensor([1.5, 2.0]).dtype == "float32"
    assert fn.tensor(np.zeros(3)).dtype == "float32"          # float64 data -> float32
    assert fn.tensor([1, 2, 3]).dtype == "int64"
    assert fn.tensor(np.arange(3, dtype=np.int32)).dtype == "int32"
    assert fn.tensor([1, 2], dtype="float64").dtype == "float64"
    assert fn.tensor([1.0], dtype=np.float64).dtype == "float64"
    assert fn.zeros((3, 1)).dtype == "float32" and fn.ones(7, dtype="float64").dtype == "float64"
    assert fn.zeros((2, 3)).shape == (2, 3) and fn.ones(7).shape == (7,)
    np.testing.assert_array_equal(np.asarray(fn.ones((1, 3))), np.ones((1, 3)))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
@pytest.mark.parametrize("shape", [(), (1,), (7,), (3, 1), (2, 3, 5)])
def test_numpy_round_trip(dtype, shape):
    rng = np.random.default_rng(2)
    a = (rng.standard_normal(shape) * 10).astype(dtype)
    t = fn.tensor(a, dtype=dtype)
    assert t.shape == shape and t.ndim == len(shape) and t.numel() == a.size
    b = np.asarray(t)
    assert b.dtype == np.dtype(dtype) and b.shape == shape
    np.testing.assert_array_equal(b, a)
    np.testing.assert_array_equal(np.array(t, dtype=np.float64), a.astype(np.float64))
    assert np.asarray(t).tolist() == t.tolist()


def test_numpy_view_outlives_tensor():
    t = fn.tensor(np.arange(33, dtype=np.float64), dtype="float64")
    view = t.numpy()
    del t
    np.testing.assert_array_equal(view, np.arange(33))


def test_item():
    assert fn.tensor(3.5).item() == 3.5
    assert isinstance(fn.tensor([[7]]).item(), int) and fn.tensor([[7]]).item() == 7
    assert float(fn.tensor([2.25], dtype="float64")) == 2.25
    assert int(fn.tensor([4])) == 4
    with pytest.raises(ValueError, match="one-element"):
        fn.tensor([1.0, 2.0]).item()


def test_requires_grad_and_requires_grad_():
    t = fn.tensor([1.0, 2.0])
    assert not t.requires_grad and t.is_leaf and t.grad is None and t.grad_fn is None
    assert t.requires_grad_() is t and t.requires_grad
    t.requires_grad_(False)
    assert not t.requires_grad


# --- indexing along the batch axis ---------------------------------------------------------

def _index_cases(n):
    return [
        ("int", 2),
        ("negative int", -1),
        ("numpy int", np.int64(n - 2)),
        ("slice", slice(1, 5)),
        ("open slice", slice(None, 3)),
        ("negative slice", slice(-4, -1)),
        ("step slice", slice(0, None, 2)),
        ("negative step", slice(None, None, -3)),
        ("int array", np.array([6, 0, 3, 3])),
        ("int32 array", np.array([1, 5], dtype=np.int32)),
        ("negative int array", np.array([-1, -7, 2])),
        ("list", [4, 4, 0]),
        ("bool mask", np.arange(n) % 3 != 1),
        ("empty slice", slice(3, 3)),
    ]


@pytest.mark.parametrize("name,key", _index_cases(7), ids=[c[0] for c in _index_cases(7)])
def test_indexing_forward_and_grad(name, key):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((7, 3))
    expected = a[key]
    x = leaf(a)
    y = x[key]
    assert y.shape == expected.shape
    np.testing.assert_array_equal(np.asarray(y), expected)
    if y.numel() == 0:
        return
    w = rng.standard_normal(expected.shape)
    check_grad(lambda x: (x[key] * w).sum(), [x])
    # the gradient scatters w back to the selected rows (repeats add)
    g = np.zeros_like(a)
    np.add.at(g, np.arange(7)[key], w)
    np.testing.assert_allclose(np.asarray(x.grad), g, rtol=0, atol=1e-15)


def test_indexing_float32_grad_and_3d():
    rng = np.random.default_rng(4)
    x = leaf(rng.standard_normal((5, 2, 3)), "float32")
    w = rng.standard_normal((2, 2, 3))
    check_grad_f32(lambda x: (x[np.array([4, 1])] * w).sum() + (x[1:3] * w).sum(), [x])


def test_indexing_with_a_tensor_index():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((7, 2))
    x = fn.tensor(a)
    np.testing.assert_array_equal(np.asarray(x[fn.tensor([2, 0])]), a[[2, 0]].astype(np.float32))


@pytest.mark.parametrize("key,exc", [
    (7, IndexError), (-8, IndexError), (np.array([0, 7]), IndexError),
    (np.array([-8]), IndexError), (np.array([True, False]), IndexError),
    (np.array([0.5]), IndexError), ((0, 0, 0), IndexError), ("a", IndexError),
    (fn.tensor([0.0]), IndexError),
])
def test_bad_indices(key, exc):
    x = fn.tensor(np.zeros((7, 2)))
    with pytest.raises(exc):
        x[key]


def test_indexing_a_scalar_raises():
    with pytest.raises(IndexError, match="0-d"):
        fn.tensor(1.0)[0]
    with pytest.raises(TypeError):
        len(fn.tensor(1.0))
    assert len(fn.tensor(np.zeros((7, 3)))) == 7


def test_slice_is_a_view():
    t = fn.tensor(np.arange(12.0).reshape(4, 3))
    s = t[1:3]
    np.asarray(t)[2, 0] = -1.0
    assert np.asarray(s)[1, 0] == -1.0


# --- repr ----------------------------------------------------------------------------------

def test_repr():
    assert repr(fn.tensor([1.0, 2.5])) == "tensor([1. , 2.5])"
    assert repr(fn.tensor([1, 2])) == "tensor([1, 2], dtype=int64)"
    r = repr(fn.tensor([[1.0]], dtype="float64", requires_grad=True))
    assert r == "tensor([[1.]], dtype=float64, requires_grad=True)"
    y = fn.tensor([1.0], requires_grad=True) * 2
    assert repr(y) == "tensor([2.], grad_fn=<mul>)"


# --- operators -----------------------------------------------------------------------------

_OPS = {
    "add": (lambda a, b: a + b), "sub": (lambda a, b: a - b),
    "mul": (lambda a, b: a * b), "div": (lambda a, b: a / b),
}


@pytest.mark.parametrize("op", list(_OPS))
@pytest.mark.parametrize("scalar", [3, -0.5, np.float64(1.75), np.float32(-2.0), np.int64(2)])
def test_operators_with_scalars(op, scalar):
    rng = np.random.default_rng(6)
    a = rng.uniform(0.5, 2.0, (3, 7))
    f = _OPS[op]
    x = leaf(a)
    for y, expected in ((f(x, scalar), f(a, float(scalar))), (f(scalar, x), f(float(scalar), a))):
        assert isinstance(y, fn.Tensor), type(y)
        assert y.dtype == "float64" and y.grad_fn is not None
        np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-15)
    check_grad(lambda x: (f(x, scalar) + f(scalar, x)).sum(), [x])


@pytest.mark.parametrize("op", list(_OPS))
@pytest.mark.parametrize("other_dtype", [np.float32, np.float64])
def test_operators_with_numpy_arrays(op, other_dtype):
    """Arrays on either side are converted to the tensor's dtype; the result is a tensor."""
    rng = np.random.default_rng(7)
    a = rng.uniform(0.5, 2.0, (3, 7))
    b = rng.uniform(0.5, 2.0, (7,)).astype(other_dtype)
    f = _OPS[op]
    x = leaf(a)
    for y, expected in ((f(x, b), f(a, b.astype(np.float64))), (f(b, x), f(b.astype(np.float64), a))):
        assert isinstance(y, fn.Tensor), type(y)
        assert y.dtype == "float64" and y.grad_fn is not None
        np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-15)
    check_grad(lambda x: (f(x, b) * f(b, x)).sum(), [x])


def test_unary_operators_and_methods():
    rng = np.random.default_rng(8)
    a = rng.standard_normal((3, 7))
    x = leaf(a)
    np.testing.assert_array_equal(np.asarray(-x), -a)
    assert (+x) is x
    np.testing.assert_allclose(np.asarray(x.sum(axis=1)), a.sum(axis=1), rtol=1e-14)
    np.testing.assert_allclose(np.asarray(x.mean()), a.mean(), rtol=1e-14)
    np.testing.assert_array_equal(np.asarray(x.reshape(7, 3)), a.reshape(7, 3))
    np.testing.assert_array_equal(np.asarray(x.view(-1)), a.reshape(-1))
    np.testing.assert_array_equal(np.asarray(x.flatten()), a.reshape(-1))
    assert x.size() == (3, 7) and x.size(1) == 7 and x.dim() == 2
    check_grad(lambda x: (-x * x.clone()).sum(), [x])


def test_dtype_conversions_are_differentiable():
    rng = np.random.default_rng(9)
    a = rng.standard_normal((3, 1))
    x = leaf(a)
    y = x.float()
    assert y.dtype == "float32" and y.grad_fn is not None
    (y * fn.tensor([[2.0]])).sum().backward()
    assert x.grad.dtype == "float64"
    np.testing.assert_array_equal(np.asarray(x.grad), np.full((3, 1), 2.0))
    assert x.double() is x or x.double().dtype == "float64"
    assert x.to("int64").dtype == "int64" and x.to("cpu") is x


def test_a_numpy_operand_is_a_snapshot_for_backward():
    """Editing the numpy array after the forward pass must not change the gradient."""
    rng = np.random.default_rng(3)
    w = fn.tensor(rng.normal(size=(4, 3)), requires_grad=True)
    a = rng.normal(size=(4, 3)).astype(np.float32)
    expected = a.copy()
    y = (w * a).sum()
    a[:] = 0
    y.backward()
    np.testing.assert_array_equal(np.asarray(w.grad), expected)


def test_truth_value_of_tensors():
    assert bool(fn.tensor(2.0)) and not bool(fn.tensor([0.0]))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(fn.tensor([1.0, 2.0]))


def test_numpy_targets_of_a_loss_are_a_snapshot_for_backward():
    rng = np.random.default_rng(4)
    pred = fn.tensor(rng.normal(size=(5, 3)), requires_grad=True)
    target = rng.normal(size=(5, 3)).astype(np.float32)
    expected = 2 * (np.asarray(pred) - target) / target.size
    loss = fn.losses.MeanSquaredError()(pred, target)
    target[:] = 0
    loss.backward()
    np.testing.assert_allclose(np.asarray(pred.grad), expected, rtol=1e-5)
