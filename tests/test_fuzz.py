"""Property-based fuzzing of the public ops and layers: on random shapes (empty, size 1,
odd, negative, overflowing), dtypes (float, int, bool, float16, complex, object, str) and
values (NaN, inf, huge), every call either returns a result of the expected shape and
values (numpy in float64 is the reference) or raises ValueError, TypeError, IndexError,
MemoryError, RuntimeError or NotImplementedError. It never crashes the process and never
returns a wrong result silently.

A crash would take pytest down with it, so by default the properties run in a child
process (``test_fuzz_in_a_child_process``), which writes each case to a log before running
it: the parent reports the case that crashed. ``FASTNN_FUZZ_IN_PROCESS=1`` runs them in
this process instead (the child does; so does .ci/sanitize, under ASan).

Hypothesis is derandomized (fixed seed, no example database), so CI runs the same cases
every time.
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
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastnn as fn
from fastnn import _C, layers, losses

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


@pytest.mark.skipif(IN_PROCESS, reason="this is the child")
def test_fuzz_in_a_child_process(tmp_path):
    log = tmp_path / "cases.log"
    env = dict(os.environ, FASTNN_FUZZ_IN_PROCESS="1", FASTNN_FUZZ_LOG=str(log))
    here = pathlib.Path(__file__).resolve()
    out = subprocess.run([sys.executable, "-X", "faulthandler", "-m", "pytest", str(here), "-q",
                          "-p", "no:cacheprovider", "-x", "-W", "error::pytest.PytestUnraisableExceptionWarning"],
                         cwd=here.parent, env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        last = log.read_text().splitlines()[-1:] if log.exists() else []
        crashed = out.returncode < 0 or "Fatal Python error" in out.stderr
        pytest.fail(("the process CRASHED on the case: " if crashed else "a property failed; last case: ")
                    + (last[0] if last else "?") + "\n--- stdout\n" + out.stdout[-8000:]
                    + "\n--- stderr\n" + out.stderr[-8000:], pytrace=False)


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


# --- construction -------------------------------------------------------------------------

ANY_DTYPE_ARRAYS = st.one_of(
    st.builds(lambda a: a, float_arrays()),
    hnp.arrays(st.sampled_from([np.bool_, np.int8, np.int32, np.int64, np.uint8, np.uint64]),
               shapes()),
    hnp.arrays(np.float16, shapes(), elements=st.floats(width=16)),
    hnp.arrays(np.complex64, shapes(max_dims=2)),
    hnp.arrays(np.dtype("U3"), shapes(max_dims=2)),
    st.lists(st.one_of(st.integers(-5, 5), st.floats(-5, 5), st.text(max_size=2), st.none()),
             max_size=4).map(lambda xs: np.array(xs + [None], dtype=object)),
)
DTYPE_ARGS = st.sampled_from([None, "float32", "float64", "int32", "int64", "float16", "bool",
                              np.float32, np.int64, "cuda"])
_INT_RANGE = {"int32": (-2.0**31, 2.0**31), "int64": (-2.0**63, 2.0**63)}


def fits(array, target):
    """Whether every value of a numeric array converts exactly-enough to ``target``."""
    if target not in _INT_RANGE or array.size == 0:
        return True
    low, high = _INT_RANGE[target]
    if array.dtype.kind in "iub":  # compare as Python ints: floats would round 2^63 - 1 up
        return int(array.min()) >= low and int(array.max()) < high
    a = array.astype(np.float64)
    return bool(np.all(np.isfinite(a)) and a.min() >= low and a.max() < high)


@FUZZ
@given(ANY_DTYPE_ARRAYS, DTYPE_ARGS, st.booleans())
def fuzz_tensor_construction(array, dtype, requires_grad):
    log_case("tensor", array, dtype, requires_grad)
    result, exc = outcome(lambda: fn.tensor(array, dtype=dtype, requires_grad=requires_grad))
    name = None if dtype is None else (dtype if isinstance(dtype, str) else np.dtype(dtype).name)
    kind = array.dtype.kind
    if name in ("float16", "bool", "cuda") or kind in "cUS" or (kind == "O" and name is None):
        assert exc is not None, f"{array.dtype} data with dtype {name} gave a tensor"
        return
    # fn.tensor keeps int32 and int64 and makes other integers int64, any float float32.
    default = array.dtype.name if array.dtype.name in ("int32", "int64") else "int64"
    target = name or ("float32" if kind == "f" else default)
    if kind == "O":  # numbers in an object array may convert; anything else must raise
        if exc is None:
            assert_matches(result, np.asarray(array.tolist(), dtype=np.float64), target)
        return
    if (requires_grad and target.startswith("int")) or not fits(array, target):
        assert exc is not None, f"{array.dtype} values {array} as {target} gave {np.asarray(result)}"
        return
    assert exc is None, f"unexpected {type(exc).__name__}: {exc}"
    assert result.dtype == target and result.shape == array.shape
    assert result.requires_grad == requires_grad
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(np.asarray(result), array.astype(target))


HUGE = [2**31, 2**46, 2**62, 2**63 - 1, 2**63, 2**64, -2**63, -2**64]
FACTORY_DIMS = st.one_of(st.integers(-2, 5), st.sampled_from(HUGE))


@FUZZ
@given(st.sampled_from(["zeros", "ones", "rand", "randn"]),
       st.lists(FACTORY_DIMS, max_size=4), st.sampled_from(["float32", "float64", "int32", "int64"]))
def fuzz_factories(factory, shape, dtype):
    item = np.dtype(dtype).itemsize
    malformed = any(d < 0 or d >= 2**63 for d in shape) or \
        math.prod(d for d in shape if d) * item >= 2**63
    numel = math.prod(shape)
    # Sizes between these would be allocated (overcommit) and filled: slow, not a bug.
    assume(malformed or numel * item <= 2**24 or numel * item >= 2**47)
    log_case(factory, shape, dtype)
    make = getattr(fn, factory)
    result, exc = outcome(lambda: make(*shape, dtype=dtype) if factory.startswith("rand")
                          else make(tuple(shape), dtype=dtype))
    if malformed:
        assert isinstance(exc, ValueError), f"expected ValueError, got {exc!r}"
        return
    if numel * item >= 2**47:  # a well-formed shape beyond any address space
        assert isinstance(exc, MemoryError), f"expected MemoryError, got {exc!r}"
        assert str(numel * item) in str(exc)
        return
    if factory.startswith("rand") and dtype.startswith("int"):
        assert isinstance(exc, TypeError), f"expected TypeError, got {exc!r}"
        return
    assert exc is None, f"unexpected {type(exc).__name__}: {exc}"
    assert result.shape == tuple(shape) and result.dtype == dtype
    a = np.asarray(result)
    if factory in ("zeros", "ones"):
        assert np.all(a == (factory == "ones"))
    elif factory == "rand":
        assert np.all((a >= 0) & (a < 1))
    else:
        assert np.all(np.isfinite(a))


# --- arithmetic ---------------------------------------------------------------------------

OPS = {"+": (np.add, lambda a, b: a + b), "-": (np.subtract, lambda a, b: a - b),
       "*": (np.multiply, lambda a, b: a * b), "/": (np.divide, lambda a, b: a / b)}


@st.composite
def operand_pairs(draw):
    """Two arrays whose shapes mostly broadcast, sometimes of different or int dtypes."""
    a = draw(float_arrays())
    shape = draw(st.one_of(broadcastable_to(a.shape), shapes()))
    if draw(st.booleans()) and len(shape) <= len(a.shape):  # b broadcasts; swap sides
        a, b = draw(float_arrays(shape=a.shape)), draw(float_arrays(shape=shape, dtype=a.dtype))
        a, b = (b, a) if draw(st.booleans()) else (a, b)
    else:
        b = draw(float_arrays(shape=shape, dtype=draw(st.sampled_from([a.dtype, np.float32,
                                                                       np.int64]))))
    return a, b


@FUZZ
@given(operand_pairs(), st.sampled_from(sorted(OPS)),
       st.sampled_from(["tensors", "array right", "array left", "scalar right", "scalar left"]),
       st.booleans())
def fuzz_binary_ops(pair, op, form, requires_grad):
    a, b = pair
    ref, apply = OPS[op]
    if form.startswith("scalar"):
        b = b.reshape(-1)[:1].reshape(()) if b.size else np.array(2.5)
    log_case(op, form, a, b, requires_grad)
    ta = fn.tensor(a, dtype=a.dtype, requires_grad=requires_grad)
    if form == "tensors":
        other = fn.tensor(b, dtype=b.dtype)
        call = lambda: apply(ta, other)  # noqa: E731
    elif form.startswith("array"):
        call = (lambda: apply(ta, b)) if form.endswith("right") else (lambda: apply(b, ta))
    else:
        scalar = b.item()
        call = (lambda: apply(ta, scalar)) if form.endswith("right") else (lambda: apply(scalar, ta))
    result, exc = outcome(call)
    errors = ()
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        errors += (ValueError,)
    if form == "tensors" and a.dtype != b.dtype:
        errors += (TypeError,)
    if errors:
        assert isinstance(exc, errors), f"{a.dtype}{a.shape} {op} {b.dtype}{b.shape}: got {exc!r}"
        return
    # Arrays and scalars are converted to the tensor's dtype first (as torch does).
    with np.errstate(all="ignore"):
        bb = b.astype(a.dtype) if form != "tensors" else b
    assert exc is None, f"unexpected {type(exc).__name__}: {exc}"
    x, y = (a, bb) if form == "tensors" or form.endswith("right") else (bb, a)
    with np.errstate(all="ignore"):
        expected = ref(x.astype(np.float64), y.astype(np.float64))
    assert result.shape == shape and result.dtype == a.dtype.name
    assert_matches(result, expected, a.dtype, tol=0)  # IEEE: one correctly rounded op
    if requires_grad:
        result.sum().backward()
        assert ta.grad is not None and ta.grad.shape == a.shape
        if np.all(np.isfinite(a)) and np.all(np.isfinite(bb)) and np.all(np.abs(bb) > 1e-3):
            ones = np.ones(shape)
            with np.errstate(all="ignore"):
                d = {"+": ones, "*": ones * bb, "/": ones / bb.astype(np.float64),
                     "-": ones if x is a else -ones}[op]
            if not (op == "/" and x is not a):
                assert_matches(ta.grad, unbroadcast(np.broadcast_to(d, shape), a.shape), a.dtype,
                               tol=1e-4)


@st.composite
def matmul_shapes(draw):
    a_shape = draw(shapes(1, 3))
    if draw(st.integers(0, 4)):  # mostly (K, N) with a's K
        return a_shape, (a_shape[-1], draw(DIM))
    return a_shape, draw(shapes(0, 3))


@FUZZ
@given(matmul_shapes(), FLOATS, st.booleans(), st.booleans())
def fuzz_matmul(ab_shapes, dtype, extreme, requires_grad):
    a_shape, b_shape = ab_shapes
    a = np.random.default_rng(len(a_shape)).uniform(-2, 2, a_shape).astype(dtype)
    b = np.random.default_rng(len(b_shape)).uniform(-2, 2, b_shape).astype(dtype)
    extreme = extreme and a.size > 0
    if extreme:
        a.flat[0] = np.nan
    log_case("matmul", a, b, requires_grad)
    ta = fn.tensor(a, dtype=dtype, requires_grad=requires_grad)
    result, exc = outcome(lambda: ta @ fn.tensor(b, dtype=dtype))
    if len(b_shape) != 2 or a_shape[-1] != b_shape[0]:
        assert isinstance(exc, ValueError), f"{a_shape} @ {b_shape}: got {exc!r}"
        return
    assert exc is None, f"unexpected {type(exc).__name__}: {exc}"
    expected = a.astype(np.float64) @ b.astype(np.float64)
    assert result.shape == expected.shape
    if extreme:  # NaN in a[0, 0] makes the first row of the result NaN, whatever b holds
        assert expected.size == 0 or np.isnan(as64(result).reshape(-1, b_shape[1])[0]).all()
        return
    assert_matches(result, expected, dtype, tol=1e-4 if dtype == np.float32 else 1e-10)
    if requires_grad:
        result.sum().backward()
        assert_matches(ta.grad, np.ones(expected.shape) @ b.T.astype(np.float64), dtype, tol=1e-4)


AXES = st.one_of(st.none(), st.integers(-5, 4),
                 st.lists(st.integers(-5, 4), max_size=3).map(tuple))


@FUZZ
@given(st.one_of(float_arrays(), hnp.arrays(np.int64, shapes(max_dims=2))), AXES, st.booleans(),
       st.sampled_from(["sum", "mean"]), st.booleans())
def fuzz_reductions(a, axis, keepdims, name, requires_grad):
    log_case(name, a, axis, keepdims, requires_grad)
    is_float = a.dtype.kind == "f"
    t = fn.tensor(a, dtype=a.dtype, requires_grad=requires_grad and is_float)
    result, exc = outcome(lambda: getattr(fn, name)(t, axis=axis, keepdims=keepdims))
    if not is_float:
        assert isinstance(exc, TypeError), f"{a.dtype}: got {exc!r}"
        return
    axes = () if axis is None else (axis if isinstance(axis, tuple) else (axis,))
    if any(not -a.ndim <= ax < a.ndim for ax in axes):
        assert isinstance(exc, IndexError), f"axes {axes} of {a.shape}: got {exc!r}"
        return
    if len({ax % a.ndim for ax in axes}) != len(axes):
        assert isinstance(exc, ValueError), f"repeated axes {axes}: got {exc!r}"
        return
    np_axis = None if axis is None or axes == () else tuple(ax % a.ndim for ax in axes)
    count = a.size if np_axis is None else math.prod(a.shape[ax] for ax in np_axis)
    if name == "mean" and count == 0:
        assert isinstance(exc, ValueError), f"mean over an empty axis: got {exc!r}"
        return
    assert exc is None, f"unexpected {type(exc).__name__}: {exc}"
    with np.errstate(all="ignore"):
        expected = getattr(np, name)(a.astype(np.float64), axis=np_axis, keepdims=keepdims)
    scale = max(1.0, float(np.max(np.abs(a), initial=0))) if np.all(np.isfinite(a)) else 1.0
    assert result.shape == np.shape(expected)
    if np.all(np.isfinite(expected)):
        assert_matches(result, np.asarray(expected) / scale * scale, a.dtype,
                       tol=1e-5 * count if a.dtype == np.float32 else 1e-10)
    else:  # the float64 reference may stay finite where the float32 sum overflows
        assert np.array_equal(np.isnan(as64(result)), np.isnan(expected)) or a.dtype == np.float32
    if requires_grad and result.numel() > 0:
        result.sum().backward()
        assert_matches(t.grad, np.full(a.shape, 1.0 if name == "sum" else 1.0 / max(count, 1)),
                       a.dtype)


# --- shapes -------------------------------------------------------------------------------

TARGET_DIMS = st.one_of(st.integers(-3, 8), st.sampled_from([1, 7, 2**31, 2**62, 2**63, -2**63]))


@FUZZ
@given(float_arrays(extreme=False), st.lists(TARGET_DIMS, max_size=4),
       st.sampled_from(["fn.reshape", "Tensor.reshape", "Tensor.view", "flatten", "Flatten",
                        "Tensor.flatten", "Reshape"]), st.booleans())
def fuzz_reshape_and_flatten(a, target, how, requires_grad):
    log_case(how, a, target, requires_grad)
    t = fn.tensor(a, dtype=a.dtype, requires_grad=requires_grad)
    calls = {"fn.reshape": lambda: fn.reshape(t, target), "Tensor.reshape": lambda: t.reshape(*target),
             "Tensor.view": lambda: t.view(target), "flatten": lambda: fn.flatten(t),
             "Flatten": lambda: layers.Flatten(dtype=a.dtype.name)(t), "Tensor.flatten": lambda: t.flatten(),
             "Reshape": lambda: layers.Reshape(target, dtype=a.dtype.name)(t)}
    result, exc = outcome(calls[how])
    if how == "Reshape":  # per-sample sizes: positive, or one -1; the batch axis is kept
        if a.ndim == 0 or any(d == 0 or d < -1 for d in target) or target.count(-1) > 1:
            assert isinstance(exc, ValueError), f"Reshape {target} of {a.shape}: got {exc!r}"
            return
        target = [a.shape[0], *target]
    if how == "Tensor.flatten":
        target = [-1]
    elif how in ("flatten", "Flatten"):
        if a.ndim == 0:
            assert isinstance(exc, ValueError), f"flatten of a scalar: got {exc!r}"
            return
        target = [a.shape[0], math.prod(a.shape[1:])]
    if how == "Tensor.reshape" and not target:  # t.reshape() with no sizes: a 0-d tensor
        target = []
    try:
        if any(d < -1 or d >= 2**63 for d in target):
            raise ValueError("negative or huge size")
        expected = a.reshape(target)
    except ValueError:
        assert isinstance(exc, ValueError), f"{a.shape} -> {target}: got {exc!r}"
        return
    assert exc is None, f"unexpected {type(exc).__name__}: {exc}"
    assert result.shape == expected.shape
    np.testing.assert_array_equal(np.asarray(result), expected)
    if requires_grad:
        (result * 2.0).sum().backward()
        np.testing.assert_array_equal(np.asarray(t.grad), np.full(a.shape, 2.0))


@st.composite
def concat_cases(draw):
    base = draw(shapes(0, 3))
    axis = draw(st.integers(-len(base), len(base) - 1) if base and draw(st.integers(0, 5))
                else st.integers(-4, 3))
    parts = []
    for _ in range(draw(st.integers(1, 4)) if draw(st.integers(0, 9)) else 0):
        shape = list(base)
        if shape and draw(st.integers(0, 9)):  # mostly only the concat axis differs
            if -len(shape) <= axis < len(shape):
                shape[axis] = draw(DIM)
        else:
            shape = list(draw(shapes(0, 3)))
        dtype = draw(st.sampled_from([np.float32] * 8 + [np.float64, np.int64]))
        parts.append(draw(float_arrays(shape=tuple(shape), dtype=dtype, extreme=False)))
    return parts, axis


@FUZZ
@given(concat_cases(), st.booleans())
def fuzz_concat(case, requires_grad):
    arrays, axis = case
    log_case("concat", arrays, axis, requires_grad)
    tensors = [fn.tensor(a, dtype=a.dtype, requires_grad=requires_grad and a.dtype.kind == "f")
               for a in arrays]
    result, exc = outcome(lambda: fn.concat(tensors, axis=axis))
    if len({a.dtype for a in arrays}) > 1:
        assert isinstance(exc, (TypeError, ValueError, IndexError)), f"mixed dtypes: got {exc!r}"
        return
    try:
        if any(a.ndim == 0 for a in arrays):
            raise ValueError("0-d")
        expected = np.concatenate(arrays, axis=axis)
    except (ValueError, IndexError):  # numpy's AxisError is both
        assert isinstance(exc, (ValueError, IndexError)), f"{[a.shape for a in arrays]}: {exc!r}"
        return
    assert exc is None, f"unexpected {type(exc).__name__}: {exc}"
    np.testing.assert_array_equal(np.asarray(result), expected)
    if requires_grad and arrays[0].dtype.kind == "f":
        w = np.arange(expected.size, dtype=np.float64).reshape(expected.shape)
        (result * fn.tensor(w, dtype=expected.dtype)).sum().backward()
        parts = np.split(w, np.cumsum([a.shape[axis] for a in arrays])[:-1], axis=axis)
        for tensor, part in zip(tensors, parts):
            np.testing.assert_array_equal(np.asarray(tensor.grad), part)


# --- indexing -----------------------------------------------------------------------------

def index_keys(n):
    ints = st.one_of(st.integers(-n - 2, n + 2), st.sampled_from([2**63 - 1, -2**63, 2**70]))
    fits64 = ints.filter(lambda i: -2**63 <= i < 2**63)
    return st.one_of(
        ints, fits64.map(np.int64), ints.filter(lambda i: abs(i) < 2**31).map(np.int32),
        st.builds(slice, st.none() | ints, st.none() | ints, st.none() | st.integers(-3, 3)),
        st.lists(fits64, max_size=5).map(lambda xs: np.array(xs, dtype=np.int64)),
        st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=3).map(
            lambda xs: np.array(xs, dtype=np.uint64)),
        st.lists(st.booleans(), min_size=max(n - 1, 0), max_size=n + 1).map(np.array),
        st.lists(st.floats(-3, 3), min_size=1, max_size=3).map(np.array),
        ints.map(lambda i: (i,)), st.tuples(ints, ints), st.just(None), st.just("0"),
    )


@FUZZ
@given(float_arrays(extreme=False).flatmap(lambda a: st.tuples(
    st.just(a), index_keys(a.shape[0] if a.ndim else 1))), st.booleans())
def fuzz_indexing(case, requires_grad):
    a, key = case
    log_case("getitem", a, key, requires_grad)
    t = fn.tensor(a, dtype=a.dtype, requires_grad=requires_grad)
    result, exc = outcome(lambda: t[key])
    if isinstance(key, tuple) and len(key) == 1:
        key = key[0]
    try:
        if a.ndim == 0 or isinstance(key, (tuple, str)) or key is None:
            raise IndexError("fastnn indexes the first axis only")
        if isinstance(key, np.ndarray) and key.dtype == np.uint64:
            key = key.astype(object)  # numpy refuses uint64 indices above 2^63 only by luck
            if any(k >= a.shape[0] for k in key):
                raise IndexError("out of range")
            key = key.astype(np.int64)
        expected = a[key]
    except (IndexError, ValueError, TypeError) as ref_exc:
        assert exc is not None, f"numpy raised {ref_exc!r}, fastnn returned {result!r}"
        return
    assert exc is None, f"unexpected {type(exc).__name__}: {exc}"
    np.testing.assert_array_equal(np.asarray(result), expected)
    if requires_grad:
        result.sum().backward()
        counts = np.zeros(a.shape)
        np.add.at(counts, key if not isinstance(key, (int, np.integer)) else int(key), 1.0)
        np.testing.assert_array_equal(np.asarray(t.grad), counts)


# --- activations --------------------------------------------------------------------------

_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _softmax(x, log):
    shifted = x - x.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return shifted - lse if log else np.exp(shifted - lse)


# name -> (call, reference value, reference derivative or None, float32 tolerance)
ACTIVATIONS = {
    "relu": (fn.relu, lambda x, s: np.where(x < 0, 0.0, x), lambda x, s: (x > 0) * 1.0, 0),
    "leaky_relu": (lambda t, s: fn.leaky_relu(t, s), lambda x, s: np.where(x > 0, x, s * x),
                   lambda x, s: np.where(x > 0, 1.0, s), 0),
    "sigmoid": (fn.sigmoid, lambda x, s: _sigmoid(x), lambda x, s: _sigmoid(x) * (1 - _sigmoid(x)),
                2e-6),
    "tanh": (fn.tanh, lambda x, s: np.tanh(x), lambda x, s: 1 - np.tanh(x) ** 2, 2e-6),
    "gelu": (fn.gelu, lambda x, s: 0.5 * x * _erfc(-x / np.sqrt(2)),
             lambda x, s: 0.5 * _erfc(-x / np.sqrt(2)) + x * np.exp(-x * x / 2) / np.sqrt(2 * np.pi),
             1e-6),
    # float32 sums of up to 33 terms: ~1e-6 relative, and log_softmax cancels near 0
    "softmax": (lambda t, s: fn.softmax(t, s), lambda x, s: _softmax(x, False), None, 2e-5),
    "log_softmax": (lambda t, s: fn.log_softmax(t, s), lambda x, s: _softmax(x, True), None, 2e-5),
}


@FUZZ
@given(st.one_of(float_arrays(), float_arrays(), float_arrays(),
                 hnp.arrays(np.int32, shapes(max_dims=2))),
       st.sampled_from(sorted(ACTIVATIONS)),
       st.one_of(st.floats(0, 3), st.floats(0, 3), st.floats(-1, 0), st.just(np.nan)),
       st.one_of(st.just(-1), st.integers(-3, 2)), st.booleans(), st.booleans())
def fuzz_activations(a, name, slope, axis, as_array, requires_grad):
    call, ref, dref, tol32 = ACTIVATIONS[name]
    arg = slope if name == "leaky_relu" else axis
    log_case(name, a, arg, as_array, requires_grad)
    is_float = a.dtype.kind == "f"
    t = a if as_array else fn.tensor(a, dtype=a.dtype, requires_grad=requires_grad and is_float)
    if name in ("leaky_relu", "softmax", "log_softmax"):
        result, exc = outcome(lambda: call(t, arg))
    else:
        result, exc = outcome(lambda: call(t))
    if not is_float:
        assert isinstance(exc, TypeError), f"{name} of {a.dtype}: got {exc!r}"
        return
    if name == "leaky_relu" and not slope >= 0:
        assert isinstance(exc, ValueError), f"slope {slope}: got {exc!r}"
        return
    if name.endswith("softmax") and (a.ndim == 0 or axis not in (-1, a.ndim - 1)):
        assert isinstance(exc, ValueError), f"{name} axis {axis} of {a.shape}: got {exc!r}"
        return
    assert exc is None, f"unexpected {type(exc).__name__}: {exc}"
    dtype = np.float32 if as_array else a.dtype  # fastnn's functions take float arrays as float32
    x = a.astype(np.float64)
    slope = float(np.asarray(slope).astype(dtype))  # the kernel computes in the tensor's dtype
    with np.errstate(all="ignore"):
        expected = ref(x, slope) if x.size else x
    finite = np.all(np.isfinite(x))
    assert result.shape == a.shape and result.dtype == np.dtype(dtype).name
    # Non-finite inputs: NaN stays NaN, +-inf gives the limits (checked where the math is
    # defined); finite inputs, however huge, give the reference within a few ulp.
    tol = (tol32 if dtype == np.float32 else 1e-13) if finite or not name.endswith("softmax") \
        else None
    if tol is None:  # a row with inf or NaN is NaN where the reference is (torch: all NaN)
        got = as64(result)
        with np.errstate(all="ignore"):
            bad_rows = ~np.all(np.isfinite(x), axis=-1, keepdims=True)
            tol = tol32 if dtype == np.float32 else 1e-13
            ok = np.isclose(got, expected, rtol=tol, atol=tol, equal_nan=True)
        assert np.all(ok | (np.isnan(got) & bad_rows)), (got, expected)
    else:
        assert_matches(result, expected, dtype, tol=max(tol, 1e-30))
    if requires_grad and is_float and not as_array and dref is not None and finite:
        w = np.linspace(-1, 1, a.size).reshape(a.shape)
        (result * fn.tensor(w, dtype=dtype)).sum().backward()
        with np.errstate(all="ignore"):
            expected_grad = w * dref(x, slope)
        keep = np.abs(x) > 1e-3  # relu's kink
        got = as64(t.grad)
        np.testing.assert_allclose(got[keep], expected_grad[keep], rtol=1e-4, atol=1e-6)


# --- losses -------------------------------------------------------------------------------

LOSSES = [losses.MSELoss(), losses.L1Loss(), losses.BCELoss(), losses.BCEWithLogitsLoss(),
          losses.CategoricalCrossentropy(), losses.CategoricalCrossentropy(from_logits=True),
          losses.CrossEntropyLoss(), losses.SparseCategoricalCrossentropy(),
          losses.MeanSquaredError(reduction="none"), losses.MeanAbsoluteError(reduction="sum"),
          losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")]
LABELS = ["valid", "out of range", "negative", "fraction", "nan", "wrong shape", "one-hot", "inf"]


def _loss_reference(loss, p, t):
    """Per-sample values for the losses with a cheap exact reference, else None."""
    if loss.kind == "mean_squared_error":
        return ((p - t) ** 2).mean(axis=-1)
    if loss.kind == "mean_absolute_error":
        return np.abs(p - t).mean(axis=-1)
    if loss.kind == "sparse_categorical_crossentropy" and loss.from_logits:
        return -np.take_along_axis(_softmax(p, True), t[..., None].astype(np.int64), -1)[..., 0]
    if loss.kind == "categorical_crossentropy" and loss.from_logits:
        return -(t * _softmax(p, True)).sum(axis=-1)
    return None


@FUZZ
@given(st.sampled_from(range(len(LOSSES))),
       shapes(0, 3, dim=st.one_of(st.integers(1, 5), st.integers(1, 5), st.integers(0, 5))),
       st.sampled_from(["valid"] * len(LABELS) + LABELS), FLOATS, st.booleans(), st.data())
def fuzz_losses(which, shape, labels, dtype, requires_grad, data):
    loss = LOSSES[which]
    sparse = loss.kind.startswith("sparse")
    rng = np.random.default_rng(len(shape) + 10 * which)
    p = rng.uniform(-3, 3, shape).astype(dtype)
    if not loss.from_logits and loss.kind.endswith("crossentropy"):
        p = rng.uniform(0.05, 1, shape).astype(dtype)  # probabilities
    classes = shape[-1] if shape else 1
    rows = shape[:-1] if len(shape) >= 2 else shape
    if sparse:
        t = rng.integers(0, max(classes, 1), rows)
    elif loss.kind == "categorical_crossentropy":
        t = np.eye(max(classes, 1))[rng.integers(0, max(classes, 1), shape[:-1] if shape else ())]
    else:
        t = rng.uniform(0, 1, shape)
    bad = labels != "valid"
    if labels == "out of range" and t.size:
        t.flat[-1] = classes if sparse else 2.0
        bad = sparse
    elif labels == "negative" and t.size:
        t.flat[0] = -1
        bad = sparse
    elif labels == "fraction" and t.size:
        t = t.astype(np.float64)
        t.flat[0] += 0.5
        bad = sparse
    elif labels in ("nan", "inf") and t.size:
        t = t.astype(np.float64)
        t.flat[0] = np.nan if labels == "nan" else np.inf
    elif labels == "wrong shape":
        t = t.reshape(-1)[:-1] if t.size else np.zeros(3)
    elif labels == "one-hot":
        t = np.eye(max(classes, 1))[np.zeros(rows, dtype=np.int64)]
        bad = sparse or t.shape != p.shape
    elif labels == "nan" or labels == "inf":
        bad = False  # nothing to corrupt
    if data.draw(st.integers(0, 3)) == 0 and p.size:
        # NaN always raises; inf where no clipping hides it (tests/test_errors.py):
        # probabilities are clipped, and a logit of -inf is a probability of 0.
        p.flat[0] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        regression = loss.kind.startswith("mean")
        if np.isnan(p.flat[0]) or regression or (loss.from_logits and p.flat[0] > 0):
            bad = True
        elif not bad:
            bad = None  # either a finite loss or an error
    log_case(type(loss).__name__, loss.reduction, p, t, requires_grad)
    tp = fn.tensor(p, dtype=dtype, requires_grad=requires_grad)
    result, exc = outcome(lambda: loss(tp, t))
    categorical = loss.kind.endswith("categorical_crossentropy")
    if bad or p.size == 0 or p.ndim == 0 or (categorical and p.ndim < 2):
        assert exc is not None, f"{type(loss).__name__} {p.shape} {labels}: got {result!r}"
        return
    if bad is None and exc is not None:
        return
    assert exc is None, f"unexpected {type(exc).__name__}: {exc}"
    per_sample_shape = p.shape[:-1] if p.ndim >= 2 else p.shape
    assert result.shape == (per_sample_shape if loss.reduction == "none" else ())
    got = as64(result)
    assert np.all(np.isfinite(got))
    p64 = p.astype(np.float64).reshape(p.shape if p.ndim >= 2 else (-1, 1))
    t64 = np.asarray(t, dtype=np.float64).reshape(p64.shape[:-1] if sparse else p64.shape)
    per_sample = _loss_reference(loss, p64, t64) if bad is not None else None
    if per_sample is not None:
        expected = {"none": per_sample, "sum": per_sample.sum()}.get(loss.reduction,
                                                                      per_sample.mean())
        np.testing.assert_allclose(got, np.reshape(expected, got.shape), rtol=1e-4, atol=1e-5)
    if requires_grad:
        result.sum().backward()
        assert tp.grad.shape == p.shape
        # Known, not fixed here (csrc/ops/loss.cpp is another engineer's): probabilities with
        # an inf give a finite, clipped loss but a NaN gradient (p / sum(p) is inf / inf);
        # see test_probability_crossentropy_with_inf_has_no_nan_gradient.
        if not (bad is None and categorical and not loss.from_logits):
            assert np.all(np.isfinite(as64(tp.grad))), np.asarray(tp.grad)


# --- layers -------------------------------------------------------------------------------

@FUZZ
@given(st.integers(1, 5), st.sampled_from([None, "relu", "sigmoid", "tanh", "gelu", "softmax",
                                           "leaky_relu", "linear"]),
       st.booleans(), st.sampled_from(["float32", "float64"]),
       st.one_of(*[float_arrays(shapes(1, 3), extreme=False)] * 4,
                 hnp.arrays(np.int64, shapes(max_dims=2)), hnp.arrays(np.bool_, shapes(max_dims=2))),
       st.sampled_from(["array", "tensor"]), st.integers(1, 6))
def fuzz_dense_layer(units, activation, use_bias, layer_dtype, x, form, other_features):
    log_case("Dense", units, activation, use_bias, layer_dtype, x, form)
    layer = layers.Dense(units, activation=activation, use_bias=use_bias, dtype=layer_dtype)
    inputs = x if form == "array" else fn.tensor(x, dtype=x.dtype if x.dtype.kind == "f" else None)
    result, exc = outcome(lambda: layer(inputs))
    errors = ()
    if form == "tensor" and x.dtype.name != layer_dtype:
        errors += (TypeError,)
    if x.ndim == 0 or x.size == 0:
        errors += (ValueError,)
    if errors:
        assert isinstance(exc, errors), f"{x.dtype}{x.shape} {form} into Dense: got {exc!r}"
        return
    assert exc is None, f"unexpected {type(exc).__name__}: {exc}"
    weights = layer.get_weights()
    z = x.astype(layer_dtype).astype(np.float64) @ weights[0].astype(np.float64)
    if use_bias:
        z = z + weights[1]
    act = activation or "linear"
    expected = z if act == "linear" else ACTIVATIONS[act][1](z, 0.2)
    assert result.shape == x.shape[:-1] + (units,)
    assert_matches(result, expected, layer_dtype, tol=1e-4 if layer_dtype == "float32" else 1e-10)
    gy = np.ones(result.shape)
    gx = layer.backward(gy)
    assert gx.shape == x.shape and layer.kernel.grad.shape == weights[0].shape
    if act == "linear":
        assert_matches(gx, gy @ weights[0].T.astype(np.float64), layer_dtype, tol=1e-4)
    wrong = np.zeros(x.shape[:-1] + (x.shape[-1] + other_features,), dtype=layer_dtype)
    expect_error(lambda: layer(wrong), ValueError)


# --- what the fuzzing found, pinned down ----------------------------------------------------

@pytest.mark.parametrize("call,exc,fragment", [
    (lambda: fn.randn(2**62, 4), ValueError, "2^63-1 bytes"),  # used to segfault on indexing
    (lambda: fn.zeros((2**31, 2**31, 8)), ValueError, "(2147483648, 2147483648, 8)"),
    (lambda: fn.zeros((0, 2**62, 4)), ValueError, "overflows"),  # as numpy: strides overflow
    (lambda: fn.ones((2**63 - 1,), dtype="int32"), ValueError, "overflows"),
    (lambda: fn.zeros((3, -1)), ValueError, "sizes >= 0"),
    (lambda: fn.zeros((2**64,)), ValueError, "below 2^63"),
    (lambda: fn.zeros((2**46, 4)), MemoryError, "1125899906842624 bytes"),
    (lambda: fn.rand(2**45, 2**5, dtype="float64"), MemoryError, "bytes"),
    (lambda: fn.zeros(4).view(-2, -2), ValueError, "reshape"),
    (lambda: fn.zeros(4).reshape(2**62, 4, 0, -1), ValueError, "overflows"),
    (lambda: fn.zeros(4).reshape(2**64), ValueError, "reshape"),
    (lambda: _C.full([2], float("nan"), "int64"), ValueError, "fits int64"),
    (lambda: fn.tensor([np.nan, 1.0]).to("int32"), ValueError, "nan at position 0"),
    (lambda: fn.tensor([2**40]).to("int32"), ValueError, "fit int32"),
    (lambda: fn.tensor(np.array([2**63], dtype=np.uint64)), ValueError, "fit int64"),
    (lambda: fn.tensor([np.inf], dtype="int64"), ValueError, "NaN or inf"),
    (lambda: fn.tensor(np.array([1 + 2j]), dtype="float32"), TypeError, "complex"),
    (lambda: fn.tensor(np.array(["1.5"]), dtype="float32"), TypeError, "<U3"),
    (lambda: layers.Reshape((2,))(fn.tensor(1.0)), ValueError, "batch axis"),
])
def test_found_by_fuzzing_raises(call, exc, fragment):
    with pytest.raises(exc) as info:
        call()
    assert fragment in str(info.value)


def test_found_by_fuzzing_values():
    # Flatten of an empty batch keeps its row size (was (0, 0)).
    assert fn.flatten(fn.zeros((0, 3, 4))).shape == (0, 12)
    assert layers.Flatten()(np.zeros((0, 5), np.float32)).shape == (0, 5)
    # relu lets NaN through (was 0, hiding it from the loss's NaN check), Dense's too.
    assert np.isnan(np.asarray(fn.relu(fn.tensor([np.nan, -1.0])))).tolist() == [True, False]
    out = fn.dense(fn.tensor([[np.nan]]), fn.tensor([[1.0]]), None, "relu")
    assert np.isnan(np.asarray(out)).all()
    # float32 GELU of large finite inputs (was NaN beyond ~1.8e19) and of inf.
    x = np.array([-1e30, -1e20, 1e20, 3e38, np.inf], dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(fn.gelu(fn.tensor(x))), np.where(x < 0, 0, x))
    # Values that fit are still converted exactly at the limits.
    edge = np.array([-2**31, 2**31 - 1], dtype=np.int64)
    np.testing.assert_array_equal(np.asarray(fn.tensor(edge, dtype="int32")), edge)
    np.testing.assert_array_equal(np.asarray(fn.tensor(edge).to("int32")), edge)


@pytest.mark.parametrize("loss", [losses.CategoricalCrossentropy(),
                                  losses.SparseCategoricalCrossentropy()])
def test_probability_crossentropy_with_inf_has_no_nan_gradient(loss):
    p = fn.tensor([[np.inf, 0.5, 0.5]], requires_grad=True)
    target = np.array([1]) if loss.kind.startswith("sparse") else np.array([[0.0, 1.0, 0.0]])
    try:
        value = loss(p, target)
    except ValueError:
        return  # refusing the inf, as the other losses do, is a fix too
    value.backward()
    assert np.all(np.isfinite(np.asarray(p.grad))), np.asarray(p.grad)


# Runs the properties as tests in the child process (see the module docstring).
if IN_PROCESS:
    for _name, _property in list(globals().items()):
        if _name.startswith("fuzz_"):
            globals()["test_" + _name[len("fuzz_"):]] = _property
