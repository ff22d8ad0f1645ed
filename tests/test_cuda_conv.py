"""The CUDA backend's convolution, pooling and batch-normalisation kernels (cuda/conv.cu,
cuda/pool.cu, cuda/norm.cu) against the CPU backend on the same inputs: values and
gradients, float32 and float64, odd sizes, strides, dilations, padding, the direct
(1-3 channel) and the lowered (im2col/col2im) convolution paths.

Tolerances (relative to the largest value compared): float64 1e-12 where the two backends
compute each element the same way, 1e-10 for sums whose order differs (the GEMM, the kernel
gradient's reduction, batch norm's per-channel sums); float32 1e-6, and 1e-5 for sums of
up to a few hundred float32 terms added in a different order (cuBLAS's GEMM, the kernel
gradient's block reduction), whose rounding grows with the number of terms. Max pooling
and average pooling's forward add the same values in the same order on both backends and
are compared exactly."""

import math

import numpy as np
import pytest

import fastnn as fn

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not fn.cuda.is_available(), reason="no CUDA device")]

DTYPES = ["float32", "float64"]
ELEMENTWISE = {"float32": 1e-6, "float64": 1e-12}
REDUCTION = {"float32": 1e-5, "float64": 1e-10}


def assert_close(gpu, cpu, tol):
    gpu, cpu = np.asarray(gpu), np.asarray(cpu)
    assert gpu.shape == cpu.shape and gpu.dtype == cpu.dtype
    scale = max(1.0, float(np.abs(cpu).max())) if cpu.size else 1.0
    np.testing.assert_allclose(gpu, cpu, rtol=tol, atol=tol * scale)


def run(f, arrays, dtype, device, gy, grad=None):
    """f(*leaves) on `device` and the gradients of sum(f * gy) for the leaves (all of them,
    or those where `grad` is True) as numpy arrays; None entries of arrays pass None."""
    grad = grad or [True] * len(arrays)
    leaves = [None if a is None else fn.tensor(a, dtype=dtype, device=device, requires_grad=g)
              for a, g in zip(arrays, grad)]
    y = f(*leaves)
    y.backward(fn.tensor(gy, dtype=dtype, device=device))
    grads = [None if t is None or not g else t.grad.numpy() for t, g in zip(leaves, grad)]
    return y.numpy(), grads


def compare_devices(f, arrays, dtype, gy, forward_tol, grad_tol, grad=None):
    y_cpu, g_cpu = run(f, arrays, dtype, "cpu", gy, grad)
    y_gpu, g_gpu = run(f, arrays, dtype, "cuda", gy, grad)
    assert_close(y_gpu, y_cpu, forward_tol)
    for a, b in zip(g_gpu, g_cpu):
        if b is not None:
            assert_close(a, b, grad_tol)
    return y_gpu, g_gpu


# --- conv2d --------------------------------------------------------------------------------

# (N, H, W, C, KH, KW, F, strides, padding, dilation). C <= 3 with F <= 32 takes the direct
# kernels (conv2d_direct_forward, conv2d_direct_backward_kernel; col2im for the input's
# gradient); wider ones im2col + GEMM + col2im; a 1x1 stride-1 kernel is pointwise (no
# lowering, but included for the path switch).
CONV_CASES = [
    (1, 5, 7, 1, 3, 3, 2, 1, "valid", 1),
    (3, 7, 6, 3, 3, 2, 4, 2, "same", 1),
    (1, 9, 8, 4, 2, 3, 3, (3, 2), "same", 1),
    (1, 8, 9, 3, 3, 3, 2, 1, "same", 2),
    (3, 6, 7, 3, 2, 2, 3, (1, 3), ((1, 2), (0, 1)), (2, 1)),
    (1, 5, 5, 4, 1, 1, 3, 1, "valid", 1),
    (1, 7, 5, 1, 5, 3, 2, 3, 1, 1),
    (3, 5, 6, 3, 1, 1, 2, 2, "valid", 1),
    (1, 6, 7, 4, 3, 3, 2, 2, "valid", 2),
    (1, 5, 5, 3, 3, 3, 2, 3, "same", 1),
    (2, 11, 23, 1, 5, 5, 10, 1, "valid", 1),       # LeNet's first layer
    (2, 11, 23, 1, 3, 3, 32, 1, "same", 1),        # mnist_cnn's: direct, 4 blocks of 8 filters
    (2, 11, 23, 3, 3, 3, 17, 2, "same", 1),
    (2, 11, 23, 2, 3, 3, 31, 1, "same", 2),
    (2, 11, 23, 3, 3, 3, 33, 1, "same", 1),        # 33 filters: im2col
    (1, 11, 23, 1, 2, 4, 8, (1, 2), ((2, 0), (1, 3)), 1),
    (2, 9, 10, 7, 3, 3, 5, 1, ((3, 3), (2, 0)), 3),  # padding wider than the kernel's reach
    (3, 4, 4, 5, 4, 4, 6, 1, "same", 1),           # even kernel: odd padding after
    (1, 3, 3, 2, 3, 3, 4, 5, "valid", 1),          # one output pixel
]
CONV_IDS = [f"case{i}" for i in range(len(CONV_CASES))]


def conv_inputs(case, seed):
    N, H, W, C, KH, KW, F, strides, padding, dilation = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, H, W, C))
    k = rng.standard_normal((KH, KW, C, F)) / math.sqrt(KH * KW * C)
    b = rng.standard_normal(F) * 0.5
    return rng, x, k, b, strides, padding, dilation


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
def test_conv2d_matches_cpu(case, dtype):
    rng, x, k, b, strides, padding, dilation = conv_inputs(case, 1)
    f = lambda x, k, b: fn.conv2d(x, k, b, strides, padding, dilation)  # noqa: E731
    y = fn.conv2d(fn.tensor(x), fn.tensor(k), None, strides, padding, dilation)
    gy = rng.standard_normal(y.shape)
    compare_devices(f, [x, k, b], dtype, gy, REDUCTION[dtype], REDUCTION[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [CONV_CASES[i] for i in (0, 4, 11, 14)],
                         ids=[CONV_IDS[i] for i in (0, 4, 11, 14)])
def test_conv2d_kernel_gradient_alone_and_input_gradient_alone(case, dtype):
    """A first layer (x needs no gradient) runs only the kernel-gradient kernel; a frozen
    kernel only col2im."""
    rng, x, k, _, strides, padding, dilation = conv_inputs(case, 2)
    f = lambda x, k: fn.conv2d(x, k, None, strides, padding, dilation)  # noqa: E731
    gy = rng.standard_normal(fn.conv2d(fn.tensor(x), fn.tensor(k), None, strides, padding,
                                       dilation).shape)
    for grad in ([False, True], [True, False]):
        compare_devices(f, [x, k], dtype, gy, REDUCTION[dtype], REDUCTION[dtype], grad)


def test_conv2d_direct_path_is_deterministic():
    rng, x, k, b, strides, padding, dilation = conv_inputs(CONV_CASES[11], 3)
    gy = rng.standard_normal((2, 11, 23, 32))
    f = lambda x, k, b: fn.conv2d(x, k, b, strides, padding, dilation)  # noqa: E731
    first = run(f, [x, k, b], "float32", "cuda", gy)
    second = run(f, [x, k, b], "float32", "cuda", gy)
    np.testing.assert_array_equal(first[0], second[0])
    for a, b in zip(first[1], second[1]):
        np.testing.assert_array_equal(a, b)


# --- conv1d --------------------------------------------------------------------------------

CONV1D_CASES = [  # (N, T, C, K, F, stride, padding, dilation)
    (1, 7, 1, 3, 2, 1, "valid", 1),
    (3, 9, 3, 3, 4, 2, "same", 1),
    (1, 8, 4, 2, 3, 3, "same", 2),
    (3, 6, 3, 3, 2, 1, (2, 1), 2),
    (1, 5, 3, 3, 2, 1, "causal", 2),
    (3, 7, 4, 1, 3, 1, "valid", 1),
    (2, 17, 2, 5, 40, 2, "causal", 1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV1D_CASES, ids=[f"case{i}" for i in range(len(CONV1D_CASES))])
def test_conv1d_matches_cpu(case, dtype):
    N, T, C, K, F, stride, padding, dilation = case
    rng = np.random.default_rng(11)
    x = rng.standard_normal((N, T, C))
    k = rng.standard_normal((K, C, F)) / math.sqrt(K * C)
    b = rng.standard_normal(F)
    f = lambda x, k, b: fn.conv1d(x, k, b, stride, padding, dilation)  # noqa: E731
    gy = rng.standard_normal(fn.conv1d(fn.tensor(x), fn.tensor(k), None, stride, padding,
                                       dilation).shape)
    compare_devices(f, [x, k, b], dtype, gy, REDUCTION[dtype], REDUCTION[dtype])


# --- pooling -------------------------------------------------------------------------------

POOL_CASES = [  # (shape, pool, strides, padding)
    ((2, 5, 7, 3), (2, 2), (2, 2), "valid"),
    ((1, 7, 5, 2), (3, 2), (2, 1), "valid"),
    ((3, 5, 5, 1), (3, 3), (2, 2), "same"),
    ((2, 6, 7, 3), (2, 3), (3, 2), "same"),
    ((1, 1, 1, 4), (1, 1), (1, 1), "valid"),
    ((2, 4, 3, 2), (4, 3), (1, 1), "same"),
    ((2, 9, 8, 5), (3, 3), (1, 1), "same"),  # overlapping windows
    ((1, 7, 7, 2), (2, 2), (3, 3), "valid"),  # gaps between windows
    ((2, 13, 11, 33), (3, 2), (2, 3), "same"),
]


def pool_input(rng, shape, ties):
    """Small integers (many ties: the first maximum must win on both backends) or distinct
    values."""
    if ties:
        return rng.integers(-2, 3, shape).astype(np.float64)
    return rng.standard_normal(shape)


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("is_max", [True, False], ids=["max", "avg"])
@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_pool2d_matches_cpu(case, is_max, dtype, ties):
    shape, pool, strides, padding = case
    rng = np.random.default_rng(5)
    x = pool_input(rng, shape, ties)
    f = (fn.max_pool2d if is_max else fn.avg_pool2d)
    g = lambda x: f(x, pool, strides, padding)  # noqa: E731
    gy = rng.standard_normal(g(fn.tensor(x)).shape)
    y_cpu, (gx_cpu,) = run(g, [x], dtype, "cpu", gy)
    y_gpu, (gx_gpu,) = run(g, [x], dtype, "cuda", gy)
    np.testing.assert_array_equal(y_gpu, y_cpu)
    if is_max:  # gy routed to the same elements and added in the same order
        np.testing.assert_array_equal(gx_gpu, gx_cpu)
    else:  # gy / count: a multiply-add may be fused on one backend and not the other
        assert_close(gx_gpu, gx_cpu, ELEMENTWISE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("is_max", [True, False], ids=["max", "avg"])
@pytest.mark.parametrize("case", [((2, 7, 3), 2, None, "valid"), ((3, 9, 2), 3, 2, "same"),
                                  ((1, 5, 4), 4, 3, "same"), ((2, 6, 1), 1, 1, "valid"),
                                  ((2, 20, 7), 5, 1, "same")], ids=str)
def test_pool1d_matches_cpu(case, is_max, dtype):
    shape, pool, strides, padding = case
    rng = np.random.default_rng(7)
    x = pool_input(rng, shape, ties=True)
    f = (fn.max_pool1d if is_max else fn.avg_pool1d)
    g = lambda x: f(x, pool, strides, padding)  # noqa: E731
    gy = rng.standard_normal(g(fn.tensor(x)).shape)
    compare_devices(g, [x], dtype, gy, 0, ELEMENTWISE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("is_max", [True, False], ids=["max", "avg"])
def test_global_pool2d_matches_cpu(is_max, dtype):
    rng = np.random.default_rng(3)
    x = pool_input(rng, (3, 5, 7, 4), ties=False)
    f = fn.global_max_pool2d if is_max else fn.global_avg_pool2d
    gy = rng.standard_normal((3, 4))
    compare_devices(f, [x], dtype, gy, 0, ELEMENTWISE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_first_maximum_and_nan_as_cpu(dtype):
    a = np.zeros((1, 2, 2, 1))  # all tied: the gradient goes to the first
    y, (gx,) = run(lambda x: fn.max_pool2d(x, 2), [a], dtype, "cuda", np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(gx[0, :, :, 0], [[1, 0], [0, 0]])
    b = np.array([[1.0, 5.0, 2.0], [0.0, 3.0, 1.0], [2.0, 1.0, 0.0]]).reshape(1, 3, 3, 1)
    y, (gx,) = run(lambda x: fn.max_pool2d(x, 2, 1), [b], dtype, "cuda", np.ones((1, 2, 2, 1)))
    np.testing.assert_array_equal(gx[0, :, :, 0], [[0, 2, 0], [0, 2, 0], [0, 0, 0]])
    c = np.array([1.0, np.nan, 3.0, 2.0, 4.0, 0.0]).reshape(1, 2, 3, 1)
    got = fn.max_pool2d(fn.tensor(c, dtype=dtype, device="cuda"), 2, 1).numpy()
    want = fn.max_pool2d(fn.tensor(c, dtype=dtype), 2, 1).numpy()
    np.testing.assert_array_equal(got, want)  # NaN where the CPU has NaN
    assert np.isnan(got[0, 0, 0, 0]) and np.isnan(got[0, 0, 1, 0])


# --- batch normalisation -------------------------------------------------------------------

BN_SHAPES = [(7, 3), (1, 5), (3, 5, 4, 6), (2, 1, 3, 1), (4096, 3), (600, 70), (33, 257, 2)]


def bn_inputs(shape, seed):
    rng = np.random.default_rng(seed)
    c = shape[-1]
    x = rng.standard_normal(shape) * 2 + 3
    return (rng, x, rng.uniform(0.5, 2, c), rng.standard_normal(c), rng.standard_normal(c),
            rng.uniform(0.5, 2, c))


@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BN_SHAPES, ids=str)
def test_batch_norm_matches_cpu(shape, dtype, training, affine):
    rng, x, gamma, beta, mm0, mv0 = bn_inputs(shape, len(shape) * 10 + shape[-1])
    gy = rng.standard_normal(shape)
    moving = {}

    def f_on(device):
        def f(x, g, b):
            mm = fn.tensor(mm0, dtype=dtype, device=device)
            mv = fn.tensor(mv0, dtype=dtype, device=device)
            moving[device] = (mm, mv)
            return fn.batch_norm(x, mm, mv, g, b, training=training, momentum=0.9, epsilon=1e-3)
        return f

    arrays = [x, gamma, beta] if affine else [x, None, None]
    y_cpu, g_cpu = run(f_on("cpu"), arrays, dtype, "cpu", gy)
    y_gpu, g_gpu = run(f_on("cuda"), arrays, dtype, "cuda", gy)
    tol = REDUCTION[dtype] if training else ELEMENTWISE[dtype]
    assert_close(y_gpu, y_cpu, tol)
    for a, b in zip(g_gpu, g_cpu):
        if b is not None:
            assert_close(a, b, REDUCTION[dtype])
    for a, b in zip(moving["cuda"], moving["cpu"]):
        assert_close(a.numpy(), b.numpy(), tol)
    if not training:
        np.testing.assert_array_equal(moving["cuda"][0].numpy(), np.asarray(mm0, dtype))


def test_batch_norm_moving_statistics_over_steps_and_determinism():
    rng = np.random.default_rng(4)
    mm = {d: fn.tensor(np.zeros(6), dtype="float64", device=d) for d in ("cpu", "cuda")}
    mv = {d: fn.tensor(np.ones(6), dtype="float64", device=d) for d in ("cpu", "cuda")}
    for _ in range(3):
        x = rng.standard_normal((50, 6)) * 3 - 1
        y = {d: fn.batch_norm(fn.tensor(x, dtype="float64", device=d), mm[d], mv[d],
                              training=True).numpy() for d in ("cpu", "cuda")}
        assert_close(y["cuda"], y["cpu"], REDUCTION["float64"])
    assert_close(mm["cuda"].numpy(), mm["cpu"].numpy(), REDUCTION["float64"])
    assert_close(mv["cuda"].numpy(), mv["cpu"].numpy(), REDUCTION["float64"])
    x = rng.standard_normal((600, 70)).astype(np.float32)
    runs = [fn.batch_norm(fn.tensor(x, device="cuda"), fn.tensor(np.zeros(70), device="cuda"),
                          fn.tensor(np.ones(70), device="cuda"), training=True).numpy()
            for _ in range(2)]
    np.testing.assert_array_equal(runs[0], runs[1])


# --- the family together: a small CNN's forward and backward -----------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_batch_norm_pool_chain_matches_cpu(dtype):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 12, 10, 1))
    k1 = rng.standard_normal((3, 3, 1, 8)) / 3
    k2 = rng.standard_normal((3, 3, 8, 12)) / math.sqrt(72)
    gamma, beta = rng.uniform(0.5, 2, 8), rng.standard_normal(8)

    def f_on(device):
        def f(x, k1, k2, gamma, beta):
            h = fn.conv2d(x, k1, None, 1, "same")
            h = fn.batch_norm(h, fn.tensor(np.zeros(8), dtype=dtype, device=device),
                              fn.tensor(np.ones(8), dtype=dtype, device=device), gamma, beta,
                              training=True)
            h = fn.max_pool2d(h, 2)
            h = fn.conv2d(h, k2, None, 1, "valid", activation="relu")
            return fn.avg_pool2d(h, 2, 1, "same")
        return f

    gy = rng.standard_normal((4, 4, 3, 12))
    y_cpu, g_cpu = run(f_on("cpu"), [x, k1, k2, gamma, beta], dtype, "cpu", gy)
    y_gpu, g_gpu = run(f_on("cuda"), [x, k1, k2, gamma, beta], dtype, "cuda", gy)
    # Looser in float32: batch norm divides by the batch's standard deviation, which
    # amplifies the conv's rounding differences before they reach the second conv.
    tol = 1e-4 if dtype == "float32" else REDUCTION[dtype]
    assert_close(y_gpu, y_cpu, tol)
    for a, b in zip(g_gpu, g_cpu):
        assert_close(a, b, tol)
