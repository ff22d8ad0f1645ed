"""Conv1D / Conv2D (channels-last, Keras kernel layouts): forward against a float64 numpy
reference, gradients against central finite differences, PyTorch as a second oracle, the
layers, the argument checks, thread-count independence and a captured training step."""

import math

import numpy as np
import pytest

import fastnn as fn
from fastnn import _C, layers

from conftest import check_grad, check_grad_f32, leaf, with_thread_counts


# --- float64 reference ---------------------------------------------------------------------

def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def tf_same_pads(size, kernel, stride, dilation):
    """TensorFlow's 'same': out = ceil(size / stride); the odd pixel goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def resolve_pads(x_shape, k_shape, strides, padding, dilation):
    """(top, bottom, left, right) for the reference and for torch."""
    (sh, sw), (dh, dw) = _pair(strides), _pair(dilation)
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        return (*tf_same_pads(x_shape[1], k_shape[0], sh, dh),
                *tf_same_pads(x_shape[2], k_shape[1], sw, dw))
    if isinstance(padding, int):
        return (padding,) * 4
    (t, b), (l, r) = [_pair(p) for p in padding]
    return (t, b, l, r)


def ref_conv2d(x, k, b, strides, pads, dilation):
    """Sum over kernel taps of strided slices of the padded input, in float64."""
    (sh, sw), (dh, dw) = _pair(strides), _pair(dilation)
    t, bo, l, r = pads
    xp = np.pad(x, ((0, 0), (t, bo), (l, r), (0, 0)))
    KH, KW = k.shape[:2]
    OH = (xp.shape[1] - (KH - 1) * dh - 1) // sh + 1
    OW = (xp.shape[2] - (KW - 1) * dw - 1) // sw + 1
    y = np.zeros((x.shape[0], OH, OW, k.shape[3]))
    for i in range(KH):
        for j in range(KW):
            patch = xp[:, i * dh:i * dh + (OH - 1) * sh + 1:sh, j * dw:j * dw + (OW - 1) * sw + 1:sw]
            y += np.einsum("nhwc,cf->nhwf", patch, k[i, j])
    return y + (0.0 if b is None else b)


# (N, H, W, C, KH, KW, F, strides, padding, dilation): valid/same/explicit, strides 1-3,
# dilation 1-2, odd sizes, batch 1 and 3, channels 1, 3, 4.
CASES = [
    (1, 5, 7, 1, 3, 3, 2, 1, "valid", 1),
    (3, 7, 6, 3, 3, 2, 4, 2, "same", 1),
    (1, 9, 8, 4, 2, 3, 3, (3, 2), "same", 1),
    (1, 8, 9, 3, 3, 3, 2, 1, "same", 2),
    (3, 6, 7, 3, 2, 2, 3, (1, 3), ((1, 2), (0, 1)), (2, 1)),
    (1, 5, 5, 4, 1, 1, 3, 1, "valid", 1),  # pointwise: x is its own patch matrix
    (1, 7, 5, 1, 5, 3, 2, 3, 1, 1),
    (3, 5, 6, 3, 1, 1, 2, 2, "valid", 1),  # 1x1 with stride: not pointwise
    (1, 6, 7, 4, 3, 3, 2, 2, "valid", 2),
    (1, 5, 5, 3, 3, 3, 2, 3, "same", 1),
]
IDS = [f"case{i}" for i in range(len(CASES))]


def make_case(case, seed):
    N, H, W, C, KH, KW, F, strides, padding, dilation = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, H, W, C))
    k = rng.standard_normal((KH, KW, C, F)) / math.sqrt(KH * KW * C)
    b = rng.standard_normal(F) * 0.5
    pads = resolve_pads(x.shape, k.shape, strides, padding, dilation)
    return x, k, b, strides, padding, dilation, pads


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conv2d_float64_value_and_gradients(case):
    x, k, b, strides, padding, dilation, pads = make_case(case, 1)
    expected = ref_conv2d(x, k, b, strides, pads, dilation)
    out = fn.conv2d(leaf(x), leaf(k), leaf(b), strides, padding, dilation)
    assert out.shape == expected.shape and out.dtype == "float64"
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-12, atol=1e-13)
    g = np.random.default_rng(2).standard_normal(expected.shape)
    check_grad(lambda x, k, b: (fn.conv2d(x, k, b, strides, padding, dilation) * g).sum(),
               [leaf(x), leaf(k), leaf(b)])


@pytest.mark.parametrize("case", CASES[:6], ids=IDS[:6])
def test_conv2d_float32_value_and_gradients(case):
    x, k, b, strides, padding, dilation, pads = make_case(case, 3)
    out = fn.conv2d(leaf(x, "float32"), leaf(k, "float32"), leaf(b, "float32"), strides, padding,
                    dilation)
    assert out.dtype == "float32"
    np.testing.assert_allclose(np.asarray(out), ref_conv2d(x, k, b, strides, pads, dilation),
                               rtol=1e-5, atol=1e-5)
    g = np.random.default_rng(4).standard_normal(out.shape)
    check_grad_f32(lambda x, k, b: (fn.conv2d(x, k, b, strides, padding, dilation) * g).sum(),
                   [leaf(x, "float32"), leaf(k, "float32"), leaf(b, "float32")])


@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid", "gelu", "leaky_relu"])
def test_conv2d_fused_activation(act):
    x, k, b, strides, padding, dilation, pads = make_case(CASES[1], 5)
    z = ref_conv2d(x, k, b, strides, pads, dilation)
    y = fn.conv2d(leaf(x), leaf(k), leaf(b), strides, padding, dilation, activation=act)
    unfused = getattr(fn, act)(fn.conv2d(leaf(x), leaf(k), leaf(b), strides, padding, dilation))
    np.testing.assert_allclose(np.asarray(y), np.asarray(unfused), rtol=1e-14, atol=1e-15)
    if act == "relu":
        np.testing.assert_allclose(np.asarray(y), np.maximum(z, 0), rtol=1e-12, atol=1e-13)
    if act != "relu":  # smooth: a finite-difference check through the fused epilogue
        g = np.random.default_rng(6).standard_normal(z.shape)
        check_grad(lambda x, k, b: (fn.conv2d(x, k, b, strides, padding, dilation,
                                              activation=act) * g).sum(),
                   [leaf(x), leaf(k), leaf(b)])


def ref_conv2d_kernel_gradient(x, g, kernel_shape, strides, pads, dilation):
    """d/dkernel of sum(conv2d(x, kernel) * g): each tap's input slice against g."""
    (sh, sw), (dh, dw) = _pair(strides), _pair(dilation)
    t, bo, l, r = pads
    xp = np.pad(x, ((0, 0), (t, bo), (l, r), (0, 0)))
    OH, OW = g.shape[1:3]
    gk = np.zeros(kernel_shape)
    for i in range(kernel_shape[0]):
        for j in range(kernel_shape[1]):
            patch = xp[:, i * dh:i * dh + (OH - 1) * sh + 1:sh, j * dw:j * dw + (OW - 1) * sw + 1:sw]
            gk[i, j] = np.einsum("nhwc,nhwf->cf", patch, g)
    return gk


# First layers (1-3 channels, up to 32 filters) take the direct kernels, wider ones the
# lowered GEMM: filter counts on both sides of the switch and of the 8-filter blocks, rows
# wide enough for the 8-, 4- and 1-pixel blocks, and borders from "same" padding.
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("C,F,K,strides,padding,dilation", [
    (1, 10, 5, 1, "valid", 1), (1, 32, 3, 1, "same", 1), (3, 17, 3, 2, "same", 1),
    (2, 31, 3, 1, "same", 2), (3, 33, 3, 1, "same", 1), (1, 8, (2, 4), (1, 2), ((2, 0), (1, 3)), 1)])
def test_conv2d_first_layer_kernels_against_reference(dtype, C, F, K, strides, padding, dilation):
    KH, KW = _pair(K)
    rng = np.random.default_rng(F * 10 + C)
    x = rng.standard_normal((3, 11, 23, C))
    k = rng.standard_normal((KH, KW, C, F)) / math.sqrt(KH * KW * C)
    pads = resolve_pads(x.shape, k.shape, strides, padding, dilation)
    expected = ref_conv2d(x, k, None, strides, pads, dilation)
    b = rng.standard_normal(F)
    kt, bt = leaf(k, dtype), leaf(b, dtype)
    y = fn.conv2d(fn.tensor(x, dtype=dtype), kt, bt, strides, padding, dilation)
    tol = 1e-12 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(np.asarray(y), expected + b, rtol=tol, atol=tol)
    g = rng.standard_normal(expected.shape)
    gt = fn.tensor(g, dtype=dtype)
    (y * gt).sum().backward()
    np.testing.assert_allclose(np.asarray(kt.grad),
                               ref_conv2d_kernel_gradient(x, g, k.shape, strides, pads, dilation),
                               rtol=tol * 10, atol=tol * 10)
    # The kernel gradient's pass sums the bias gradient too; alone (a frozen kernel) the
    # bias gradient takes its own.
    np.testing.assert_allclose(np.asarray(bt.grad), g.sum(axis=(0, 1, 2)), rtol=tol * 10,
                               atol=tol * 10)
    frozen_bias = leaf(b, dtype)
    (fn.conv2d(fn.tensor(x, dtype=dtype), fn.tensor(k, dtype=dtype), frozen_bias, strides,
               padding, dilation) * gt).sum().backward()
    np.testing.assert_allclose(np.asarray(frozen_bias.grad), g.sum(axis=(0, 1, 2)),
                               rtol=tol * 10, atol=tol * 10)


def test_conv2d_without_bias_and_input_gradient_skipped():
    """No bias; an input that needs no gradient (a first layer) gets none computed."""
    x, k, _, strides, padding, dilation, pads = make_case(CASES[4], 7)
    kt = leaf(k)
    xt = fn.tensor(x, dtype="float64")
    y = fn.conv2d(xt, kt, None, strides, padding, dilation)
    np.testing.assert_allclose(np.asarray(y), ref_conv2d(x, k, None, strides, pads, dilation),
                               rtol=1e-12, atol=1e-13)
    g = np.random.default_rng(8).standard_normal(y.shape)
    check_grad(lambda k: (fn.conv2d(xt, k, None, strides, padding, dilation) * g).sum(), [kt])
    assert xt.grad is None
    with fn.no_grad():
        assert fn.conv2d(leaf(x), kt, None, strides, padding, dilation).grad_fn is None


# --- PyTorch as a second oracle ------------------------------------------------------------

def torch_conv2d(torch, x, k, b, strides, pads, dilation):
    """NHWC <-> NCHW, (KH, KW, C, F) <-> (F, C, KH, KW); TF's asymmetric 'same' padding
    applied explicitly with F.pad (left, right, top, bottom)."""
    F = torch.nn.functional
    t, bo, l, r = pads
    xn = F.pad(x.permute(0, 3, 1, 2), (l, r, t, bo))
    y = F.conv2d(xn, k.permute(3, 2, 0, 1), b, stride=_pair(strides), dilation=_pair(dilation))
    return y.permute(0, 2, 3, 1)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conv2d_vs_torch(case, dtype):
    torch = pytest.importorskip("torch")
    x, k, b, strides, padding, dilation, pads = make_case(case, 9)
    tdt = torch.float64 if dtype == "float64" else torch.float32
    tx, tk, tb = (torch.tensor(a, dtype=tdt, requires_grad=True) for a in (x, k, b))
    ty = torch_conv2d(torch, tx, tk, tb, strides, pads, dilation)
    g = np.random.default_rng(10).standard_normal(tuple(ty.shape))
    (ty * torch.tensor(g, dtype=tdt)).sum().backward()
    xt, kt, bt = leaf(x, dtype), leaf(k, dtype), leaf(b, dtype)
    y = fn.conv2d(xt, kt, bt, strides, padding, dilation)
    (y * fn.tensor(g, dtype=dtype)).sum().backward()
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == "float64" else dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(y), ty.detach().numpy(), **tol)
    for ours, theirs in ((xt, tx), (kt, tk), (bt, tb)):
        np.testing.assert_allclose(np.asarray(ours.grad), theirs.grad.numpy(), **tol)


# --- Conv1D --------------------------------------------------------------------------------

CASES_1D = [  # (N, T, C, K, F, stride, padding, dilation)
    (1, 7, 1, 3, 2, 1, "valid", 1),
    (3, 9, 3, 3, 4, 2, "same", 1),
    (1, 8, 4, 2, 3, 3, "same", 2),
    (3, 6, 3, 3, 2, 1, (2, 1), 2),
    (1, 5, 3, 3, 2, 1, "causal", 2),
    (3, 7, 4, 1, 3, 1, "valid", 1),
]


def conv1d_pads(T, K, stride, padding, dilation):
    if padding == "valid":
        return (0, 0)
    if padding == "same":
        return tf_same_pads(T, K, stride, dilation)
    if padding == "causal":
        return ((K - 1) * dilation, 0)
    return _pair(padding)


@pytest.mark.parametrize("case", CASES_1D, ids=[f"case{i}" for i in range(len(CASES_1D))])
def test_conv1d_value_gradients_and_torch(case):
    N, T, C, K, F, stride, padding, dilation = case
    rng = np.random.default_rng(11)
    x = rng.standard_normal((N, T, C))
    k = rng.standard_normal((K, C, F)) / math.sqrt(K * C)
    b = rng.standard_normal(F)
    l, r = conv1d_pads(T, K, stride, padding, dilation)
    expected = ref_conv2d(x[:, None], k[None], b, (1, stride), (0, 0, l, r), (1, dilation))[:, 0]
    y = fn.conv1d(leaf(x), leaf(k), leaf(b), stride, padding, dilation)
    assert y.shape == expected.shape
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-12, atol=1e-13)
    g = rng.standard_normal(expected.shape)
    f = lambda x, k, b: (fn.conv1d(x, k, b, stride, padding, dilation) * g).sum()  # noqa: E731
    grads = check_grad(f, [leaf(x), leaf(k), leaf(b)])
    check_grad_f32(f, [leaf(x, "float32"), leaf(k, "float32"), leaf(b, "float32")])
    try:
        import torch
    except ImportError:
        return
    tx, tk, tb = (torch.tensor(a, requires_grad=True) for a in (x, k, b))
    tx_padded = torch.nn.functional.pad(tx.permute(0, 2, 1), (l, r))
    ty = torch.nn.functional.conv1d(tx_padded, tk.permute(2, 1, 0), tb, stride=stride,
                                    dilation=dilation).permute(0, 2, 1)
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(np.asarray(y), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    for ours, theirs in zip(grads, (tx, tk, tb)):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


# --- layers --------------------------------------------------------------------------------

def test_conv2d_layer_builds_lazily_with_keras_layouts():
    layer = layers.Conv2D(5, (3, 2), strides=2, padding="same")
    assert layer.kernel is None and not layer.built
    x = np.random.default_rng(12).standard_normal((3, 7, 9, 4)).astype(np.float32)
    y = layer(x)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 2, 4, 5) and bias.shape == (5,)
    assert y.shape == (3, 4, 5, 5) == (3, *layer.compute_output_shape((None, 7, 9, 4))[1:])
    pads = resolve_pads(x.shape, kernel.shape, 2, "same", 1)
    np.testing.assert_allclose(np.asarray(y), ref_conv2d(x.astype(np.float64), kernel, bias, 2,
                                                        pads, 1), rtol=1e-5, atol=1e-5)
    # Keras's glorot_uniform over fan_in = kh*kw*cin, fan_out = kh*kw*filters
    limit = math.sqrt(6 / (3 * 2 * 4 + 3 * 2 * 5))
    assert np.abs(kernel).max() <= limit and np.all(bias == 0)


def test_conv_layers_build_from_input_shape_and_check_set_weights():
    conv2 = layers.Conv2D(4, 3, input_shape=(8, 8, 3), use_bias=False)
    assert conv2.built and [w.shape for w in conv2.get_weights()] == [(3, 3, 3, 4)]
    conv1 = layers.Conv1D(6, 5, input_shape=(20, 2))
    assert [w.shape for w in conv1.get_weights()] == [(5, 2, 6), (6,)]
    assert conv1.compute_output_shape((None, 20, 2)) == (None, 16, 6)
    assert layers.Conv1D(6, 5, padding="causal").compute_output_shape((None, 20, 2)) == (None, 20, 6)
    with pytest.raises(ValueError, match=r"expected .*kernel.* of shape \(3, 3, 3, 4\)"):
        conv2.set_weights([np.zeros((3, 3, 4, 3))])
    with pytest.raises(ValueError, match="expected 2 arrays"):
        conv1.set_weights([np.zeros((5, 2, 6))])
    w = np.random.default_rng(13).standard_normal((5, 2, 6))
    conv1.set_weights([w, np.ones(6)])
    np.testing.assert_array_equal(conv1.get_weights()[0], w.astype(np.float32))


@pytest.mark.parametrize("act", ["relu", "tanh", "softmax"])
def test_conv_layer_activation(act):
    x = np.random.default_rng(14).standard_normal((2, 6, 5, 3))
    fused = layers.Conv2D(4, 3, padding="same", activation=act, dtype="float64")
    plain = layers.Conv2D(4, 3, padding="same", dtype="float64")
    fused.build((None, 6, 5, 3))
    plain.build((None, 6, 5, 3))
    plain.set_weights(fused.get_weights())
    z = np.asarray(plain(x))
    expected = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh,
                "softmax": lambda z: np.exp(z) / np.exp(z).sum(-1, keepdims=True)}[act](z)
    np.testing.assert_allclose(np.asarray(fused(x)), expected, rtol=1e-12, atol=1e-13)


def test_conv_layer_backward_by_hand():
    layer = layers.Conv1D(3, 3, padding="same", dtype="float64")
    x = np.random.default_rng(15).standard_normal((2, 7, 4))
    y = layer(x)
    gx = layer.backward(np.ones(y.shape))
    assert gx.shape == x.shape and layer.kernel.grad.shape == (3, 4, 3)
    np.testing.assert_allclose(np.asarray(layer.bias.grad), np.full(3, 2 * 7.0))


# --- argument checks -----------------------------------------------------------------------

def _t(shape, dtype="float32"):
    return fn.tensor(np.ones(shape), dtype=dtype)


@pytest.mark.parametrize("call,error,message", [
    (lambda: _C.conv2d(_t((2, 5, 3)), _t((3, 3, 3, 2))), ValueError,
     r"Conv2D: expected inputs of rank 4 \(batch, height, width, channels\), got shape \(2, 5, 3\)"),
    (lambda: _C.conv2d(_t((1, 5, 5, 3)), _t((3, 3, 2))), ValueError, "Conv2D: expected a kernel of rank 4"),
    (lambda: _C.conv2d(_t((1, 5, 5, 3)), _t((3, 3, 4, 2))), ValueError,
     r"Conv2D: expected inputs with 4 channels .*, got shape \(1, 5, 5, 3\)"),
    (lambda: _C.conv2d(_t((1, 4, 5, 3)), _t((5, 3, 3, 2))), ValueError,
     "Conv2D: expected a kernel no larger than the padded input, got height kernel size 5"),
    (lambda: _C.conv2d(_t((1, 5, 5, 3)), _t((3, 3, 3, 2)), None, (1, 1), "valid", (0, 0, 0, 0),
                       (1, 3)), ValueError, r"width kernel size 3 \(7 dilated\)"),
    (lambda: _C.conv2d(_t((1, 5, 5, 3)), _t((3, 3, 3, 2)), None, (0, 1)), ValueError,
     r"Conv2D: expected a height stride in \[1, 2\^31\], got 0"),
    (lambda: _C.conv2d(_t((1, 5, 5, 3)), _t((3, 3, 3, 2)), None, (1, 1), "valid", (0, 0, 0, 0),
                       (1, -1)), ValueError, "Conv2D: expected a width dilation rate in"),
    (lambda: _C.conv2d(_t((1, 5, 5, 3)), _t((3, 3, 3, 2)), None, (1, 1), "explicit",
                       (0, -1, 0, 0)), ValueError, "Conv2D: expected height padding in"),
    (lambda: _C.conv2d(_t((1, 5, 5, 3)), _t((3, 3, 3, 2)), None, (1, 1), "full"), ValueError,
     "Conv2D: expected padding 'valid', 'same'"),
    (lambda: _C.conv2d(_t((1, 5, 5, 3)), _t((3, 3, 3, 2), "float64")), TypeError, "Conv2D"),
    (lambda: _C.conv2d(_t((1, 5, 5, 3)), _t((3, 3, 3, 2)), _t((3,))), ValueError,
     r"Conv2D: expected bias of shape \(2,\), got \(3,\)"),
    (lambda: _C.conv2d(_t((0, 5, 5, 3)), _t((3, 3, 3, 2))), ValueError, "Conv2D"),
    (lambda: _C.conv1d(_t((2, 5, 3, 1)), _t((3, 3, 2))), ValueError,
     r"Conv1D: expected inputs of rank 3 \(batch, steps, channels\)"),
    (lambda: _C.conv1d(_t((2, 2, 3)), _t((3, 3, 2))), ValueError,
     "Conv1D: expected a kernel no larger than the padded input, got steps kernel size 3"),
    (lambda: _C.conv2d(_t((1, 5, 5, 3)), _t((3, 3, 3, 2)), None, (1, 1), "explicit",
                       (2**31,) * 4), ValueError, "Conv2D: expected an output small enough"),
    (lambda: fn.conv2d(_t((1, 5, 5, 3)), _t((3, 3, 3, 2)), padding=((1, 2), 3, 4)), ValueError,
     "conv2d: expected padding"),
    (lambda: layers.Conv2D(0, 3), ValueError, "filters to be a positive integer"),
    (lambda: layers.Conv2D(2, (3, 0)), ValueError, r"Conv2D 'conv2d.*': expected positive kernel_size"),
    (lambda: layers.Conv1D(2, 3, strides=(1, 2)), ValueError, "expected strides to be an integer"),
    (lambda: layers.Conv2D(2, 3, padding="full"), ValueError, "expected padding 'valid', 'same'"),
    (lambda: layers.Conv2D(2, 3, data_format="channels_first"), ValueError, "channels_last"),
    (lambda: layers.Conv2D(2, 3)(np.ones((2, 5, 5))), ValueError,
     r"expected inputs of shape \(batch, height, width, channels\)"),
])
def test_conv_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_conv_layer_names_itself_in_errors():
    layer = layers.Conv2D(2, 3, name="c1", input_shape=(5, 5, 3))
    with pytest.raises(ValueError, match=r"Conv2D 'c1': expected inputs with 3 channels"):
        layer(np.ones((1, 5, 5, 2), np.float32))


# --- threads and capture -------------------------------------------------------------------

def test_conv_results_do_not_depend_on_the_thread_count():
    rng = np.random.default_rng(16)
    x = rng.standard_normal((8, 17, 15, 5)).astype(np.float32)
    k = rng.standard_normal((3, 3, 5, 7)).astype(np.float32)
    g = rng.standard_normal((8, 9, 8, 7)).astype(np.float32)

    def run():
        xt, kt = leaf(x, "float32"), leaf(k, "float32")
        y = fn.conv2d(xt, kt, None, 2, "same", 1, activation="tanh")
        (y * fn.tensor(g)).sum().backward()
        return [np.asarray(a).tobytes() for a in (y, xt.grad, kt.grad)]

    one, many = with_thread_counts(run)
    assert one == many


def _train_cnn(capture):
    fn.manual_seed(5)
    model = fn.Sequential([layers.Conv2D(4, 3, padding="same", activation="relu"),
                           layers.Flatten(), layers.Dense(3)], input_shape=(7, 6, 2))
    model.compile(optimizer="adam", loss=fn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  capture=capture)
    rng = np.random.default_rng(17)
    x = rng.standard_normal((45, 7, 6, 2)).astype(np.float32)
    y = rng.integers(0, 3, 45)
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0)  # 16 * 2 + 13
    return model, history.history["loss"]


def test_captured_cnn_training_is_bitwise_identical_to_eager():
    captured, loss_c = _train_cnn(True)
    eager, loss_e = _train_cnn(False)
    assert len(captured._captured) >= 2 and len(eager._captured) == 0
    assert loss_c == loss_e
    for a, b in zip(captured.get_weights(), eager.get_weights()):
        assert a.tobytes() == b.tobytes()
