"""Shared setup and helpers for fastnn's tests.

``import fastnn`` uses the installed package when there is one (CI runs
``pip install .[test]``); only when fastnn is not importable is the source checkout's
``python/`` directory put on ``sys.path`` (the dev build symlinks ``_C`` into it).

Gradient checks
---------------
``check_grad(f, inputs)`` compares the gradients that fastnn's autograd engine
computes for a scalar-valued ``f(*inputs)`` with central finite differences,

    n_i = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps),

evaluated in float64 without recording a graph. The error of one input is

    err = max_i |a_i - n_i| / max(1, max_i |n_i|),

i.e. an absolute error for gradients of size <= 1 and a relative one (to the largest
numeric derivative) above that. With eps = 1e-6 the truncation error of the central
difference is O(eps^2 |f'''|) ~ 1e-12 and the rounding error O(u |f| / eps) ~ 1e-10 |f|
(u = 2^-53), so for the O(1)-sized functions used in the tests a correct gradient gives
err ~ 1e-9 and the float64 threshold 1e-6 leaves a wide margin while any real mistake
(a missing term, a wrong sign, a wrong broadcast sum) shows up as err ~ 1e-2 or more.

``check_grad_f32`` runs the analytic backward pass on float32 inputs and compares it
with the same float64 numeric derivatives (evaluated on float64 copies of the inputs,
so ``f`` must work for both dtypes), with threshold 1e-4: float32 rounding (u ~ 6e-8)
accumulated over the small sums in these tests stays far below that.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

if importlib.util.find_spec("fastnn") is None:
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "python"))

import fastnn as fn  # noqa: E402


def _as_list(inputs):
    return list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]


def _scalar(out) -> float:
    assert out.numel() == 1, f"check_grad: f must return a one-element tensor, got {out.shape}"
    return float(np.asarray(out, dtype=np.float64).reshape(()))


def numeric_grad(f, arrays, eps=1e-6):
    """Central differences of f over float64 copies of ``arrays`` (a list of ndarrays)."""
    base = [np.array(a, dtype=np.float64, copy=True) for a in arrays]
    grads = []
    with fn.no_grad():
        for k, a in enumerate(base):
            g = np.zeros_like(a)
            for i in range(a.size):
                vals = []
                for sign in (1.0, -1.0):
                    moved = a.copy()
                    moved.flat[i] += sign * eps
                    args = [fn.tensor(moved if j == k else b, dtype="float64")
                            for j, b in enumerate(base)]
                    vals.append(_scalar(f(*args)))
                g.flat[i] = (vals[0] - vals[1]) / (2 * eps)
            grads.append(g)
    return grads


def grad_error(analytic, numeric) -> float:
    """max|a - n| / max(1, max|n|): the metric documented at the top of this file."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    assert analytic.shape == numeric.shape
    if numeric.size == 0:
        return 0.0
    return float(np.max(np.abs(analytic - numeric)) / max(1.0, float(np.max(np.abs(numeric)))))


def analytic_grad(f, inputs):
    """Runs f(*inputs).backward() and returns the inputs' .grad as float64 arrays."""
    for t in inputs:
        assert t.requires_grad and t.is_leaf, "check_grad: inputs must be leaves requiring grad"
        t.grad = None
    out = f(*inputs)
    assert out.requires_grad, "check_grad: f's result does not require grad"
    out.backward()
    grads = []
    for i, t in enumerate(inputs):
        assert t.grad is not None, f"check_grad: input {i} got no gradient"
        assert t.grad.dtype == t.dtype and t.grad.shape == t.shape
        grads.append(np.array(t.grad, dtype=np.float64))
    return grads


def with_thread_counts(run):
    """[run() with 1 thread, run() with at least 2], the pool's thread count restored after."""
    previous = fn.get_num_threads()
    results = []
    try:
        for threads in (1, max(2, previous)):
            fn.set_num_threads(threads)
            results.append(run())
    finally:
        fn.set_num_threads(previous)
    return results


def _compare_grads(f, inputs, dtype, eps, tol, who):
    inputs = _as_list(inputs)
    for t in inputs:
        assert t.dtype == dtype, f"{who}: use {dtype} inputs"
    analytic = analytic_grad(f, inputs)
    numeric = numeric_grad(f, [np.asarray(t, dtype=np.float64) for t in inputs], eps)
    for i, (a, n) in enumerate(zip(analytic, numeric)):
        err = grad_error(a, n)
        assert err < tol, f"input {i}: gradient error {err:.3g} >= {tol}\nanalytic\n{a}\nnumeric\n{n}"
    return analytic


def check_grad(f, inputs, eps=1e-6, tol=1e-6):
    """Gradient check in float64 (see the module docstring). Returns the analytic grads."""
    return _compare_grads(f, inputs, "float64", eps, tol, "check_grad")


def check_grad_f32(f, inputs, eps=1e-6, tol=1e-4):
    """float32 analytic gradients against float64 numeric ones (see the module docstring)."""
    return _compare_grads(f, inputs, "float32", eps, tol, "check_grad_f32")


def leaf(array, dtype="float64"):
    """A leaf tensor requiring grad holding a copy of ``array``."""
    return fn.tensor(np.asarray(array), dtype=dtype, requires_grad=True)


def away_from_zero(rng, shape, low=0.1, high=2.0):
    """Values with |v| in [low, high) and random signs: no input sits on a kink."""
    mag = rng.uniform(low, high, size=shape)
    return mag * rng.choice([-1.0, 1.0], size=shape)


@pytest.fixture(autouse=True)
def _grad_mode_on():
    """Every test starts and ends with grad mode on (a failing no_grad test must not leak)."""
    fn._C.set_grad_enabled(True)
    yield
    fn._C.set_grad_enabled(True)
