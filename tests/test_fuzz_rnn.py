"""Fuzzing of the LSTM op (the property and how it runs: tests/fuzzing.py): random shapes
for every argument (wrong ranks, empty axes, mismatched sizes), dtypes and values (NaN,
inf, huge) either raise an allowed error or give the float64 numpy reference's values,
NaN where it has NaN, and gradients of the right shapes."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import fastnn as fn
from fastnn import _C

from fuzzing import (FUZZ, assert_matches, child_process_test, export_properties, float_arrays,
                     log_case, outcome, shapes)
from test_lstm import lstm_op, reference

test_fuzz_in_a_child_process = child_process_test(__file__)


def _valid(x, W, R, b, h0, c0):
    if x.ndim != 3 or x.size == 0 or W.ndim != 2 or W.shape[0] != x.shape[2]:
        return False
    G = W.shape[1]
    if G == 0 or G % 4 or R.shape != (G // 4, G):
        return False
    if b is not None and b.shape != (G,):
        return False
    return all(s is None or s.shape == (x.shape[0], G // 4) for s in (h0, c0))


def _rounding_bound(x, W, R, b, h0):
    """How far a gate's pre-activation may move by the GEMMs' rounding alone: eps times
    the largest sum of |terms| (finite ones; h is at most 1 in size after the first step).
    With huge inputs (1e30 times 0.3 cancelling to 0) the float32 and float64 sums differ
    by far more than any tolerance, and a saturating gate turns that into a 0 or a 1."""
    def finite(a):
        return np.nan_to_num(np.abs(np.asarray(a, np.float64)), nan=0.0, posinf=0.0)
    terms = finite(x).reshape(-1, x.shape[-1]) @ finite(W) if x.ndim == 3 else np.zeros(1)
    terms = terms.max(initial=0.0) + finite(R).sum(axis=0).max(initial=0.0)
    if h0 is not None:
        terms += (finite(h0) @ finite(R)).max(initial=0.0)
    if b is not None:
        terms += finite(b).max(initial=0.0)
    return 64 * np.finfo(x.dtype).eps * terms


@st.composite
def lstm_arguments(draw):
    """Mostly consistent shapes (so the values get checked), sometimes one size off."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n, t, f, u = (draw(st.integers(1, 4)) for _ in range(4))
    off = draw(st.sampled_from([None] * 6 + ["x_rank", "x_empty", "W", "G", "R", "b", "h0"]))
    extreme = draw(st.booleans())

    def arr(shape, scale=1.0):
        return draw(float_arrays(shape, dtype, extreme)) * dtype(scale)

    x = arr((n, 0 if off == "x_empty" else t, f) if off != "x_rank" else (n, f))
    W = arr((f + (off == "W"), 4 * u + (off == "G")), 0.3)
    R = arr((u + (off == "R"), 4 * u), 0.3)
    b = arr((4 * u + (off == "b"),), 0.3) if draw(st.booleans()) else None
    state = draw(st.booleans())
    h0 = arr((n + (off == "h0"), u)) if state else None
    c0 = arr((n, u)) if state else None
    return x, W, R, b, h0, c0, draw(st.booleans())


@FUZZ
@given(lstm_arguments(), st.one_of(st.none(), float_arrays(shapes(0, 3), extreme=False)))
def fuzz_lstm(args, other):
    x, W, R, b, h0, c0, go_backwards = args
    log_case("lstm", x, W, R, b, h0, c0, go_backwards, other)
    tensors = [None if a is None else fn.tensor(a, dtype=a.dtype.name, requires_grad=True)
               for a in args[:6]]
    if other is not None:  # a stray tensor in place of the bias, of any shape and dtype
        tensors[3] = fn.tensor(other, dtype=other.dtype.name)
    result, exc = outcome(lambda: lstm_op(*tensors, go_backwards, "L"))
    b_used = b if other is None else other
    ok = _valid(x, W, R, b_used, h0, c0) and (other is None or other.dtype == x.dtype)
    if not ok:
        assert isinstance(exc, (ValueError, TypeError)), f"expected an error, got {exc!r}"
        assert "L: " in str(exc)
        return
    assert exc is None, f"unexpected {type(exc).__name__}: {exc}"
    with np.errstate(all="ignore"):
        expected = reference(*(None if a is None else a.astype(np.float64)
                                for a in (x, W, R, b_used, h0, c0)), go_backwards)
    finite = all(np.all(np.isfinite(a)) for a in (x, W, R, b_used, h0, c0) if a is not None)
    tol = 1e-4 if x.dtype == np.float32 else 1e-10
    for got, want in zip(result, expected):
        if finite:
            assert_matches(got, want, x.dtype, tol)
        else:  # NaN/inf in: the exact values may differ where the reference is NaN
            g, w = np.asarray(got, np.float64), want
            both = np.isfinite(w) & np.isfinite(g)
            np.testing.assert_allclose(g[both], w[both], rtol=1e-3,
                                       atol=1e-3 + _rounding_bound(x, W, R, b_used, h0))
    loss = (result[0].sum() + result[1].sum()) + result[2].sum()
    loss.backward()
    for t in tensors:
        if t is not None and t.requires_grad:
            assert t.grad is not None and tuple(t.grad.shape) == tuple(t.shape)


export_properties(globals())
