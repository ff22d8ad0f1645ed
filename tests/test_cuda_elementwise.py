"""The CUDA kernels of cuda/activation.cu, cuda/elementwise.cu and cuda/shape.cu against the
CPU backend on the same inputs: forward results and gradients, float32 and float64, odd
sizes and edge cases, through the public ops that reach each Backend method.

Tolerances are relative to the size of the compared array (atol = rtol * max(1, max|cpu|)),
so a value that cancels to near zero is judged at the scale it came from:
- float64: 1e-12 for elementwise results (CUDA's exp/tanh/erfc are within a few ulp of
  glibc's), 1e-10 where a sum is involved (the GPU sums in another fixed order).
- float32: 2e-6 for elementwise results (CUDA's expf/tanhf and the CPU's vectorised
  polynomials are each within 2 ulp of exact, so they may differ by 4 ulp = 5e-7); 1e-5
  for GEMMs and float32 softmax rows (sums of up to 2000 float32 terms in another order).
  Sums that accumulate in double (sum_to, the penalty) agree to one float32 rounding.
- Copies (take_rows, concat, slice) and the embedding gradient (each output row adds its
  rows in index order on both backends, in T) must agree exactly.
"""

import numpy as np
import pytest

import fastnn as fn
from fastnn import _C

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not fn.cuda.is_available(), reason="no CUDA device")]

DTYPES = ["float32", "float64"]
ELEMENTWISE = {"float32": 2e-6, "float64": 1e-12}
SUMS = {"float32": 1e-5, "float64": 1e-10}


def on(device, array, dtype="float64", grad=False):
    return fn.tensor(np.asarray(array), dtype=dtype, device=device, requires_grad=grad)


def close(got, expected, rtol):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    scale = max(1.0, float(np.nanmax(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * scale)


def run(f, arrays, dtype, device, weight):
    """f(*inputs) on `device`, and the inputs' gradients of sum(f(*inputs) * weight)."""
    xs = [on(device, a, dtype, grad=True) for a in arrays]
    out = f(*xs)
    assert out.device.startswith(device)
    result = np.array(out.numpy())
    (out * on(device, weight, dtype)).sum().backward()
    return result, [np.array(x.grad.numpy()) for x in xs]


def compare(f, arrays, dtype, rtol, grad_rtol=None, seed=0):
    """Runs f on the CPU and on the GPU with the same inputs and upstream weights; returns
    the GPU's (result, grads)."""
    rng = np.random.default_rng(seed)
    with fn.no_grad():
        shape = f(*[on("cpu", a, dtype) for a in arrays]).shape
    weight = rng.standard_normal(shape)
    cpu_out, cpu_grads = run(f, arrays, dtype, "cpu", weight)
    gpu_out, gpu_grads = run(f, arrays, dtype, "cuda", weight)
    close(gpu_out, cpu_out, rtol)
    for g, c in zip(gpu_grads, cpu_grads):
        close(g, c, grad_rtol or rtol)
    return gpu_out, gpu_grads


# --- activations (activation_forward, activation_backward) --------------------------------

_ACTIVATIONS = {
    "relu": fn.relu,
    "leaky_relu": lambda x: fn.leaky_relu(x, 0.3),
    "leaky_relu_default": fn.leaky_relu,
    "sigmoid": fn.sigmoid,
    "tanh": fn.tanh,
    "gelu": fn.gelu,
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (33,), (3, 7), (2, 3, 5), (1000, 37)], ids=str)
@pytest.mark.parametrize("name", list(_ACTIVATIONS))
def test_activation(name, shape, dtype):
    rng = np.random.default_rng(1)
    a = rng.uniform(0.05, 6.0, shape) * rng.choice([-1.0, 1.0], shape)  # off relu's kink
    compare(_ACTIVATIONS[name], [a], dtype, ELEMENTWISE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(_ACTIVATIONS))
def test_activation_special_values(name, dtype):
    """Infinities, signed zeros, NaN, saturation and GELU's far tails as on the CPU."""
    a = np.array([-np.inf, -1000.0, -40.0, -12.0, -5.0, -1e-8, -0.0, 0.0, 1e-8, 5.0, 12.0,
                  40.0, 1000.0, np.inf, np.nan])
    f = _ACTIVATIONS[name]
    expected = f(on("cpu", a, dtype)).numpy()
    got = f(on("cuda", a, dtype)).numpy()
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    assert np.array_equal(got[np.isinf(expected)], expected[np.isinf(expected)])
    finite = np.isfinite(expected)
    close(got[finite], expected[finite], ELEMENTWISE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_activation_empty(dtype):
    for f in _ACTIVATIONS.values():
        x = on("cuda", np.zeros((0, 4)), dtype, grad=True)
        y = f(x)
        assert y.shape == (0, 4)
        y.sum().backward()
        assert x.grad.shape == (0, 4)


# --- dense epilogue (bias_activation_forward, activation_backward, sum_to columns) ---------

_DENSE_ACTIVATIONS = ["linear", "relu", "leaky_relu", "sigmoid", "tanh", "gelu"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows", [1, 5, 1500], ids=lambda r: f"rows{r}")
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("activation", _DENSE_ACTIVATIONS)
def test_dense_epilogue(activation, bias, rows, dtype):
    """y = act(x @ W + b): the GEMM (cuBLAS), then the fused bias + activation pass; the
    bias gradient is the column sums of gz (1500 rows: several row chunks)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((rows, 7))
    kernel = rng.standard_normal((7, 37)) * 0.5
    arrays = [x, kernel] + ([rng.standard_normal(37)] if bias else [])

    def f(x, kernel, b=None):
        return fn.dense(x, kernel, b, activation=activation, negative_slope=0.2)

    tol = SUMS[dtype]
    compare(f, arrays, dtype, tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_three_dimensional_inputs(dtype):
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((2, 3, 5)), rng.standard_normal((5, 4)), rng.standard_normal(4)]
    compare(lambda x, k, b: fn.dense(x, k, b, activation="gelu"), arrays, dtype, SUMS[dtype])


# --- softmax, log_softmax ---------------------------------------------------------------

_SOFTMAX_SHAPES = [(1,), (3, 1), (4, 10), (3, 33), (2, 3, 5), (5, 1024), (3, 1025), (4, 2000),
                   (700, 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", _SOFTMAX_SHAPES, ids=str)
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_softmax(log, shape, dtype):
    """Rows up to 1024 long run one per warp, longer ones one per block."""
    rng = np.random.default_rng(4)
    a = rng.standard_normal(shape) * 3
    f = fn.log_softmax if log else fn.softmax
    tol = 2e-5 if dtype == "float32" else 1e-12
    compare(f, [a], dtype, tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_softmax_large_and_masked_logits(log, dtype):
    """Large logits (the max is subtracted first) and -inf entries (masked positions)."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((6, 40)) * 1000
    a[1, :7] = -np.inf
    a[2, ::3] = -np.inf
    a[3, 5] = 1e4  # one dominant entry
    f = fn.log_softmax if log else fn.softmax
    expected = f(on("cpu", a, dtype)).numpy()
    got = f(on("cuda", a, dtype)).numpy()
    assert np.array_equal(np.isneginf(got), np.isneginf(expected))
    finite = np.isfinite(expected)
    close(got[finite], expected[finite], 2e-5 if dtype == "float32" else 1e-12)
    if not log:  # gradients through the masked rows (zero probabilities)
        compare(f, [np.where(np.isfinite(a), a, -1e30)], dtype,
                2e-5 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("shape", [(64, 10), (3, 5000)], ids=str)
def test_softmax_is_deterministic(shape):
    rng = np.random.default_rng(6)
    x = on("cuda", rng.standard_normal(shape), "float32", grad=True)
    w = on("cuda", rng.standard_normal(shape), "float32")
    runs = []
    for _ in range(3):
        x.grad = None
        y = fn.log_softmax(x)
        (y * w).sum().backward()
        runs.append((y.numpy().copy(), x.grad.numpy().copy()))
    for y, g in runs[1:]:
        np.testing.assert_array_equal(y, runs[0][0])
        np.testing.assert_array_equal(g, runs[0][1])


# --- broadcasting binary ops (binary_forward) and their gradients (sum_to) ------------------

_BINARY = {"add": fn.add, "sub": fn.sub, "mul": fn.mul, "div": fn.div}
_BROADCAST_SHAPES = [
    ((3, 7), (3, 7)),
    ((3, 7), (7,)),           # row bias: column sums
    ((3, 7), (3, 1)),         # column: row sums
    ((3, 7), ()),             # scalar: full sum
    ((), (3, 7)),
    ((1,), (1,)),
    ((1, 7), (3, 1)),
    ((2, 3, 5), (3, 1)),
    ((2, 1, 5), (1, 3, 1)),
    ((5,), (2, 3, 5)),
    ((2, 3, 1), (1, 1, 5)),
    ((33, 1), (1, 3)),
    ((1500, 7), (7,)),        # column sums over several row chunks
    ((7, 1500), (7, 1)),      # long row sums
    ((4, 600, 3), (4, 1, 3)),  # a middle axis summed
    ((2000, 9), ()),          # a full sum over several chunks
    ((3, 4, 5, 6), (1, 4, 1, 6)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sa,sb", _BROADCAST_SHAPES, ids=[f"{a}-{b}" for a, b in _BROADCAST_SHAPES])
@pytest.mark.parametrize("op", list(_BINARY))
def test_binary_broadcast(op, sa, sb, dtype):
    rng = np.random.default_rng(7)
    a = rng.uniform(0.5, 2.0, sa) * rng.choice([-1.0, 1.0], sa)
    b = rng.uniform(0.5, 2.0, sb) * rng.choice([-1.0, 1.0], sb)
    out, _ = compare(_BINARY[op], [a, b], dtype, ELEMENTWISE[dtype], grad_rtol=SUMS[dtype])
    # One correctly rounded operation per element, on both backends.
    with fn.no_grad():
        expected = _BINARY[op](on("cpu", a, dtype), on("cpu", b, dtype)).numpy()
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("sa,sb", [((0, 3), (1, 3)), ((0, 3), ()), ((2, 0, 3), (3,)),
                                   ((3, 0), (3, 1))], ids=str)
def test_binary_and_reductions_on_empty_tensors(sa, sb):
    """Empty operands give empty results and zero (empty-sum) gradients."""
    a, b = np.ones(sa), np.full(sb, 2.0)
    three = on("cuda", 3.0)
    for f in _BINARY.values():
        x, y = on("cuda", a, grad=True), on("cuda", b, grad=True)
        out = f(x, y)
        assert out.shape == np.broadcast_shapes(sa, sb)
        total = fn.sum(fn.sum(out, axis=0) * three)
        assert total.item() == 0.0
        total.backward()
        assert x.grad.shape == sa and y.grad.shape == sb
        np.testing.assert_array_equal(y.grad.numpy(), 0.0)


# --- reductions (sum_to, broadcast_to, axpby) -----------------------------------------------

_REDUCE = [
    ((33,), None, False), ((3, 7), 0, False), ((3, 7), 1, True), ((3, 7), -1, False),
    ((2, 3, 5), (0, 2), False), ((2, 3, 5), (2, 1), True), ((2, 3, 5), 1, False),
    ((1, 1), None, False), ((7, 1, 3), 1, False), ((3, 700, 5), 1, False),
    ((3, 700, 5), (0, 1), True), ((700, 3, 5), 0, False), ((1500, 4), 0, False),
    ((70000, 2), 0, False), ((4, 3000), -1, False), ((100001,), None, False),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis,keepdims", _REDUCE, ids=str)
@pytest.mark.parametrize("name", ["sum", "mean"])
def test_reductions(name, shape, axis, keepdims, dtype):
    rng = np.random.default_rng(8)
    a = rng.standard_normal(shape)
    f = getattr(fn, name)
    compare(lambda x: f(x, axis=axis, keepdims=keepdims), [a], dtype, SUMS[dtype],
            grad_rtol=ELEMENTWISE[dtype])


def test_sum_accumulates_float32_in_double():
    a = np.full(100001, 0.1, dtype=np.float32)
    exact = a.astype(np.float64).sum()
    out = fn.sum(on("cuda", a, "float32")).item()
    assert abs(out - exact) <= np.spacing(np.float32(exact))
    out = fn.sum(on("cuda", a.reshape(-1, 1), "float32"), axis=0).item()  # column sums
    assert abs(out - exact) <= np.spacing(np.float32(exact))
    out = fn.sum(on("cuda", a.reshape(1, -1), "float32"), axis=1).item()  # a row sum
    assert abs(out - exact) <= np.spacing(np.float32(exact))


@pytest.mark.parametrize("shape,axis", [((70000, 3), 0), ((3, 70000), 1), ((50, 40, 30), 1),
                                        ((300001,), None)], ids=str)
def test_sums_are_deterministic(shape, axis):
    rng = np.random.default_rng(9)
    x = on("cuda", rng.standard_normal(shape), "float32")
    first = fn.sum(x, axis=axis).numpy().copy()
    for _ in range(3):
        np.testing.assert_array_equal(fn.sum(x, axis=axis).numpy(), first)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [0.0, -1.5, 3.0])
def test_scale(alpha, dtype):
    """axpby with beta = 0 (scale) and the gradient accumulation's beta = 1."""
    rng = np.random.default_rng(10)
    a = rng.standard_normal((3, 77))
    compare(lambda x: _C.scale(x, alpha), [a], dtype, ELEMENTWISE[dtype])
    # A tensor used twice: its two gradients are added.
    compare(lambda x: _C.scale(x, alpha) * x, [a], dtype, ELEMENTWISE[dtype])


# --- concat, slice_axis -----------------------------------------------------------------

_CONCAT = [
    ([(3, 7), (1, 7), (2, 7)], 0),
    ([(3, 2), (3, 1), (3, 5)], 1),
    ([(2, 3, 1), (2, 3, 4)], -1),
    ([(2, 1, 5), (2, 3, 5)], 1),
    ([(2, 0, 5), (2, 3, 5), (2, 2, 5)], 1),
    ([(33,), (1,)], 0),
    ([(3, 7)], -1),
    ([(500, 3), (500, 64)], 1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes,axis", _CONCAT, ids=str)
def test_concat_and_slice(shapes, axis, dtype):
    rng = np.random.default_rng(11)
    arrays = [rng.standard_normal(s) for s in shapes]
    out, grads = compare(lambda *xs: fn.concat(list(xs), axis=axis), arrays, dtype, 0.0)
    np.testing.assert_array_equal(out, np.concatenate(arrays, axis=axis).astype(dtype))


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_concat_integers(dtype):
    rng = np.random.default_rng(12)
    arrays = [rng.integers(-1000, 1000, s) for s in [(4, 3), (4, 5)]]
    out = fn.concat([on("cuda", a, dtype) for a in arrays], axis=1)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.numpy(), np.concatenate(arrays, axis=1))


# --- take_rows, scatter_add_rows, find_index_out_of_range -------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("idx_dtype", ["int32", "int64"])
@pytest.mark.parametrize("index", [[0], [6, 2, 2, 0], list(range(7))[::-1], [3] * 5], ids=str)
def test_take_rows(index, idx_dtype, dtype):
    rng = np.random.default_rng(13)
    a = rng.standard_normal((7, 2, 3))
    cpu_idx = on("cpu", index, idx_dtype)
    gpu_idx = on("cuda", index, idx_dtype)
    weight = rng.standard_normal((len(index), 2, 3))
    cpu_out, cpu_grads = run(lambda x: _C.take_rows(x, cpu_idx), [a], dtype, "cpu", weight)
    gpu_out, gpu_grads = run(lambda x: _C.take_rows(x, gpu_idx), [a], dtype, "cuda", weight)
    np.testing.assert_array_equal(gpu_out, cpu_out)
    np.testing.assert_array_equal(gpu_grads[0], cpu_grads[0])


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_take_rows_of_integers(dtype):
    rng = np.random.default_rng(14)
    labels = rng.integers(0, 10, (9, 2))
    index = np.array([8, 0, 0, 3])
    out = _C.take_rows(on("cuda", labels, dtype), on("cuda", index, "int64"))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.numpy(), labels[index])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ids_dtype", ["int32", "int64", "float64"])
@pytest.mark.parametrize("vocab,dim,ids_shape", [(11, 3, (7,)), (9, 4, (5, 7)), (50, 1, (4, 9)),
                                                 (10, 33, (64, 80)), (3000, 64, (16, 50))],
                         ids=str)
def test_embedding(vocab, dim, ids_shape, ids_dtype, dtype):
    """fn.embedding: take_rows forward, scatter_add_rows backward with repeated ids. Each
    output row adds its rows in id order on both backends, so the gradients are equal."""
    rng = np.random.default_rng(15)
    weights = rng.standard_normal((vocab, dim))
    ids = rng.integers(0, min(vocab, 10) if ids_shape == (64, 80) else vocab, ids_shape)
    ids.flat[:3] = ids.flat[0]  # repeated within a row
    upstream = rng.standard_normal(ids_shape + (dim,))
    results = {}
    for device in ("cpu", "cuda"):
        w = on(device, weights, dtype, grad=True)
        out = fn.embedding(on(device, ids, ids_dtype), w)
        (out * on(device, upstream, dtype)).sum().backward()
        results[device] = (out.numpy().copy(), w.grad.numpy().copy())
    np.testing.assert_array_equal(results["cuda"][0], weights[ids].astype(dtype))
    np.testing.assert_array_equal(results["cuda"][0], results["cpu"][0])
    np.testing.assert_array_equal(results["cuda"][1], results["cpu"][1])
    expected = np.zeros_like(weights)
    np.add.at(expected, ids, upstream)
    close(results["cuda"][1], expected.astype(dtype), SUMS[dtype])


@pytest.mark.parametrize("ids", [[0, 7], [1, -1, 9], [2.5], [0.0, np.nan, 20.0]], ids=str)
def test_out_of_range_ids_name_the_first_position(ids):
    """find_index_out_of_range on the device finds the same first bad position."""
    array = np.array(ids)
    dtype = "float64" if array.dtype.kind == "f" else "int64"
    messages = {}
    for device in ("cpu", "cuda"):
        with pytest.raises(IndexError) as info:
            fn.embedding(on(device, array, dtype), on(device, np.zeros((7, 2)), "float32"))
        messages[device] = str(info.value)
    assert messages["cuda"] == messages["cpu"]
    with pytest.raises(IndexError, match="position 1"):
        _C.take_rows(on("cuda", np.zeros((7, 2))), on("cuda", [0, 7, 8], "int32"))


# --- weight penalty, all_finite -----------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("l1,l2", [(0.0, 0.0), (0.01, 0.0), (0.0, 0.3), (0.5, 0.25)])
@pytest.mark.parametrize("shape", [(1,), (3, 7), (2, 3, 5), (300, 101)], ids=str)
def test_weight_penalty(l1, l2, shape, dtype):
    rng = np.random.default_rng(16)
    a = rng.uniform(0.05, 1.0, shape) * rng.choice([-1.0, 1.0], shape)
    a.flat[0] = 0.0  # sign(0) = 0
    out, _ = compare(lambda w: _C.weight_penalty(w, l1, l2), [a], dtype, SUMS[dtype],
                     grad_rtol=ELEMENTWISE[dtype])
    assert out.shape == ()
    close(out, np.asarray(l1 * np.abs(a).sum() + l2 * (a ** 2).sum(), dtype=dtype),
          1e-6 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_weight_penalty_via_regularizers(dtype):
    rng = np.random.default_rng(17)
    a = rng.standard_normal((3, 7))
    grads = {}
    for device in ("cpu", "cuda"):
        w = on(device, a, dtype, grad=True)
        fn.regularizers.L1L2(l1=0.1, l2=0.2)(w).backward()
        grads[device] = w.grad.numpy().copy()
    close(grads["cuda"], grads["cpu"], ELEMENTWISE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_all_finite_finds_any_nan_or_inf(dtype):
    rng = np.random.default_rng(18)
    info = np.finfo(dtype)
    n = 3 * 4096 + 77
    base = rng.standard_normal(n).astype(dtype)
    base[:3] = [info.max, -info.max, info.tiny / 4]
    assert _C.all_finite(on("cuda", base, dtype))
    assert _C.all_finite(on("cuda", base[:0], dtype))
    for position in [0, 4095, 4096, n - 1, int(rng.integers(n))]:
        for bad in [np.nan, np.inf, -np.inf]:
            x = base.copy()
            x[position] = bad
            assert not _C.all_finite(on("cuda", x, dtype)), (position, bad)
