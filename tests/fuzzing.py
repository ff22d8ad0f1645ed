"""Shared by the fuzz tests (tests/test_fuzz*.py): settings, the child process that runs
the properties, the case log, outcome checks and hypothesis strategies.

Property: on random shapes (empty, size 1, odd, negative, overflowing), dtypes (float, int,
bool, float16, complex, object, str) and values (NaN, inf, huge), every call either returns
a result of the expected shape and values (numpy in float64 is the reference) or raises
ValueError, TypeError, IndexError, MemoryError, RuntimeError or NotImplementedError. It
never crashes the process and never returns a wrong result silently.

A crash would take pytest down with it, so by default each fuzz test file runs its
properties (functions named fuzz_*) in a child process (``child_process_test``), which
writes each case to a log before running it: the parent reports the case that crashed.
``FASTNN_FUZZ_IN_PROCESS=1`` runs them in pytest's own process instead (the child does; so
does .ci/sanitize, under ASan). ``FASTNN_FUZZ_EXAMPLES`` sets the examples per property.

Hypothesis is derandomized (fixed seed, no example database): CI runs the same cases every
time.
"""

from __future__ import annotations

import math
import os
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

IN_PROCESS = os.environ.get("FASTNN_FUZZ_IN_PROCESS") == "1"
ALLOWED = (ValueError, TypeError, IndexError, MemoryError, RuntimeError, NotImplementedError)
FUZZ = settings(max_examples=int(os.environ.get("FASTNN_FUZZ_EXAMPLES", "300")), deadline=None,
                derandomize=True, database=None, print_blob=True,
                suppress_health_check=list(HealthCheck))

# --- the child process and the case log --------------------------------------------------

_LOG = os.environ.get("FASTNN_FUZZ_LOG")
_log_fd = os.open(_LOG, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) if _LOG else None


def log_case(*parts):
    """Records the case about to run (a crash leaves it as the log's last line)."""
    if _log_fd is not None:
        with np.printoptions(threshold=40, precision=4):
            line = " ".join(repr(p) for p in parts).replace("\n", " ")
        os.write(_log_fd, (line[:2000] + "\n").encode())


def child_process_test(test_file):
    """A test that runs ``test_file``'s properties in a child pytest and reports a crash."""

    @pytest.mark.skipif(IN_PROCESS, reason="this is the child")
    def test_fuzz_in_a_child_process(tmp_path):
        log = tmp_path / "cases.log"
        env = dict(os.environ, FASTNN_FUZZ_IN_PROCESS="1", FASTNN_FUZZ_LOG=str(log))
        path = pathlib.Path(test_file).resolve()
        out = subprocess.run([sys.executable, "-X", "faulthandler", "-m", "pytest", str(path),
                              "-q", "-p", "no:cacheprovider", "-x"],
                             cwd=path.parent, env=env, capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            last = log.read_text().splitlines()[-1:] if log.exists() else []
            crashed = out.returncode < 0 or "Fatal Python error" in out.stderr
            pytest.fail(("the process CRASHED on the case: " if crashed
                         else "a property failed; last case: ") + (last[0] if last else "?")
                        + "\n--- stdout\n" + out.stdout[-8000:]
                        + "\n--- stderr\n" + out.stderr[-8000:], pytrace=False)

    return test_fuzz_in_a_child_process


def export_properties(namespace):
    """In the child, makes each fuzz_* property of a test module a test_* test."""
    if IN_PROCESS:
        for name, prop in list(namespace.items()):
            if name.startswith("fuzz_"):
                namespace["test_" + name[len("fuzz_"):]] = prop


# --- helpers ------------------------------------------------------------------------------

def outcome(call):
    """(result, None) or (None, exception) for an allowed exception; anything else fails."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = call()
        event("returned a result")  # --hypothesis-show-statistics shows the mix of outcomes
        return result, None
    except ALLOWED as exc:
        assert str(exc), f"{type(exc).__name__} without a message"
        event(f"raised {type(exc).__name__}")
        return None, exc


def expect_error(call, *types):
    result, exc = outcome(call)
    assert exc is not None, f"expected {types or 'an error'}, got a result of shape " \
                            f"{getattr(result, 'shape', None)}"
    if types:
        assert isinstance(exc, types), f"expected {types}, got {type(exc).__name__}: {exc}"
    return exc


def expect_result(call):
    result, exc = outcome(call)
    assert exc is None, f"unexpected {type(exc).__name__}: {exc}"
    return result


def as64(t):
    return np.array(np.asarray(t), dtype=np.float64)


def assert_matches(actual, expected, dtype, tol=None):
    """actual (a tensor) equals expected (float64) rounded to dtype, within tol."""
    a = as64(actual)
    with np.errstate(all="ignore"):
        e = np.asarray(expected, dtype=np.float64).astype(dtype).astype(np.float64)
    assert a.shape == e.shape, (a.shape, e.shape)
    if tol is None:
        tol = 1e-5 if np.dtype(dtype) == np.float32 else 1e-12
    np.testing.assert_allclose(a, e, rtol=tol, atol=tol, equal_nan=True)


def unbroadcast(g, shape):
    """Sums g over the axes that broadcasting added or stretched, back to ``shape``."""
    g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
    return g.sum(axis=tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1),
                 keepdims=True).reshape(shape)


# --- strategies ---------------------------------------------------------------------------

DIM = st.one_of(st.integers(1, 4), st.integers(0, 4), st.sampled_from([1, 7, 33]))  # 0: ~7%
FLOATS = st.sampled_from([np.float32, np.float64])


def shapes(min_dims=0, max_dims=4, dim=DIM):
    return st.lists(dim, min_size=min_dims, max_size=max_dims).map(tuple).filter(
        lambda s: math.prod(s) <= 4000)


SPECIALS = [np.nan, np.inf, -np.inf, 1e30, -1e30, 3e38, -3e38, 1e300, -1e300, 1e-40, -0.0,
            5e-324, 20.0, -20.0, 100.0, -100.0]


def values(dtype, extreme):
    if np.dtype(dtype).kind != "f":
        return hnp.from_dtype(np.dtype(dtype)) if extreme else st.integers(-8, 8)
    return st.floats(-8, 8, width=np.dtype(dtype).itemsize * 8)


@st.composite
def float_arrays(draw, shape=None, dtype=None, extreme=None):
    """Moderate values; when extreme, with NaN, inf, huge, tiny or large ones planted."""
    shape = draw(shapes()) if shape is None else shape
    dtype = draw(FLOATS) if dtype is None else dtype
    extreme = draw(st.booleans()) if extreme is None else extreme
    a = draw(hnp.arrays(dtype, shape, elements=values(dtype, extreme)))
    if extreme and a.size and np.dtype(dtype).kind == "f":
        plants = st.tuples(st.integers(0, a.size - 1), st.sampled_from(SPECIALS))
        for i, v in draw(st.lists(plants, min_size=1, max_size=3)):
            with np.errstate(over="ignore"):
                a.flat[i] = np.asarray(v).astype(dtype)  # 1e300 is inf in float32
    return a


def broadcastable_to(shape):
    """Shapes that broadcast against ``shape``: a suffix, with some sizes set to 1."""
    return st.integers(0, len(shape)).flatmap(lambda k: st.lists(
        st.booleans(), min_size=len(shape) - k, max_size=len(shape) - k).map(
            lambda ones: tuple(1 if o else d for o, d in zip(ones, shape[k:]))))
