"""Strided selections (the kernels behind permute, stepped slices, expand and their
gradients) against numpy's own strided views, bit for bit, on random layouts: random shapes
with size-1 axes, random axis orders, steps of either sign, repeated (stride 0) axes, and
the shapes the fast paths take (foldable neighbours, tiled 2-D transposes of odd sizes)."""

import numpy as np
import pytest

import fastnn as fn
from fastnn import _C

DTYPES = [np.float32, np.float64, np.int64, np.bool_]


def _values(rng, shape, dtype):
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    return (rng.standard_normal(shape) * 100).astype(dtype)


def _layout(view, base):
    """(shape, element strides, element offset) of a numpy view of the contiguous `base`."""
    item = base.itemsize
    offset = (view.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // item
    return list(view.shape), [s // item for s in view.strides], offset


def _random_view(rng, base, repeats):
    """A random selection of `base`: its axes reordered, each sliced with a random step
    (either sign), and, where `repeats`, a size-1 axis expanded (stride 0)."""
    view = base.transpose(rng.permutation(base.ndim))
    index = []
    for n in view.shape:
        step = int(rng.choice([1, 1, 2, 3, -1, -2]))
        start = int(rng.integers(0, n)) if step < 0 else int(rng.integers(0, max(1, n // 3)))
        index.append(slice(start, None, step))
    view = view[tuple(index)]
    if repeats:
        axis = int(rng.integers(0, view.ndim + 1))
        view = np.expand_dims(view, axis)
        shape = list(view.shape)
        shape[axis] = int(rng.integers(2, 4))
        view = np.broadcast_to(view, shape)
    return view


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_random_selections_copy_exactly(dtype):
    rng = np.random.default_rng()
    for trial in range(60):
        shape = [int(n) for n in rng.choice([1, 2, 3, 4, 5, 8, 9, 17], rng.integers(1, 6))]
        base = _values(rng, shape, dtype)
        view = _random_view(rng, base, repeats=trial % 3 == 0)
        got = _C.strided(fn.from_numpy(base), *_layout(view, base)).numpy()
        np.testing.assert_array_equal(got, view, err_msg=f"base {shape}, view "
                                      f"{view.shape} strides {view.strides}")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape,order", [
    ((3, 4, 4, 20), (0, 3, 1, 2)),   # NHWC -> NCHW of a small image: folds to a transpose
    ((3, 20, 4, 4), (0, 2, 3, 1)),   # and back
    ((5, 5, 10, 20), (3, 2, 0, 1)),  # a Keras kernel as PyTorch's
    ((20, 10, 5, 5), (2, 3, 1, 0)),
    ((2, 1, 9, 1, 13), (0, 4, 2, 3, 1)),
    ((7, 33, 19), (0, 2, 1)),        # tiles and odd edges
    ((1, 8, 1, 8), (3, 2, 1, 0)),
    ((64, 1, 1, 7), (0, 3, 1, 2)),
])
def test_permutes_and_their_gradients(dtype, shape, order):
    rng = np.random.default_rng()
    base = _values(rng, shape, dtype)
    got = fn.from_numpy(base).permute(*order).numpy()
    np.testing.assert_array_equal(got, base.transpose(order))
    if dtype in (np.float32, np.float64):
        x = fn.tensor(base, dtype=base.dtype.name, requires_grad=True)
        gy = _values(rng, base.transpose(order).shape, dtype)
        (x.permute(*order) * fn.from_numpy(gy)).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), gy.transpose(np.argsort(order)))


def test_selection_gradients_scatter_and_sum_repeats():
    """The gradient of a selection puts each element's gradient where it was read, summed
    over repeated reads (an expanded axis), zero elsewhere."""
    rng = np.random.default_rng()
    for trial in range(40):
        shape = [int(n) for n in rng.choice([1, 2, 3, 5, 8, 9], rng.integers(1, 5))]
        base = rng.standard_normal(shape)
        view = _random_view(rng, base, repeats=trial % 2 == 0)
        gy = rng.standard_normal(view.shape)
        x = fn.tensor(base, dtype=base.dtype.name, requires_grad=True)
        (_C.strided(x, *_layout(view, base)) * fn.from_numpy(gy)).sum().backward()
        # numpy's reference: accumulate gy at the flat positions the view reads.
        flat = np.zeros(base.size)
        positions = _layout_positions(*_layout(view, base))
        np.add.at(flat, positions.ravel(), gy.ravel())
        np.testing.assert_allclose(x.grad.numpy().ravel(), flat, rtol=1e-12, atol=1e-12)


def _layout_positions(shape, strides, offset):
    grids = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    return offset + sum(g * s for g, s in zip(grids, strides)) if shape else np.array(offset)


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_],
                         ids=lambda d: np.dtype(d).name)
def test_writes_through_a_selection(dtype):
    """x[view] = values (strided_put, out of place, and strided_write_, in place) write the
    selected positions and nothing else."""
    rng = np.random.default_rng()
    for _ in range(30):
        shape = [int(n) for n in rng.choice([1, 2, 3, 4, 8, 9], rng.integers(1, 5))]
        base = _values(rng, shape, dtype)
        view = _random_view(rng, base, repeats=False)
        values = _values(rng, view.shape, dtype)
        want = base.copy()
        want_view = np.lib.stride_tricks.as_strided(
            want.ravel()[_layout(view, base)[2]:], view.shape, view.strides)
        want_view[...] = values
        layout = _layout(view, base)
        put = _C.strided_put(fn.from_numpy(base), *layout, fn.from_numpy(values)).numpy()
        np.testing.assert_array_equal(put, want)
        x = fn.from_numpy(base.copy())
        _C.strided_write_(x, *layout, fn.from_numpy(values))
        np.testing.assert_array_equal(x.numpy(), want)
