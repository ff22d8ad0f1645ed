"""fastnn.utils.data (PyTorch's torch.utils.data): datasets, samplers, default_collate, the
DataLoader over any map-style dataset, random_split, and fit/evaluate/predict on a
DataLoader. torch.utils.data is the oracle where installed."""

from __future__ import annotations

import collections
import warnings

import numpy as np
import pytest

import fastnn as fn
from fastnn import layers, losses
from fastnn.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset,
                               IterableDataset, RandomSampler, SequentialSampler, Subset,
                               TensorDataset, default_collate, default_convert, random_split)

Point = collections.namedtuple("Point", ["a", "b"])


def _np(value):
    """A fastnn or torch tensor, or a structure of them, as numpy (for comparisons)."""
    if isinstance(value, fn.Tensor):
        return np.asarray(value)
    if hasattr(value, "detach"):
        return value.detach().numpy()
    if isinstance(value, dict):
        return {k: _np(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_np(v) for v in value) if not hasattr(value, "_fields") else \
            type(value)(*(_np(v) for v in value))
    return value


def _same(ours, theirs):
    """Same structure (containers and their types), values and dtypes; tensors on both
    sides."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict) and list(ours) == list(theirs)
        for k in theirs:
            _same(ours[k], theirs[k])
        return
    if isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs), (type(ours), type(theirs))
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
        return
    if isinstance(theirs, (str, bytes)):
        assert ours == theirs
        return
    assert isinstance(ours, fn.Tensor), type(ours)
    a, b = _np(ours), _np(theirs)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    assert a.shape == b.shape
    np.testing.assert_array_equal(a, b)


def _data(n, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3, 2)).astype(np.float32), rng.integers(0, 5, n)


class PairsDataset(Dataset):
    """A map-style dataset returning numpy rows and Python numbers: the generic path."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __getitem__(self, i):
        return self.x[i], int(self.y[i]), float(self.y[i]) / 2

    def __len__(self):
        return len(self.x)


def test_package_layout_keeps_utils():
    import fastnn.utils as utils
    from fastnn.utils.data import DataLoader as Loader

    assert utils.__all__ == ["to_categorical", "set_random_seed", "pad_sequences"]
    assert fn.utils.data.DataLoader is Loader  # torch.utils.data.DataLoader's spelling
    np.testing.assert_array_equal(fn.utils.to_categorical([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    assert fn.utils.pad_sequences([[1], [2, 3]]).shape == (2, 2)


def test_tensor_dataset_matches_torch():
    torch = pytest.importorskip("torch")
    x, y = _data(11, 1)
    ours = TensorDataset(fn.tensor(x), y)            # a tensor and a numpy int64 array
    theirs = torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y))
    assert len(ours) == len(theirs) == 11
    for i in (0, 4, 10, -1):
        _same(ours[i], theirs[i])
    assert TensorDataset(np.zeros(3, np.float64)).tensors[0].dtype == "float64"
    assert TensorDataset(np.zeros(3, np.int32)).tensors[0].dtype == "int32"
    with pytest.raises(ValueError, match="TensorDataset: size mismatch.*\\[11, 10\\]"):
        TensorDataset(x, y[:10])
    with pytest.raises(TypeError, match="TensorDataset.*tensors\\[1\\].*<U1"):
        TensorDataset(x, np.array(["a"] * 11))


@pytest.mark.parametrize("n,batch_size,drop_last", [(23, 5, False), (23, 5, True),
                                                    (23, 1, False), (23, 23, False),
                                                    (7, 30, False), (7, 30, True)])
def test_batches_match_torch_in_order(n, batch_size, drop_last):
    torch = pytest.importorskip("torch")
    x, y = _data(n, n + batch_size)
    order = list(np.random.default_rng(batch_size).permutation(n))  # the same index order
    cases = [
        (TensorDataset(x, y), torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y))),
        (PairsDataset(x, y), PairsDataset(x, y)),  # numpy rows and Python numbers
    ]
    for ours_ds, theirs_ds in cases:
        for kwargs in ({}, {"sampler": order}):
            ours = list(DataLoader(ours_ds, batch_size=batch_size, drop_last=drop_last, **kwargs))
            theirs = list(torch.utils.data.DataLoader(theirs_ds, batch_size=batch_size,
                                                      drop_last=drop_last, **kwargs))
            assert len(ours) == len(theirs) == len(DataLoader(ours_ds, batch_size=batch_size,
                                                              drop_last=drop_last))
            for a, b in zip(ours, theirs):
                _same(a, b)


def test_batch_sampler_and_no_batching_match_torch():
    torch = pytest.importorskip("torch")
    x, y = _data(9, 3)
    groups = [[4, 0], [8, 1, 2, 7], [3]]
    ours = list(DataLoader(TensorDataset(x, y), batch_sampler=groups))
    theirs = list(torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)), batch_sampler=groups))
    for a, b in zip(ours, theirs):
        _same(a, b)
    # batch_size=None: single samples, numpy converted, Python numbers left as they are
    ours = list(DataLoader(PairsDataset(x, y), batch_size=None))
    theirs = list(torch.utils.data.DataLoader(PairsDataset(x, y), batch_size=None))
    assert len(ours) == 9
    for a, b in zip(ours, theirs):
        _same(a[0], b[0])
        assert a[1:] == b[1:]


def _collate_cases():
    rng = np.random.default_rng(7)
    f32, f64 = rng.random((3, 2)).astype(np.float32), rng.random(3)
    return [
        [1.5, 2.0, -3.25],                                  # Python floats -> float64
        [1, 2, 3],                                          # ints -> int64
        [np.float32(1.5), np.float32(2)],                   # numpy scalars keep their dtype
        [np.int32(4), np.int32(-1)],
        [np.float64(0.5), np.float64(2)],
        list(f32),                                          # numpy arrays keep theirs
        list(f64),
        [np.arange(4, dtype=np.int32), np.arange(4, dtype=np.int32)],
        [np.arange(3), np.arange(3)],
        [(f32[0], 1), (f32[1], 2)],                         # tuples -> lists
        [[1.0, 2], [3.0, 4]],                               # lists -> lists
        [{"x": f32[0], "n": 3, "name": "a"}, {"x": f32[1], "n": 4, "name": "b"}],
        [Point(1.0, f64[:2]), Point(2.0, f64[1:])],         # namedtuples stay namedtuples
        [("s", b"t"), ("u", b"v")],                         # str/bytes stay lists
    ]


def test_default_collate_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate

    for batch in _collate_cases():
        _same(default_collate(batch), torch_collate(batch))
    # fastnn tensors are stacked as torch.stack would (torch tensors on torch's side)
    rows = np.random.default_rng(2).random((5, 2, 3))
    ours = default_collate([fn.tensor(r, dtype="float64") for r in rows])
    _same(ours, torch_collate([torch.tensor(r) for r in rows]))
    ours = default_collate([(fn.tensor(r[0]), fn.tensor(np.int64(i))) for i, r in enumerate(rows)])
    _same(ours, torch_collate([(torch.tensor(r[0], dtype=torch.float32), torch.tensor(i))
                              for i, r in enumerate(rows)]))
    # and what default_convert does to one sample (batch_size=None)
    from torch.utils.data import default_convert as torch_convert

    sample = (rows[0], 3, 1.5, {"k": np.float32(2)})
    ours, theirs = default_convert(sample), torch_convert(sample)
    _same(ours[0], theirs[0])
    assert ours[1:3] == theirs[1:3]
    _same(ours[3], theirs[3])


def test_default_collate_errors():
    with pytest.raises(ValueError, match="default_collate: stack expects each tensor to be "
                                         "equal size.*\\[2\\] at entry 0.*\\[3\\] at entry 1"):
        default_collate([fn.tensor(np.zeros(2)), fn.tensor(np.zeros(3))])
    with pytest.raises(ValueError, match="equal size"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(ValueError, match="each element in list of batch should be of equal"):
        default_collate([(1, 2), (1, 2, 3)])
    with pytest.raises(TypeError, match="default_collate.*found <class 'object'>"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="default_collate.*dtype <U1"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_shuffle_draws_a_new_permutation_each_epoch_from_fastnns_generator():
    x, y = _data(31, 4)
    loader = DataLoader(TensorDataset(x, np.arange(31)), batch_size=4, shuffle=True)
    assert len(loader) == 8

    def epoch():
        labels = [np.asarray(yb) for _, yb in loader]
        assert [len(b) for b in labels] == [4] * 7 + [3]
        return np.concatenate(labels)

    fn.manual_seed(5)
    first, second = epoch(), epoch()
    assert sorted(first) == list(range(31)) and sorted(second) == list(range(31))
    assert not np.array_equal(first, second)
    fn.manual_seed(5)
    np.testing.assert_array_equal(epoch(), first)  # manual_seed fixes the order
    # the rows follow their labels
    fn.manual_seed(6)
    for xb, yb in loader:
        np.testing.assert_array_equal(np.asarray(xb), x[np.asarray(yb)])
    dropped = DataLoader(TensorDataset(x), batch_size=4, shuffle=True, drop_last=True)
    assert len(dropped) == 7 and [len(b[0]) for b in dropped] == [4] * 7


def test_samplers():
    data = list(range(10))
    assert list(SequentialSampler(data)) == data
    fn.manual_seed(1)
    a = list(RandomSampler(data))
    assert sorted(a) == data
    fn.manual_seed(1)
    assert list(RandomSampler(data)) == a
    drawn = list(RandomSampler(data, replacement=True, num_samples=500))
    assert len(drawn) == 500 and set(drawn) == set(data)  # 500 draws cover 10 values
    longer = list(RandomSampler(data, num_samples=25))
    assert sorted(longer[:10]) == data and sorted(longer[10:20]) == data and len(longer) == 25
    assert list(BatchSampler(range(7), 3, False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(BatchSampler(range(7), 3, True)) == 2
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(3)
    first = list(RandomSampler(data, generator=g))
    assert list(RandomSampler(data, generator=g)) != first  # the stream advances
    assert list(RandomSampler(data, generator=torch.Generator().manual_seed(3))) == first


@pytest.mark.parametrize("n,lengths", [(10, [0.33, 0.33, 0.34]), (7, [0.5, 0.5]),
                                       (23, [0.1] * 10), (9, [0.8, 0.2]), (13, [5, 8]),
                                       (5, [0, 5]), (3, [0.25, 0.25, 0.25, 0.25])])
def test_random_split_lengths_match_torch(n, lengths):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings(record=True) as ours_warned:
        warnings.simplefilter("always")
        ours = random_split(list(range(n)), lengths)
    with warnings.catch_warnings(record=True) as theirs_warned:
        warnings.simplefilter("always")
        theirs = torch.utils.data.random_split(list(range(n)), lengths)
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert len(ours_warned) == len(theirs_warned)  # "Length of split at index i is 0"
    together = [s[i] for s in ours for i in range(len(s))]
    assert sorted(together) == list(range(n))


def test_random_split_order_and_errors():
    fn.manual_seed(2)
    a = [list(s.indices) for s in random_split(range(20), [0.5, 0.5])]
    fn.manual_seed(2)
    assert [list(s.indices) for s in random_split(range(20), [10, 10])] == a
    assert a[0] + a[1] != list(range(20))
    with pytest.raises(ValueError, match="random_split: sum of input lengths \\(9\\) does not "
                                         "equal the length of the input dataset \\(10\\)"):
        random_split(range(10), [4, 5])
    with pytest.raises(ValueError, match="random_split: fraction at index 0 .* 1: 1.5"):
        random_split(range(10), [1.5, -0.5])
    torch = pytest.importorskip("torch")
    split = [list(s.indices) for s in random_split(
        range(20), [0.5, 0.5], generator=torch.Generator().manual_seed(42))]
    again = [list(s.indices) for s in random_split(
        range(20), [0.5, 0.5], generator=torch.Generator().manual_seed(42))]
    assert split == again
    with pytest.raises(TypeError, match="random_split: expected generator.*initial_seed"):
        random_split(range(10), [5, 5], generator=42)


def test_subsets_and_concat_gather_what_the_samples_hold():
    x, y = _data(17, 8)

    class Plain(TensorDataset):  # a subclass: the generic path (per-sample __getitem__)
        pass

    fast, slow = TensorDataset(x, y), Plain(x, y)
    fn.manual_seed(0)
    train, val = random_split(fast, [0.7, 0.3])
    nested = Subset(train, [5, -1, 0, 2])
    for ds, ref in ((train, Subset(slow, train.indices)), (val, Subset(slow, val.indices)),
                    (nested, Subset(Subset(slow, train.indices), [5, -1, 0, 2]))):
        for a, b in zip(DataLoader(ds, batch_size=3), DataLoader(ref, batch_size=3)):
            _same(a, b)
    both = fast + Plain(x[:4], y[:4])
    assert isinstance(both, ConcatDataset) and len(both) == 21
    _same(list(both[-1]), [fn.tensor(x[3]), fn.tensor(y[3])])
    batches = list(DataLoader(both, batch_size=21))
    np.testing.assert_array_equal(np.asarray(batches[0][1]), np.concatenate([y, y[:4]]))


def test_iterable_dataset_matches_torch():
    torch = pytest.importorskip("torch")

    def stream(base):
        class Stream(base):
            def __iter__(self):
                return iter([(np.full(2, i, np.float32), i) for i in range(7)])
        return Stream()

    for drop_last in (False, True):
        ours = list(DataLoader(stream(IterableDataset), batch_size=3, drop_last=drop_last))
        theirs = list(torch.utils.data.DataLoader(stream(torch.utils.data.IterableDataset),
                                                  batch_size=3, drop_last=drop_last))
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
    with pytest.raises(ValueError, match="IterableDataset: expected unspecified shuffle"):
        DataLoader(stream(IterableDataset), shuffle=True)


def test_loader_argument_errors():
    ds = TensorDataset(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="DataLoader: batch_size should be a positive integer"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_size=2, batch_sampler=[[0, 1]])
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(TypeError, match="DataLoader: expected a map-style dataset.*got int"):
        DataLoader(5)
    with pytest.raises(TypeError, match="DataLoader: expected collate_fn to be callable"):
        DataLoader(ds, collate_fn=3)
    with pytest.raises(IndexError, match="DataLoader: index 9 is out of range for a dataset "
                                         "of 4 samples"):
        list(DataLoader(ds, sampler=[0, 9]))
    loader = DataLoader(ds, batch_size=3, num_workers=2, pin_memory=True)  # run in-process
    assert loader.dataset is ds and len(loader) == 2 and len(list(loader)) == 2
    custom = DataLoader(ds, batch_size=3, collate_fn=lambda samples: len(samples))
    assert list(custom) == [3, 1]


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
    x = rng.standard_normal((n, 6)).astype(np.float32)
    y = np.argmax(x[:, :4] + 0.3 * x[:, 2:], axis=1)
    return x, y


def test_fit_on_a_loader_equals_fit_on_arrays_in_the_same_order():
    x, y = _task(101, 0)
    on_arrays, on_loader = _model(3), _model(3)
    h1 = on_arrays.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    h2 = on_loader.fit(loader, epochs=3, verbose=0)
    np.testing.assert_allclose(h2.history["loss"], h1.history["loss"], rtol=1e-6)
    for a, b in zip(on_loader.get_weights(), on_arrays.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert h2.history["loss"][-1] < h2.history["loss"][0]
    np.testing.assert_allclose(on_loader.evaluate(loader), on_arrays.evaluate(x, y), rtol=1e-6)
    np.testing.assert_allclose(on_loader.predict(loader), on_arrays.predict(x), rtol=1e-6)
    # a generic dataset of numpy rows and Python ints trains the same way
    generic = DataLoader(PairsDataset(x, y), batch_size=16,
                         collate_fn=lambda s: default_collate([(a, b) for a, b, _ in s]))
    again = _model(3)
    h3 = again.fit(generic, epochs=3, verbose=0)
    np.testing.assert_allclose(h3.history["loss"], h1.history["loss"], rtol=1e-6)


def test_fit_on_a_shuffled_loader_learns_and_validates():
    x, y = _task(300, 1)
    model = _model(4)
    train, val = random_split(TensorDataset(x, y), [0.8, 0.2])
    h = model.fit(DataLoader(train, batch_size=32, shuffle=True), epochs=8, verbose=0,
                  validation_data=DataLoader(val, batch_size=64))
    assert h.history["loss"][-1] < 0.7 * h.history["loss"][0]
    assert h.history["val_accuracy"][-1] > 0.7


def test_pytorch_style_loop_over_a_loader():
    x, y = _task(200, 2)
    fn.manual_seed(0)
    model = fn.Sequential([layers.Dense(16, activation="relu"), layers.Dense(4)],
                          input_shape=(6,))
    opt = fn.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = losses.SparseCategoricalCrossentropy(from_logits=True)
    loader = DataLoader(TensorDataset(fn.tensor(x), fn.tensor(y)), batch_size=20, shuffle=True)
    means = []
    for _ in range(6):
        total = 0.0
        for inputs, targets in loader:
            assert inputs.dtype == "float32" and targets.dtype == "int64"
            loss = loss_fn(model(inputs, training=True), targets)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(inputs)
        means.append(total / len(loader.dataset))
    assert means[-1] < 0.7 * means[0]
