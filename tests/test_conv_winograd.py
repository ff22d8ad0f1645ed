"""Winograd F(4x4, 3x3) convolutions (cpu/conv_winograd.cpp): in float64 the algebra must give
the float64 reference's values and finite-difference gradients to rounding; in float32 its
error stays within a few times the lowered GEMM's; `set_conv_algorithm("auto")` takes it
exactly where bench/NOTES.md measured it faster; its results do not depend on the thread
count; a captured step replays it bit for bit."""

import math

import numpy as np
import pytest

import fastnn as fn
from fastnn import layers

from conftest import check_grad, leaf, with_thread_counts
from test_conv import ref_conv2d, ref_conv2d_kernel_gradient, resolve_pads


@pytest.fixture(autouse=True)
def _restore_conv_algorithm():
    previous = fn.get_conv_algorithm()
    yield
    fn.set_conv_algorithm(previous)


def kernel_names(model):
    """The kernels of a model's captured training step, in order (profiling replays the step:
    it trains the model once more)."""
    plan = [e for k, e in model._captured._entries.items() if k[0] == "train"][0].plan
    return [name for name, _ in plan.profile(1)]


# (N, H, W, C, F, padding): outputs smaller than a tile, one tile, clipped tiles on the
# bottom and right edges, every padding from 0 to 2 on each side, channels 1 to 17.
CASES = [
    (1, 3, 3, 1, 1, "valid"),                  # one output
    (2, 1, 1, 3, 2, "same"),                   # one input pixel, all padding around it
    (1, 2, 7, 2, 3, "same"),
    (3, 6, 6, 4, 5, "valid"),                  # exactly one 4x4 tile
    (2, 9, 11, 5, 4, "same"),                  # clipped tiles on both edges
    (1, 13, 10, 17, 19, ((0, 2), (1, 0))),
    (2, 7, 8, 3, 6, ((2, 2), (2, 1))),
    (1, 10, 9, 6, 2, 1),
]
IDS = [f"case{i}" for i in range(len(CASES))]


def make_case(case, seed):
    N, H, W, C, F, padding = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, H, W, C))
    k = rng.standard_normal((3, 3, C, F)) / math.sqrt(9 * C)
    b = rng.standard_normal(F) * 0.5
    return x, k, b, padding, resolve_pads(x.shape, k.shape, 1, padding, 1)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_winograd_float64_matches_reference_and_finite_differences(case):
    fn.set_conv_algorithm("winograd")
    x, k, b, padding, pads = make_case(case, 1)
    expected = ref_conv2d(x, k, b, 1, pads, 1)
    out = fn.conv2d(leaf(x), leaf(k), leaf(b), 1, padding)
    assert out.shape == expected.shape
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-11, atol=1e-12)
    g = np.random.default_rng(2).standard_normal(expected.shape)
    check_grad(lambda x, k, b: (fn.conv2d(x, k, b, 1, padding, activation="tanh") * g).sum(),
               [leaf(x), leaf(k), leaf(b)])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_winograd_gradients_equal_the_lowered_ones_in_float64(case):
    x, k, b, padding, pads = make_case(case, 3)
    g = np.random.default_rng(4).standard_normal(ref_conv2d(x, k, b, 1, pads, 1).shape)
    results = {}
    for algorithm in ("gemm", "winograd"):
        fn.set_conv_algorithm(algorithm)
        xt, kt, bt = leaf(x), leaf(k), leaf(b)
        (fn.conv2d(xt, kt, bt, 1, padding, activation="relu") * fn.tensor(g)).sum().backward()
        results[algorithm] = [np.asarray(t.grad) for t in (xt, kt, bt)]
    for lowered, winograd in zip(results["gemm"], results["winograd"]):
        np.testing.assert_allclose(winograd, lowered, rtol=1e-11, atol=1e-12)


def test_winograd_float32_error_stays_near_the_gemms():
    # cifar_cnn's second layer at batch 3: the float32 error of values and gradients, relative
    # to the largest magnitude, against float64, for both algorithms.
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 16, 16, 64))
    k = rng.standard_normal((3, 3, 64, 128)) / math.sqrt(9 * 64)
    g = rng.standard_normal((3, 16, 16, 128))
    pads = resolve_pads(x.shape, k.shape, 1, "same", 1)
    reference = [ref_conv2d(x, k, None, 1, pads, 1), None,
                 ref_conv2d_kernel_gradient(x, g, k.shape, 1, pads, 1)]
    fn.set_conv_algorithm("gemm")
    xt = leaf(x)
    (fn.conv2d(xt, leaf(k), None, 1, "same") * fn.tensor(g)).sum().backward()
    reference[1] = np.asarray(xt.grad)
    errors = {}
    for algorithm in ("gemm", "winograd"):
        fn.set_conv_algorithm(algorithm)
        xt, kt = leaf(x, "float32"), leaf(k, "float32")
        y = fn.conv2d(xt, kt, None, 1, "same")
        (y * fn.tensor(g.astype(np.float32))).sum().backward()
        errors[algorithm] = [np.abs(np.asarray(a, np.float64) - r).max() / np.abs(r).max()
                             for a, r in zip((y, xt.grad, kt.grad), reference)]
    # Measured: the GEMM's 3-7e-7, Winograd's 4-6e-6 (its transforms add and subtract values
    # up to 8 times larger than the results).
    assert max(errors["gemm"]) < 2e-6
    assert max(errors["winograd"]) < 3e-5


def test_winograd_results_do_not_depend_on_the_thread_count():
    fn.set_conv_algorithm("winograd")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((9, 14, 13, 24)).astype(np.float32)
    k = rng.standard_normal((3, 3, 24, 40)).astype(np.float32)
    g = rng.standard_normal((9, 14, 13, 40)).astype(np.float32)

    def run():
        xt, kt = leaf(x, "float32"), leaf(k, "float32")
        y = fn.conv2d(xt, kt, None, 1, "same")
        (y * fn.tensor(g)).sum().backward()
        return [np.asarray(a).tobytes() for a in (y, xt.grad, kt.grad)]

    one, many = with_thread_counts(run)
    assert one == many


def _fit(capture, seed=7):
    fn.manual_seed(seed)
    model = fn.Sequential([layers.Conv2D(16, 3, padding="same", activation="relu"),
                           layers.Conv2D(20, 3, activation="relu"),
                           layers.MaxPooling2D(), layers.Flatten(), layers.Dense(3)],
                          input_shape=(9, 10, 3))
    model.compile(optimizer="adam", loss=fn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  capture=capture)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((40, 9, 10, 3)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    return model, history.history["loss"]


def test_captured_winograd_training_is_bitwise_identical_to_eager():
    fn.set_conv_algorithm("winograd")
    captured, loss_c = _fit(True)
    eager, loss_e = _fit(False)
    assert loss_c == loss_e
    for a, b in zip(captured.get_weights(), eager.get_weights()):
        assert a.tobytes() == b.tobytes()
    assert "conv2d_winograd_backward_kernel" in kernel_names(captured)


def test_winograd_and_gemm_training_agree():
    fn.set_conv_algorithm("gemm")
    lowered, loss_g = _fit(True)
    fn.set_conv_algorithm("winograd")
    winograd, loss_w = _fit(True)
    np.testing.assert_allclose(loss_w, loss_g, rtol=1e-4)
    for a, b in zip(winograd.get_weights(), lowered.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("dtype,channels,size,strides,expected", [
    ("float32", 64, 16, 1, True),    # cifar_cnn's second convolution
    ("float64", 64, 16, 1, False),   # float64 keeps the exact-rounding GEMM
    ("float32", 8, 16, 1, False),    # too few channels for the transforms to pay
    ("float32", 64, 5, 1, False),    # 5x5 outputs: 4x4 tiles compute 8x8
    ("float32", 64, 16, 2, False),   # strided
])
def test_auto_takes_winograd_where_it_was_measured_faster(dtype, channels, size, strides,
                                                          expected):
    fn.set_conv_algorithm("auto")
    model = fn.Sequential([layers.Conv2D(32, 3, strides=strides, padding="same", dtype=dtype),
                           layers.GlobalAveragePooling2D(), layers.Dense(2, dtype=dtype)],
                          input_shape=(size, size, channels))
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(8).standard_normal((64, size, size, channels))
    model.fit(x, np.zeros((64, 2)), batch_size=64, epochs=1, verbose=0)
    names = kernel_names(model)
    assert ("conv2d_winograd_forward" in names) == expected
    assert ("im2col" in names) == (not expected)


def test_set_conv_algorithm_checks_its_argument():
    fn.set_conv_algorithm("gemm")
    assert fn.get_conv_algorithm() == "gemm"
    with pytest.raises(ValueError, match="expected 'auto', 'gemm' or 'winograd', got 'fast'"):
        fn.set_conv_algorithm("fast")
    assert fn.get_conv_algorithm() == "gemm"
