"""fn.data.Dataset (TensorFlow's tf.data.Dataset): element structures and dtypes, batch, map,
take/skip/repeat and cardinality, shuffle's buffer, and fit/evaluate/predict on datasets.
tf.data is the oracle where TensorFlow is installed."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import fastnn as fn
from fastnn import layers, losses

Dataset = fn.data.Dataset
Pair = collections.namedtuple("Pair", ["x", "y"])


@pytest.fixture(scope="module")
def tf():
    tf = pytest.importorskip("tensorflow")
    return tf


def _same_numpy(ours, theirs):
    """Elements from as_numpy_iterator: same structure, dtypes and values."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict) and sorted(ours) == sorted(theirs)
        for k in theirs:
            _same_numpy(ours[k], theirs[k])
        return
    if isinstance(theirs, tuple):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same_numpy(a, b)
        return
    a, b = np.asarray(ours), np.asarray(theirs)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    np.testing.assert_array_equal(a, b)


def _same_pipeline(ours, theirs):
    assert int(ours.cardinality()) == int(theirs.cardinality().numpy())
    a, b = list(ours.as_numpy_iterator()), list(theirs.as_numpy_iterator())
    assert len(a) == len(b)
    for x, y in zip(a, b):
        _same_numpy(x, y)


def _arrays(n, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3)), rng.integers(0, 4, n)


def _slice_cases():
    x, y = _arrays(7, 0)
    return [
        x,                                                  # float64 stays float64
        x.astype(np.float32),
        (x, y),
        {"features": x, "label": y},
        (x, {"k": y.astype(np.int32), "w": x[:, 0]}),
        Pair(x.astype(np.float32), y),
        [1.5, 2.0, 3.0],                                    # Python floats -> float32
        [[1, 2], [3, 4]],                                   # Python ints -> int32
        [x[0], x[1]],                                       # a list of arrays: one tensor
        ([1, 2], {"a": [1.0, 2.0]}),
    ]


@pytest.mark.parametrize("case", range(len(_slice_cases())))
def test_from_tensor_slices_matches_tf(tf, case):
    value = _slice_cases()[case]
    ours, theirs = Dataset.from_tensor_slices(value), tf.data.Dataset.from_tensor_slices(value)
    _same_pipeline(ours, theirs)
    # iteration hands out fastnn tensors in the element's structure
    first, expected = next(iter(ours)), next(theirs.as_numpy_iterator())
    _same_numpy(fn_to_numpy(first), expected)


def fn_to_numpy(element):
    if isinstance(element, fn.Tensor):
        return np.asarray(element)
    if isinstance(element, dict):
        return {k: fn_to_numpy(v) for k, v in element.items()}
    assert isinstance(element, tuple), type(element)
    items = [fn_to_numpy(v) for v in element]
    return type(element)(*items) if hasattr(element, "_fields") else tuple(items)


@pytest.mark.parametrize("n,size,drop", [(23, 5, False), (23, 5, True), (23, 23, False),
                                         (6, 9, False), (6, 9, True), (1, 1, False)])
def test_batch_matches_tf(tf, n, size, drop):
    x, y = _arrays(n, n + size)
    value = (x.astype(np.float32), {"label": y})
    for make in (lambda d: d, lambda d: d.map(lambda a, b: (a, b))):  # gathered or stacked
        ours = make(Dataset.from_tensor_slices(value)).batch(size, drop_remainder=drop)
        theirs = make(tf.data.Dataset.from_tensor_slices(value)).batch(size, drop_remainder=drop)
        _same_pipeline(ours, theirs)
        for xb, yb in ours:
            assert isinstance(xb, fn.Tensor) and isinstance(yb["label"], fn.Tensor)


def test_map_matches_tf(tf):
    x, y = _arrays(9, 1)
    x = x.astype(np.float32)
    pipelines = [
        lambda D: D.from_tensor_slices((x, y)).map(lambda a, b: (a * 2.0 + 1.0, b)),
        lambda D: D.from_tensor_slices({"a": x, "b": y}).map(lambda e: e["a"] / 4.0),
        lambda D: D.from_tensor_slices(x).batch(4).map(lambda a: (a - 1.0, a)),
        lambda D: D.from_tensor_slices(x).map(lambda a: [a, 1.5, 2, 3.0]),  # list -> tuple
        lambda D: D.from_tensor_slices((x, y)).map(lambda a, b: {"x": a, "n": 7}).batch(2),
        lambda D: D.range(4).map(lambda i: (i, np.float64(0.5))),
    ]
    for make in pipelines:
        _same_pipeline(make(Dataset), make(tf.data.Dataset))


def test_take_skip_repeat_and_friends_match_tf(tf):
    x, y = _arrays(5, 2)
    pipelines = [
        lambda D: D.range(7).take(3), lambda D: D.range(7).take(-1),
        lambda D: D.range(7).take(20), lambda D: D.range(7).skip(2),
        lambda D: D.range(7).skip(-1), lambda D: D.range(7).skip(9),
        lambda D: D.range(3).repeat(3), lambda D: D.range(3).repeat(0),
        lambda D: D.range(3).repeat().take(10), lambda D: D.range(0).repeat(),
        lambda D: D.range(5).batch(2).repeat(2).skip(1),
        lambda D: D.range(2, 11, 3), lambda D: D.range(10, 2, -2),
        lambda D: D.from_tensor_slices((x, y)).skip(1).take(3).batch(2),
        lambda D: D.from_tensor_slices(x).batch(2).unbatch(),
        lambda D: D.range(4).concatenate(D.range(2)),
        lambda D: D.zip(D.range(3), D.from_tensor_slices(x)),
        lambda D: D.zip((D.range(6), D.range(3).repeat())),
        lambda D: D.zip({"a": D.range(3), "b": D.range(4)}),
        lambda D: D.from_tensor_slices(y).enumerate(5),
        lambda D: D.from_tensors((x, 3.0)),
        lambda D: D.from_tensor_slices(x).prefetch(2), lambda D: D.range(3).prefetch(-1),
    ]
    for make in pipelines:
        ours, theirs = make(Dataset), make(tf.data.Dataset)
        if int(ours.cardinality()) == fn.data.INFINITE_CARDINALITY:
            assert int(theirs.cardinality().numpy()) == -1
            continue
        _same_pipeline(ours, theirs)
    for make in (lambda D: D.range(3).repeat(), lambda D: D.range(3).repeat().batch(2)):
        assert int(make(Dataset).cardinality()) == int(make(tf.data.Dataset).cardinality()) == -1
    assert fn.data.AUTOTUNE == tf.data.AUTOTUNE == fn.data.experimental.AUTOTUNE
    assert fn.data.UNKNOWN_CARDINALITY == tf.data.UNKNOWN_CARDINALITY


def test_len_and_cardinality():
    ds = Dataset.range(10).batch(3)
    assert len(ds) == 4 and ds.cardinality() == 4 and ds.cardinality().numpy() == 4
    with pytest.raises(TypeError, match="The dataset is infinite."):
        len(ds.repeat())
    filtered = Dataset.range(10).filter(lambda i: i.item() % 3 == 0)
    with pytest.raises(TypeError, match="The dataset length is unknown."):
        len(filtered)
    assert filtered.cardinality() == fn.data.UNKNOWN_CARDINALITY
    assert [int(v) for v in filtered] == [0, 3, 6, 9]
    assert bool(ds.repeat())


def test_shuffle_with_a_full_buffer_is_a_new_permutation_each_iteration():
    x, y = _arrays(50, 3)
    ds = Dataset.from_tensor_slices((x, y)).shuffle(50)
    fn.manual_seed(4)
    orders = []
    for _ in range(3):
        rows = [(np.asarray(a), int(b)) for a, b in ds]
        index = [int(np.flatnonzero((x == r).all(axis=1))[0]) for r, _ in rows]
        assert sorted(index) == list(range(50))
        assert [b for _, b in rows] == [int(y[i]) for i in index]  # rows stay paired
        orders.append(index)
    assert orders[0] != orders[1] != orders[2]
    fn.manual_seed(4)
    assert [int(np.flatnonzero((x == np.asarray(a)).all(axis=1))[0]) for a, _ in ds] == orders[0]
    fixed = Dataset.range(30).shuffle(100, reshuffle_each_iteration=False)
    once = list(fixed.as_numpy_iterator())
    assert list(fixed.as_numpy_iterator()) == once and sorted(once) == list(range(30))
    seeded = [list(Dataset.range(30).shuffle(30, seed=7).as_numpy_iterator()) for _ in range(2)]
    fn.manual_seed(99)
    assert list(Dataset.range(30).shuffle(30, seed=7).as_numpy_iterator()) == seeded[0]
    twice = Dataset.range(30).shuffle(30, seed=7)
    assert list(twice.as_numpy_iterator()) != list(twice.as_numpy_iterator())
    # shuffle().repeat() reshuffles each repetition, as in TensorFlow
    epochs = list(Dataset.range(20).shuffle(20).repeat(2).as_numpy_iterator())
    assert sorted(epochs[:20]) == sorted(epochs[20:]) == list(range(20))
    assert epochs[:20] != epochs[20:]


def _check_buffer_property(order, buffer_size):
    """What a shuffle buffer of this size allows: output i is one of inputs 0..i+b-1."""
    assert sorted(order) == list(range(len(order)))
    for i, v in enumerate(order):
        assert v <= i + buffer_size - 1, (i, v, buffer_size)


def test_shuffle_buffer_semantics_as_tf(tf):
    n = 200
    for b in (1, 2, 10, 64):
        fn.manual_seed(b)
        ours = [int(v) for v in Dataset.range(n).shuffle(b).as_numpy_iterator()]
        theirs = [int(v) for v in tf.data.Dataset.range(n).shuffle(b).as_numpy_iterator()]
        _check_buffer_property(ours, b)
        _check_buffer_property(theirs, b)
        if b == 1:
            assert ours == theirs == list(range(n))
        else:
            assert ours != list(range(n))
    # a small buffer only mixes nearby elements: the mean displacement stays near the
    # buffer size, far below a full shuffle's ~n/3
    ours = np.array([int(v) for v in Dataset.range(n).shuffle(10).as_numpy_iterator()])
    assert np.abs(ours - np.arange(n)).mean() < 20
    full = np.array([int(v) for v in Dataset.range(n).shuffle(n).as_numpy_iterator()])
    assert np.abs(full - np.arange(n)).mean() > 40


def test_map_receives_tensors_and_cache_runs_upstream_once():
    calls = []

    def double(a, b):
        calls.append(1)
        assert isinstance(a, fn.Tensor) and isinstance(b, fn.Tensor)
        return a * 2.0, b

    x, y = _arrays(6, 5)
    ds = Dataset.from_tensor_slices((x.astype(np.float32), y)).map(double).cache()
    first = [np.asarray(a) for a, _ in ds]
    second = [np.asarray(a) for a, _ in ds]
    assert len(calls) == 6
    np.testing.assert_allclose(np.stack(first), 2 * x.astype(np.float32))
    np.testing.assert_array_equal(np.stack(first), np.stack(second))
    gen = Dataset.from_generator(lambda: ((np.full(2, i, np.float32), i) for i in range(4)))
    assert [int(b) for _, b in gen] == [0, 1, 2, 3] == [int(b) for _, b in gen]
    assert gen.cardinality() == fn.data.UNKNOWN_CARDINALITY


def test_bad_input_errors():
    x, y = _arrays(4, 6)
    with pytest.raises(ValueError, match="from_tensor_slices: every component must have the "
                                         "same first dimension, got sizes \\[4, 3\\]"):
        Dataset.from_tensor_slices((x, y[:3]))
    with pytest.raises(ValueError, match="from_tensor_slices: .*at least one dimension"):
        Dataset.from_tensor_slices(np.float64(3))
    with pytest.raises(TypeError, match="from_tensor_slices: fastnn datasets hold numbers"):
        Dataset.from_tensor_slices(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="Dataset.batch: expected batch_size to be a positive "
                                         "integer, got 0"):
        Dataset.range(3).batch(0)
    with pytest.raises(ValueError, match="Dataset.shuffle: expected buffer_size"):
        Dataset.range(3).shuffle(0)
    ragged = Dataset.from_generator(lambda: (np.zeros(i + 1) for i in range(3))).batch(3)
    with pytest.raises(ValueError, match="Dataset.batch: cannot batch tensors with different "
                                         "shapes in component 0"):
        list(ragged)
    with pytest.raises(TypeError, match="Dataset.map: expected map_func to be callable"):
        Dataset.range(3).map(3)
    with pytest.raises(TypeError, match="from_tensor_slices: expected tensors, numpy arrays "
                                        "or numbers.*got object"):
        Dataset.from_tensor_slices((x, object()))

    class Column:  # what pandas gives: an object with __array__
        def __array__(self, dtype=None, copy=None):
            return y

    assert [int(v) for v in Dataset.from_tensor_slices(Column())] == list(y)


def _model(seed):
    fn.manual_seed(seed)
    model = fn.Sequential([layers.Dense(16, activation="relu"), layers.Dense(4)],
                          input_shape=(6,))
    model.compile(optimizer=fn.optimizers.SGD(learning_rate=0.1),
                  loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def _task(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6))            # float64, as numpy makes it
    y = np.argmax(x[:, :4] + 0.3 * x[:, 2:], axis=1)
    return x, y


def test_fit_on_a_dataset_equals_fit_on_arrays_in_the_same_order():
    x, y = _task(101, 0)
    on_arrays, on_dataset = _model(3), _model(3)
    h1 = on_arrays.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    ds = Dataset.from_tensor_slices((x, y)).batch(16)
    h2 = on_dataset.fit(ds, epochs=3, verbose=0)
    np.testing.assert_allclose(h2.history["loss"], h1.history["loss"], rtol=1e-6)
    for a, b in zip(on_dataset.get_weights(), on_arrays.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert h2.history["loss"][-1] < h2.history["loss"][0]
    np.testing.assert_allclose(on_dataset.evaluate(ds), on_arrays.evaluate(x, y), rtol=1e-6)
    np.testing.assert_allclose(on_dataset.predict(ds), on_arrays.predict(x), rtol=1e-6)
    np.testing.assert_allclose(on_dataset.predict(Dataset.from_tensor_slices(x).batch(7)),
                               on_arrays.predict(x), rtol=1e-6)


def test_fit_on_a_shuffled_dataset_learns_with_validation_data():
    x, y = _task(300, 1)
    model = _model(4)
    train = Dataset.from_tensor_slices((x[:240], y[:240])).shuffle(1000).batch(32)
    val = Dataset.from_tensor_slices((x[240:], y[240:])).batch(32).prefetch(fn.data.AUTOTUNE)
    h = model.fit(train, epochs=8, validation_data=val, verbose=0)
    assert h.history["loss"][-1] < 0.7 * h.history["loss"][0]
    assert h.history["val_accuracy"][-1] > 0.7
    weighted = Dataset.from_tensor_slices((x, y, np.ones(len(x)))).batch(50)
    assert np.isfinite(model.fit(weighted, epochs=1, verbose=0).history["loss"][0])


def test_fit_errors_and_steps_per_epoch_go_on_where_the_last_epoch_stopped():
    x, y = _task(50, 2)
    model = _model(5)
    with pytest.raises(ValueError, match="fit: the Dataset yields single samples, not "
                                         "batches; call .batch\\(batch_size\\)"):
        model.fit(Dataset.from_tensor_slices((x, y)), verbose=0)
    with pytest.raises(ValueError, match="fit: the Dataset is infinite"):
        model.fit(Dataset.from_tensor_slices((x, y)).batch(10).repeat(), verbose=0)
    seen = []

    def record(xb, yb):
        seen.append(batch_of(np.asarray(xb)))
        return xb, yb

    def batch_of(xb):
        return int(np.flatnonzero((x == xb[0]).all(axis=1))[0]) // 10

    ds = Dataset.from_tensor_slices((x, y)).batch(10).map(record)   # 5 batches
    model.fit(ds, epochs=4, steps_per_epoch=2, verbose=0)
    # Keras's EpochIterator: [0, 1], [2, 3], [4] (the data ran out), then from the start
    assert seen == [0, 1, 2, 3, 4, 0, 1], seen
    seen.clear()
    model.fit(ds.repeat(), epochs=3, steps_per_epoch=3, verbose=0)
    assert seen == [0, 1, 2, 3, 4, 0, 1, 2, 3], seen
    seen.clear()
    model.evaluate(ds, steps=2)
    assert seen == [0, 1]


def test_a_custom_loop_over_a_dataset():
    x, y = _task(200, 3)
    fn.manual_seed(0)
    model = fn.Sequential([layers.Dense(16, activation="relu"), layers.Dense(4)],
                          input_shape=(6,))
    opt = fn.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = losses.SparseCategoricalCrossentropy(from_logits=True)
    ds = Dataset.from_tensor_slices((x.astype(np.float32), y)).shuffle(256).batch(20)
    means = []
    for _ in range(6):
        total = []
        for images, labels in ds:
            assert images.dtype == "float32" and labels.dtype == "int64"
            loss = loss_fn(model(images, training=True), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total.append(loss.item())
        means.append(np.mean(total))
    assert means[-1] < 0.7 * means[0]
