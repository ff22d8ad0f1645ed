"""Fuzzing of the convolution ops and layers (the property and how it runs:
tests/fuzzing.py): random ranks, sizes (empty and odd), strides, dilations, paddings
(including negative and huge) and values (NaN, inf, huge) either give the float64 numpy
reference's result or raise a clean error."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import fastnn as fn
from fastnn import layers

from fuzzing import (FLOATS, FUZZ, as64, assert_matches, child_process_test, export_properties,
                     expect_error, float_arrays, log_case, outcome)

test_fuzz_in_a_child_process = child_process_test(__file__)


def _reference(x, k, strides, pads, dilation):
    """float64 conv2d over explicitly padded x (N, H, W, C), k (KH, KW, C, F)."""
    (sh, sw), (dh, dw), (t, b, l, r) = strides, dilation, pads
    xp = np.pad(x.astype(np.float64), ((0, 0), (t, b), (l, r), (0, 0)))
    KH, KW = k.shape[:2]
    OH = (xp.shape[1] - (KH - 1) * dh - 1) // sh + 1
    OW = (xp.shape[2] - (KW - 1) * dw - 1) // sw + 1
    y = np.zeros((x.shape[0], OH, OW, k.shape[3]))
    with np.errstate(all="ignore"):
        for i in range(KH):
            for j in range(KW):
                patch = xp[:, i * dh:i * dh + (OH - 1) * sh + 1:sh,
                           j * dw:j * dw + (OW - 1) * sw + 1:sw]
                y += np.einsum("nhwc,cf->nhwf", patch, k[i, j].astype(np.float64))
    return y


def _same(size, kernel, stride, dilation):
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


SIZE = st.one_of(st.integers(1, 7), st.integers(0, 3))
PADDING = st.one_of(st.sampled_from(["valid", "same"]), st.integers(-1, 3),
                    st.sampled_from([2**40, 2**31]))


@FUZZ
@given(st.tuples(SIZE, SIZE, SIZE, st.integers(1, 4)), st.tuples(SIZE, SIZE, st.integers(1, 3)),
       st.tuples(st.integers(0, 3), st.integers(1, 3)), st.tuples(st.integers(1, 3),
                                                                  st.integers(0, 2)),
       PADDING, FLOATS, st.booleans(), st.data())
def fuzz_conv2d(x_shape, k_shape, strides, dilation, padding, dtype, extreme, data):
    N, H, W, C = x_shape
    KH, KW, F = k_shape
    x = data.draw(float_arrays((N, H, W, C), dtype, extreme))
    k = data.draw(float_arrays((KH, KW, C, F), dtype, False))
    log_case("conv2d", x, k, strides, dilation, padding)
    xt = fn.tensor(x, dtype=x.dtype, requires_grad=True)
    kt = fn.tensor(k, dtype=k.dtype, requires_grad=True)
    result, exc = outcome(lambda: fn.conv2d(xt, kt, None, strides, padding, dilation))
    bad_args = min(strides) < 1 or min(dilation) < 1 or min(x_shape + k_shape) == 0 or (
        isinstance(padding, int) and not 0 <= padding <= 2**31)
    if bad_args:
        assert isinstance(exc, ValueError), f"expected ValueError, got {exc!r}"
        return
    if isinstance(padding, str):
        pads = ((0, 0, 0, 0) if padding == "valid" else
                (*_same(H, KH, strides[0], dilation[0]), *_same(W, KW, strides[1], dilation[1])))
    else:
        pads = (padding,) * 4
    too_big = (H + pads[0] + pads[1] < (KH - 1) * dilation[0] + 1 or
               W + pads[2] + pads[3] < (KW - 1) * dilation[1] + 1)
    if too_big or max(pads) >= 2**31:  # 2^31 on every side: an output too large to lower
        assert isinstance(exc, (ValueError, MemoryError)), f"expected ValueError, got {exc!r}"
        return
    assert exc is None, f"unexpected {type(exc).__name__}: {exc}"
    expected = _reference(x, k, strides, pads, dilation)
    assert result.shape == expected.shape
    if not extreme:
        assert_matches(result, expected, dtype, tol=1e-4 if dtype == np.float32 else 1e-10)
    gy = np.ones(result.shape, dtype)
    result.backward(fn.tensor(gy, dtype=dtype))
    assert xt.grad.shape == x.shape and kt.grad.shape == k.shape
    if not extreme:
        assert np.all(np.isfinite(as64(xt.grad))) and np.all(np.isfinite(as64(kt.grad)))


@FUZZ
@given(st.integers(1, 4), st.integers(1, 4), st.sampled_from(["valid", "same", "causal"]),
       st.integers(1, 3), st.sampled_from(["float32", "float64"]),
       st.one_of(float_arrays(extreme=False), float_arrays()), st.integers(1, 3))
def fuzz_conv1d_layer(filters, kernel_size, padding, stride, layer_dtype, x, other_channels):
    log_case("Conv1D", filters, kernel_size, padding, stride, layer_dtype, x)
    layer = layers.Conv1D(filters, kernel_size, strides=stride, padding=padding,
                          dtype=layer_dtype)
    result, exc = outcome(lambda: layer(x))
    if x.ndim != 3 or x.size == 0 or (padding == "valid" and x.shape[1] < kernel_size):
        assert isinstance(exc, ValueError), f"{x.dtype}{x.shape} into Conv1D: got {exc!r}"
        return
    assert exc is None, f"unexpected {type(exc).__name__}: {exc}"
    assert result.shape == (x.shape[0], *layer.compute_output_shape((None, *x.shape[1:]))[1:])
    assert result.shape[2] == filters
    wrong = np.zeros(x.shape[:-1] + (x.shape[-1] + other_channels,), dtype=layer_dtype)
    expect_error(lambda: layer(wrong), ValueError)


export_properties(globals())
