"""Fuzzing of tensors: construction, factories, arithmetic, matmul, reductions, shapes,
concat and indexing (the property and how it runs: tests/fuzzing.py), and what the fuzzing
found, pinned down by plain tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastnn as fn
from fastnn import _C, layers, losses

from fuzzing import (DIM, FLOATS, FUZZ, as64, assert_matches, broadcastable_to,
                     child_process_test, export_properties, float_arrays, log_case, outcome,
                     shapes, unbroadcast)

test_fuzz_in_a_child_process = child_process_test(__file__)


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
    if name in ("float16", "cuda") or kind in "cUS" or (kind == "O" and name is None):
        assert exc is not None, f"{array.dtype} data with dtype {name} gave a tensor"
        return
    # fn.tensor keeps int32, int64 and bool, makes other integers int64, any float float32.
    default = array.dtype.name if array.dtype.name in ("int32", "int64", "bool") else "int64"
    target = name or ("float32" if kind == "f" else default)
    if requires_grad and target == "bool":
        assert exc is not None, "a bool tensor that requires grad"
        return
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


def torch_result_type(a, b):
    """torch's promotion of two tensors (float kinds only here, or int64): a kind beats a
    lower one; within a kind the wider dtype wins, except that a 0-d tensor gives way to one
    with dims."""
    kind = {"f": 2, "i": 1, "u": 1, "b": 0}
    ka, kb = kind[a.dtype.kind], kind[b.dtype.kind]
    if (a.ndim == 0) != (b.ndim == 0):
        dims, zero = (a.dtype, b.dtype) if a.ndim else (b.dtype, a.dtype)
        return zero if kind[zero.kind] > kind[dims.kind] else dims
    if ka != kb:
        return a.dtype if ka > kb else b.dtype
    return a.dtype if a.dtype.itemsize >= b.dtype.itemsize else b.dtype


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
    if errors:
        assert isinstance(exc, errors), f"{a.dtype}{a.shape} {op} {b.dtype}{b.shape}: got {exc!r}"
        return
    # Two tensors promote as in torch; arrays and scalars are converted to the tensor's
    # dtype first (as torch does with numbers).
    target = torch_result_type(a, b) if form == "tensors" else a.dtype
    with np.errstate(all="ignore"):
        bb = b.astype(target)
        aa = a.astype(target)
    assert exc is None, f"unexpected {type(exc).__name__}: {exc}"
    a_left = form == "tensors" or form.endswith("right")
    x, y = (aa, bb) if a_left else (bb, aa)
    with np.errstate(all="ignore"):
        expected = ref(x.astype(np.float64), y.astype(np.float64))
    assert result.shape == shape and result.dtype == target.name
    assert_matches(result, expected, target, tol=0)  # IEEE: one correctly rounded op
    if requires_grad:
        result.sum().backward()
        assert ta.grad is not None and ta.grad.shape == a.shape
        if np.all(np.isfinite(aa)) and np.all(np.isfinite(bb)) and np.all(np.abs(bb) > 1e-3):
            ones = np.ones(shape)
            with np.errstate(all="ignore"):
                d = {"+": ones, "*": ones * bb, "/": ones / bb.astype(np.float64),
                     "-": ones if a_left else -ones}[op]
            if not (op == "/" and not a_left):
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
    try:  # torch.matmul's rules are numpy's (vectors, broadcast batch dims)
        expected = np.matmul(a.astype(np.float64), b.astype(np.float64))
    except ValueError:
        assert isinstance(exc, ValueError), f"{a_shape} @ {b_shape}: got {exc!r}"
        return
    assert exc is None, f"unexpected {type(exc).__name__}: {exc}"
    assert result.shape == expected.shape
    if extreme and len(b_shape) == 2:  # NaN in a[0, 0] makes the first row of the result NaN
        assert expected.size == 0 or np.isnan(as64(result).reshape(-1, b_shape[1])[0]).all()
    if extreme:
        return
    assert_matches(result, expected, dtype, tol=1e-4 if dtype == np.float32 else 1e-10)
    if requires_grad and len(b_shape) == 2:
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
    if not is_float and name == "mean":  # torch: mean needs a float tensor
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
    if not is_float:  # integer sums are exact int64 sums (wrapping), as torch's
        expected = np.sum(a, axis=np_axis, keepdims=keepdims, dtype=np.int64)
        assert result.dtype == "int64" and result.shape == np.shape(expected)
        np.testing.assert_array_equal(np.asarray(result), expected)
        return
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
        try:  # each sample must fit the target, even in an empty batch (as Keras checks)
            np.empty(a.shape[1:], np.int8).reshape(target)
        except ValueError:
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
    try:  # numpy's rules (torch's): any key numpy takes, the same elements
        if isinstance(key, str):
            raise IndexError("strings are not indices")
        if isinstance(key, np.ndarray) and key.dtype == np.uint64:
            key = key.astype(object)  # numpy refuses uint64 indices above 2^63 only by luck
            if any(k >= (a.shape[0] if a.ndim else 1) for k in key):
                raise IndexError("out of range")
            key = key.astype(np.int64)
        expected = a[key]
        positions = np.arange(a.size).reshape(a.shape)[key]
    except (IndexError, ValueError, TypeError) as ref_exc:
        assert exc is not None, f"numpy raised {ref_exc!r}, fastnn returned {result!r}"
        return
    assert exc is None, f"unexpected {type(exc).__name__}: {exc}"
    np.testing.assert_array_equal(np.asarray(result), expected)
    if requires_grad and result.numel():
        result.sum().backward()
        counts = np.zeros(a.size)
        np.add.at(counts, np.ravel(positions), 1.0)
        np.testing.assert_array_equal(np.asarray(t.grad), counts.reshape(a.shape))


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


export_properties(globals())
