"""Fuzzing of pooling, dropout and batch normalisation (the property and how it runs:
tests/fuzzing.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastnn as fn

from fuzzing import (FUZZ, as64, assert_matches, child_process_test, export_properties, float_arrays,
                     log_case, outcome, shapes)
from test_pool import ref_pool2d

test_fuzz_in_a_child_process = child_process_test(__file__)

SIZES = st.one_of(st.integers(1, 4), st.integers(-1, 5))


@FUZZ
@given(st.one_of(*[float_arrays(shapes(3, 5))] * 4, hnp.arrays(np.int32, shapes(max_dims=4))),
       st.booleans(), st.sampled_from([1, 2]), st.tuples(SIZES, SIZES),
       st.one_of(st.none(), st.tuples(SIZES, SIZES)), st.sampled_from(["valid", "same", "full"]),
       st.booleans())
def fuzz_pooling(a, is_max, dims, pool, strides, padding, requires_grad):
    log_case("pool", dims, is_max, a, pool, strides, padding, requires_grad)
    is_float = a.dtype.kind == "f"
    t = fn.tensor(a, dtype=a.dtype, requires_grad=requires_grad and is_float)
    if dims == 2:
        f = fn.max_pool2d if is_max else fn.avg_pool2d
        result, exc = outcome(lambda: f(t, pool, strides, padding))
    else:
        f = fn.max_pool1d if is_max else fn.avg_pool1d
        result, exc = outcome(lambda: f(t, pool[0], None if strides is None else strides[0],
                                        padding))
        pool, strides = (1, pool[0]), None if strides is None else (1, strides[0])
    strides = pool if strides is None else strides
    if not is_float:  # bad arguments may be named first
        assert isinstance(exc, (TypeError, ValueError)), f"pooling {a.dtype}: got {exc!r}"
        return
    rank = 4 if dims == 2 else 3
    spatial = a.shape[1:3] if dims == 2 else (1,) + a.shape[1:2]
    bad = (a.ndim != rank or min(pool) <= 0 or min(strides) <= 0 or padding == "full"
           or (padding == "valid" and any(s < p for s, p in zip(spatial, pool))))
    if bad:
        assert isinstance(exc, ValueError), f"pooling {a.shape} {pool} {strides}: got {exc!r}"
        return
    assert exc is None, f"unexpected {type(exc).__name__}: {exc}"
    x = a.astype(np.float64) if dims == 2 else a.astype(np.float64)[:, None]
    if x.size == 0 or result.numel() == 0:
        assert result.numel() == 0
        return
    expected = ref_pool2d(x, is_max, pool, strides, padding)
    expected = expected if dims == 2 else expected[:, 0]
    if is_max or np.all(np.abs(x) < 1e30):  # a float32 sum of huge values overflows
        assert_matches(result, expected, a.dtype, tol=1e-5 if a.dtype == np.float32 else 1e-12)
    else:
        assert result.shape == expected.shape
    if requires_grad:
        result.sum().backward()
        g = as64(t.grad)
        assert g.shape == a.shape
        if is_max and np.all(np.isfinite(x)):
            # Every output sends its gradient of 1 to one input.
            np.testing.assert_allclose(g.sum(), result.numel(), rtol=1e-6)


@FUZZ
@given(st.one_of(*[float_arrays(shapes(1, 4))] * 4, hnp.arrays(np.int64, shapes(max_dims=2))),
       st.one_of(st.floats(0, 0.99), st.floats(-1, 2), st.just(np.nan)), st.booleans(),
       st.integers(0, 2**32))
def fuzz_dropout(a, rate, training, seed):
    log_case("dropout", a, rate, training, seed)
    fn.manual_seed(seed)
    result, exc = outcome(lambda: fn.dropout(fn.tensor(a, dtype=a.dtype), rate, training))
    if a.dtype.kind != "f":
        assert isinstance(exc, (TypeError, ValueError)), f"dropout of {a.dtype}: got {exc!r}"
        return
    if not 0 <= rate < 1:
        assert isinstance(exc, ValueError), f"dropout rate {rate}: got {exc!r}"
        return
    assert exc is None, f"unexpected {type(exc).__name__}: {exc}"
    got = np.asarray(result)
    assert got.shape == a.shape and got.dtype == a.dtype
    if not training or rate == 0:
        np.testing.assert_array_equal(got, a)
        return
    scale = np.asarray(1 / (1 - rate), dtype=a.dtype)
    with np.errstate(all="ignore"):
        kept = a * scale
    # A dropped value is x * 0, as in PyTorch: 0, or NaN where x is inf or NaN (a non-finite
    # input stays visible to the loss's check rather than vanishing into a zero).
    dropped_nonfinite = np.isnan(got) & ~np.isfinite(a)
    assert np.all((got == 0) | (got == kept) | (np.isnan(got) & np.isnan(kept))
                  | dropped_nonfinite)


@FUZZ
@given(st.one_of(*[float_arrays(shapes(1, 4))] * 4, hnp.arrays(np.int64, shapes(max_dims=2))),
       st.booleans(), st.booleans(), st.floats(0, 1), st.sampled_from([1e-3, 1e-5, 0.0, -1.0]),
       st.integers(-1, 1))
def fuzz_batch_norm(a, training, with_affine, momentum, epsilon, channel_delta):
    log_case("batch_norm", a, training, with_affine, momentum, epsilon, channel_delta)
    c = (a.shape[-1] if a.ndim else 1) + channel_delta
    dtype = a.dtype if a.dtype.kind == "f" else np.float32
    mm = fn.zeros(max(c, 0), dtype=np.dtype(dtype).name)
    mv = fn.ones(max(c, 0), dtype=np.dtype(dtype).name)
    gamma = fn.ones(max(c, 0), dtype=np.dtype(dtype).name) if with_affine else None
    result, exc = outcome(lambda: fn.batch_norm(fn.tensor(a, dtype=a.dtype), mm, mv, gamma,
                                                gamma, training, momentum, epsilon))
    if a.dtype.kind != "f":
        assert isinstance(exc, TypeError), f"batch_norm of {a.dtype}: got {exc!r}"
        return
    if a.ndim == 0 or channel_delta != 0 or epsilon <= 0 or (training and a.size == 0):
        assert isinstance(exc, ValueError), f"batch_norm {a.shape} eps {epsilon}: got {exc!r}"
        return
    assert exc is None, f"unexpected {type(exc).__name__}: {exc}"
    assert result.shape == a.shape
    x = a.astype(np.float64)
    if not np.all(np.abs(x) < 1e15) or x.size == 0:
        return
    axes = tuple(range(a.ndim - 1))
    mean, var = (x.mean(axis=axes), x.var(axis=axes)) if training else (0.0, 1.0)
    expected = (x - mean) / np.sqrt(var + epsilon) + (1.0 if with_affine else 0.0)
    tol = 1e-3 if a.dtype == np.float32 else 1e-9
    assert_matches(result, expected, a.dtype, tol=tol)


export_properties(globals())
