"""fastnn.nn's pooling, normalisation and dropout modules and their functional forms
against PyTorch (float64 values and input/parameter gradients, running statistics, reprs,
state_dict keys), their errors, and dropout's statistics (masks come from fastnn's own
generator, so they are checked by their rule, not against torch's bits)."""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastnn as fn  # noqa: E402
import fastnn.nn as nn  # noqa: E402
import fastnn.nn.functional as F  # noqa: E402

TF = torch.nn.functional
RTOL, ATOL = 1e-10, 1e-12


def pair(rng, shape, scale=1.0, shift=0.0):
    a = rng.standard_normal(shape) * scale + shift
    x = fn.from_numpy(a.copy())
    x.requires_grad = True
    return x, torch.tensor(a, requires_grad=True)


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), b.detach().numpy(), rtol=RTOL, atol=ATOL)


def check_both(rng, y, ty, x, tx):
    """Same output; the same random output gradient gives the same input gradient."""
    assert tuple(y.shape) == tuple(ty.shape)
    close(y.detach(), ty)
    g = rng.standard_normal(tuple(ty.shape))
    (y * fn.from_numpy(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    close(x.grad, tx.grad)


# --- max and average pooling --------------------------------------------------------------

POOL2D_CASES = [
    # kernel, stride, padding, ceil_mode, input (N, C, H, W); comments: the path taken
    (2, None, 0, False, (2, 3, 8, 6)),        # 'valid'
    (3, 2, 0, False, (2, 3, 9, 7)),           # 'valid', leftover rows dropped
    (3, 1, 1, False, (1, 2, 5, 6)),           # TensorFlow's 'same' windows
    (3, 2, 1, False, (2, 3, 8, 7)),           # padded by concatenation (H even)
    ((3, 2), (2, 1), (1, 1), False, (2, 2, 7, 6)),
    (2, 2, 0, True, (2, 3, 7, 5)),            # ceil_mode: a last, partial window
    (3, 2, 1, True, (1, 3, 8, 9)),            # ceil_mode and padding
    (4, 3, 2, True, (2, 2, 9, 10)),
    ((2, 4), (3, 2), (1, 2), True, (1, 3, 7, 8)),
]


@pytest.mark.parametrize("case", POOL2D_CASES)
def test_max_pool2d_matches_torch(case):
    k, s, p, ceil, shape = case
    rng = np.random.default_rng(sum(shape))
    x, tx = pair(rng, shape)
    mine = nn.MaxPool2d(k, s, p, ceil_mode=ceil)
    theirs = torch.nn.MaxPool2d(k, s, p, ceil_mode=ceil)
    assert repr(mine) == repr(theirs)
    check_both(rng, mine(x), theirs(tx), x, tx)


@pytest.mark.parametrize("case", POOL2D_CASES)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d_matches_torch(case, count_include_pad):
    k, s, p, ceil, shape = case
    rng = np.random.default_rng(sum(shape) + 1)
    x, tx = pair(rng, shape)
    kwargs = dict(ceil_mode=ceil, count_include_pad=count_include_pad)
    mine, theirs = nn.AvgPool2d(k, s, p, **kwargs), torch.nn.AvgPool2d(k, s, p, **kwargs)
    assert repr(mine) == repr(theirs)
    check_both(rng, mine(x), theirs(tx), x, tx)


@pytest.mark.parametrize("case", POOL2D_CASES[3:7])
def test_avg_pool2d_divisor_override_matches_torch(case):
    k, s, p, ceil, shape = case
    rng = np.random.default_rng(3)
    x, tx = pair(rng, shape)
    check_both(rng, F.avg_pool2d(x, k, s, p, ceil, True, 5),
               TF.avg_pool2d(tx, k, s, p, ceil, True, 5), x, tx)


POOL1D_CASES = [
    (2, None, 0, False, (2, 3, 9)),
    (3, 1, 1, False, (2, 2, 6)),
    (3, 2, 1, False, (1, 3, 10)),
    (4, 3, 2, True, (2, 2, 11)),
    (2, 2, 1, True, (3, 2, 6)),
]


@pytest.mark.parametrize("case", POOL1D_CASES)
def test_pool1d_matches_torch(case):
    k, s, p, ceil, shape = case
    rng = np.random.default_rng(sum(shape) + 2)
    x, tx = pair(rng, shape)
    mine = nn.MaxPool1d(k, s, p, ceil_mode=ceil)
    theirs = torch.nn.MaxPool1d(k, s, p, ceil_mode=ceil)
    assert repr(mine) == repr(theirs)
    check_both(rng, mine(x), theirs(tx), x, tx)
    for include in (True, False):
        x, tx = pair(rng, shape)
        mine = nn.AvgPool1d(k, s, p, ceil, include)
        theirs = torch.nn.AvgPool1d(k, s, p, ceil, include)
        assert repr(mine) == repr(theirs)
        check_both(rng, mine(x), theirs(tx), x, tx)
        x, tx = pair(rng, shape)
        check_both(rng, F.avg_pool1d(x, k, s, p, ceil, include),
                   TF.avg_pool1d(tx, k, s, p, ceil, include), x, tx)


def test_functional_pools_take_unbatched_inputs_and_torchs_argument_names():
    rng = np.random.default_rng(7)
    x, tx = pair(rng, (3, 7, 6))
    check_both(rng, F.max_pool2d(x, kernel_size=3, stride=2, padding=1, ceil_mode=True),
               TF.max_pool2d(tx, kernel_size=3, stride=2, padding=1, ceil_mode=True), x, tx)
    x, tx = pair(rng, (3, 7))
    check_both(rng, F.avg_pool1d(x, kernel_size=2, padding=1),
               TF.avg_pool1d(tx, kernel_size=2, padding=1), x, tx)


@pytest.mark.parametrize("call, error, words", [
    (lambda x: F.max_pool2d(x, 3, padding=2), ValueError, "at most half"),
    (lambda x: F.avg_pool2d(x, 2, stride=0), ValueError, "stride"),
    (lambda x: F.max_pool2d(x, 2, dilation=2), NotImplementedError, "dilation"),
    (lambda x: F.max_pool2d(x, 2, return_indices=True), NotImplementedError, "return_indices"),
    (lambda x: F.max_pool2d(x, 9), ValueError, "too small"),
    (lambda x: F.avg_pool2d(x, 2, divisor_override=0), ValueError, "divisor_override"),
    (lambda x: F.max_pool1d(x, 2), ValueError, "max_pool1d.*2D.*3D"),
    (lambda x: nn.MaxPool2d(2, padding=3), ValueError, "MaxPool2d.*at most half"),
    (lambda x: nn.AvgPool2d((2, 2, 2)), ValueError, "kernel_size"),
    (lambda x: nn.AdaptiveAvgPool2d((2, 0)), ValueError, "output_size"),
    (lambda x: nn.AdaptiveMaxPool2d(2, return_indices=True), NotImplementedError, "indices"),
])
def test_pool_errors(call, error, words):
    with pytest.raises(error, match=words):
        call(fn.zeros(1, 2, 5, 6, dtype=fn.float64))


# --- adaptive pooling ---------------------------------------------------------------------


@pytest.mark.parametrize("shape, output_size", [
    ((2, 3, 8, 6), (4, 3)),       # divides: one reshape and one reduction
    ((2, 3, 7, 5), 1),            # the global pool
    ((2, 3, 7, 5), (3, 2)),       # uneven windows on both axes
    ((1, 2, 9, 10), (4, 5)),      # uneven rows, even columns
    ((2, 2, 5, 6), (None, 4)),    # None keeps the input's size
    ((2, 2, 3, 4), (5, 7)),       # output larger than the input (overlapping windows)
    ((3, 5, 7), 3),               # unbatched
])
def test_adaptive_pool2d_matches_torch(shape, output_size):
    rng = np.random.default_rng(sum(shape))
    for name in ("AdaptiveAvgPool2d", "AdaptiveMaxPool2d"):
        x, tx = pair(rng, shape)
        mine, theirs = getattr(nn, name)(output_size), getattr(torch.nn, name)(output_size)
        assert repr(mine) == repr(theirs)
        check_both(rng, mine(x), theirs(tx), x, tx)


@pytest.mark.parametrize("length, out", [(8, 4), (9, 4), (5, 1), (3, 5), (7, None)])
def test_adaptive_pool1d_matches_torch(length, out):
    rng = np.random.default_rng(length)
    for name in ("adaptive_avg_pool1d", "adaptive_max_pool1d"):
        x, tx = pair(rng, (2, 3, length))
        size = out if out is not None else length
        check_both(rng, getattr(F, name)(x, out), getattr(TF, name)(tx, size), x, tx)
    x, tx = pair(rng, (2, 3, length))
    check_both(rng, nn.AdaptiveAvgPool1d(out)(x), torch.nn.AdaptiveAvgPool1d(size)(tx), x, tx)


def test_uneven_adaptive_pool_is_captured_by_fit():
    """The uneven windows are made by kernels, not from numpy, so fit captures the step."""
    rng = np.random.default_rng(8)
    model = nn.Sequential(nn.Conv2d(2, 3, 2), nn.AdaptiveAvgPool2d((2, 3)),
                          nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(3, 2))
    model.compile(optimizer=fn.optim.SGD(model.parameters(), lr=0.1),
                  loss=fn.losses.SparseCategoricalCrossentropy(from_logits=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(rng.standard_normal((8, 2, 6, 8)).astype(np.float32),
                  rng.integers(0, 2, 8), epochs=2, batch_size=4, verbose=0)
    assert len(model._captured) > 0


# --- batch norm ---------------------------------------------------------------------------


@pytest.mark.parametrize("name, shape", [("BatchNorm1d", (7, 4)), ("BatchNorm1d", (3, 4, 5)),
                                         ("BatchNorm2d", (3, 4, 5, 3))])
@pytest.mark.parametrize("momentum", [0.1, 0.35, None])
@pytest.mark.parametrize("affine", [dict(), dict(affine=False), dict(bias=False)])
def test_batch_norm_training_steps_and_eval_match_torch(name, shape, momentum, affine):
    rng = np.random.default_rng(len(shape))
    theirs = getattr(torch.nn, name)(4, momentum=momentum, dtype=torch.float64, **affine)
    mine = getattr(nn, name)(4, momentum=momentum, dtype=fn.float64, **affine)
    assert repr(mine) == repr(theirs)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    with torch.no_grad():
        for p in theirs.parameters():
            p.uniform_(0.5, 1.5)
    mine.load_state_dict(theirs.state_dict())
    for _ in range(3):
        x, tx = pair(rng, shape, scale=2.0, shift=1.5)
        check_both(rng, mine(x), theirs(tx), x, tx)
        assert len(mine.parameters()) == len(list(theirs.parameters()))
        for p, tp in zip(mine.parameters(), theirs.parameters()):
            close(p.grad, tp.grad)
        mine.zero_grad()
        theirs.zero_grad()
    state = mine.state_dict()
    for key, value in theirs.state_dict().items():
        close(state[key], value)
    assert state["num_batches_tracked"].dtype == np.int64 and int(state["num_batches_tracked"]) == 3
    mine.eval()
    theirs.eval()
    x, tx = pair(rng, shape)
    check_both(rng, mine(x), theirs(tx), x, tx)
    assert int(mine.num_batches_tracked) == 3  # eval mode does not count


def test_batch_norm_without_running_stats_always_uses_the_batch():
    rng = np.random.default_rng(9)
    theirs = torch.nn.BatchNorm2d(3, track_running_stats=False).double()
    mine = nn.BatchNorm2d(3, track_running_stats=False).double()
    assert list(mine.state_dict()) == list(theirs.state_dict()) == ["weight", "bias"]
    assert mine.running_mean is None and mine.num_batches_tracked is None
    for mode in (True, False):
        mine.train(mode)
        theirs.train(mode)
        x, tx = pair(rng, (2, 3, 4, 5))
        check_both(rng, mine(x), theirs(tx), x, tx)


def test_batch_norm_buffers_stay_int64_and_load_from_torch():
    mine = nn.BatchNorm1d(3)
    assert mine.running_mean.dtype == "float32" and mine.num_batches_tracked.dtype == "int64"
    assert [k for k, _ in mine.named_buffers()] == ["running_mean", "running_var",
                                                    "num_batches_tracked"]
    assert len(mine.parameters()) == 2
    mine.double()
    assert mine.running_var.dtype == "float64" and mine.num_batches_tracked.dtype == "int64"
    theirs = torch.nn.BatchNorm1d(3).double()
    theirs(torch.randn(5, 3, dtype=torch.float64))
    mine.load_state_dict(theirs.state_dict())
    assert int(mine.num_batches_tracked) == 1
    close(mine.running_mean, theirs.running_mean)


def test_functional_batch_norm_matches_torch():
    rng = np.random.default_rng(10)
    for training in (True, False):
        mean0, var0 = rng.standard_normal(4), rng.random(4) + 0.5
        mean, var = fn.from_numpy(mean0.copy()), fn.from_numpy(var0.copy())
        tmean, tvar = torch.tensor(mean0), torch.tensor(var0)
        w, tw = pair(rng, (4,))
        b, tb = pair(rng, (4,))
        x, tx = pair(rng, (3, 4, 2, 5))
        check_both(rng, F.batch_norm(x, mean, var, w, b, training, 0.2, 1e-3),
                   TF.batch_norm(tx, tmean, tvar, tw, tb, training, 0.2, 1e-3), x, tx)
        close(w.grad, tw.grad)
        close(b.grad, tb.grad)
        close(mean, tmean)
        close(var, tvar)
    x, tx = pair(rng, (6, 3))
    check_both(rng, F.batch_norm(x, None, None, training=True),
               TF.batch_norm(tx, None, None, training=True), x, tx)


def test_batch_norm_errors():
    bn = nn.BatchNorm2d(3).double()
    with pytest.raises(ValueError, match=r"more than 1 value per channel"):
        bn(np.zeros((1, 3, 1, 1)))
    bn.eval()
    bn(np.zeros((1, 3, 1, 1)))  # eval mode uses the running statistics: fine
    with pytest.raises(ValueError, match=r"BatchNorm2d.*4D input.*3D"):
        bn(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"BatchNorm2d.*3 channels.*\(2, 4, 2, 2\)"):
        bn(np.zeros((2, 4, 2, 2)))
    with pytest.raises(ValueError, match=r"BatchNorm1d.*2D or 3D"):
        nn.BatchNorm1d(3)(np.zeros((2, 3, 4, 4), np.float32))
    with pytest.raises(ValueError, match="momentum"):
        nn.BatchNorm1d(3, momentum=1.5)
    with pytest.raises(ValueError, match="running_mean and running_var"):
        F.batch_norm(fn.zeros(2, 3), None, None, training=False)


def test_batch_norm_fit_counts_batches_in_captured_steps_and_momentum_none_runs_eagerly():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((12, 3, 4, 4)).astype(np.float32)
    y = rng.integers(0, 2, 12)
    results = {}
    for momentum in (0.1, None):
        for capture in (True, False):
            fn.manual_seed(1)
            model = nn.Sequential(nn.BatchNorm2d(3, momentum=momentum),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 2))
            model.compile(optimizer=fn.optim.SGD(model.parameters(), lr=0.1),
                          loss=fn.losses.SparseCategoricalCrossentropy(from_logits=True),
                          capture=capture)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
            refused = any("host" in str(w.message) for w in caught)
            assert refused == (capture and momentum is None)
            results[momentum, capture] = model.state_dict()
            assert int(results[momentum, capture]["0.num_batches_tracked"]) == 6
        for key, value in results[momentum, True].items():
            np.testing.assert_array_equal(value, results[momentum, False][key], err_msg=key)


# --- layer norm ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape, normalized", [((3, 5), 5), ((2, 3, 4, 5), (4, 5)),
                                               ((4, 7), [7])])
@pytest.mark.parametrize("kwargs", [{}, dict(bias=False), dict(elementwise_affine=False),
                                    dict(eps=1e-2)])
def test_layer_norm_matches_torch(shape, normalized, kwargs):
    rng = np.random.default_rng(len(shape))
    theirs = torch.nn.LayerNorm(normalized, dtype=torch.float64, **kwargs)
    mine = nn.LayerNorm(normalized, dtype=fn.float64, **kwargs)
    assert repr(mine) == repr(theirs)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    if theirs.weight is not None:
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 1.5)
            if theirs.bias is not None:
                theirs.bias.uniform_(-1, 1)
        mine.load_state_dict(theirs.state_dict())
    x, tx = pair(rng, shape, scale=3.0, shift=2.0)
    check_both(rng, mine(x), theirs(tx), x, tx)
    for p, tp in zip(mine.parameters(), theirs.parameters()):
        close(p.grad, tp.grad)


def test_functional_layer_norm_and_errors():
    rng = np.random.default_rng(12)
    x, tx = pair(rng, (2, 3, 4))
    w, tw = pair(rng, (3, 4))
    check_both(rng, F.layer_norm(x, (3, 4), w, None, 1e-3),
               TF.layer_norm(tx, (3, 4), tw, None, 1e-3), x, tx)
    close(w.grad, tw.grad)
    with pytest.raises(ValueError, match=r"layer_norm.*last dims are \(5,\)"):
        F.layer_norm(fn.zeros(2, 4), 5)
    with pytest.raises(ValueError, match="normalized_shape"):
        nn.LayerNorm(0)


# --- dropout ------------------------------------------------------------------------------


def test_dropout_statistics_scaling_and_gradient():
    fn.manual_seed(0)
    p = 0.3
    x = fn.from_numpy(np.random.default_rng(0).random((40, 50)) + 1.0)
    x.requires_grad = True
    drop = nn.Dropout(p)
    assert repr(drop) == repr(torch.nn.Dropout(p))
    y = drop(x)
    kept = y.detach().numpy() != 0
    assert abs(1 - kept.mean() - p) < 0.03
    np.testing.assert_allclose(y.detach().numpy()[kept], x.detach().numpy()[kept] / (1 - p))
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / (1 - p))
    drop.eval()
    assert drop(x) is x or np.array_equal(drop(x).detach().numpy(), x.detach().numpy())


def test_dropout_masks_repeat_under_manual_seed_and_differ_otherwise():
    x = fn.ones(30, 30, dtype=fn.float64)
    fn.manual_seed(3)
    a = F.dropout(x, 0.5).numpy()
    b = F.dropout(x, 0.5).numpy()
    fn.manual_seed(3)
    c = nn.Dropout(0.5)(x).numpy()
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b)


def test_functional_dropout_defaults_to_training_and_eval_is_identity():
    x = fn.ones(20, 20)
    assert (F.dropout(x).numpy() == 0).any()  # training=True by default, as torch's
    np.testing.assert_array_equal(F.dropout(x, 0.5, training=False).numpy(), x.numpy())
    np.testing.assert_array_equal(F.dropout(x, 0.0).numpy(), x.numpy())
    np.testing.assert_array_equal(F.dropout(x, 1.0).numpy(), np.zeros((20, 20)))


@pytest.mark.parametrize("name, shape, noise", [
    ("Dropout2d", (6, 8, 3, 4), (6, 8, 1, 1)), ("Dropout1d", (6, 8, 5), (6, 8, 1)),
    ("Dropout1d", (40, 5), (40, 1)), ("Dropout3d", (3, 8, 2, 3, 2), (3, 8, 1, 1, 1)),
])
def test_channel_dropout_zeroes_whole_channels(name, shape, noise):
    fn.manual_seed(1)
    x = fn.from_numpy(np.random.default_rng(1).random(shape) + 1.0)
    x.requires_grad = True
    drop = getattr(nn, name)(0.4)
    assert repr(drop) == repr(getattr(torch.nn, name)(0.4))
    y = drop(x)
    kept = y.detach().numpy() != 0
    per_channel = kept.reshape(noise + (-1,))
    assert (per_channel.all(-1) | ~per_channel.any(-1)).all()  # all or nothing per channel
    assert 0 < kept.mean() < 1
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.6)


def test_dropout2d_on_3d_input_warns_and_drops_channels_of_n_c_l():
    fn.manual_seed(2)
    x = fn.ones(6, 10, 7)
    with pytest.warns(UserWarning, match="3D input"):
        y = F.dropout2d(x, 0.5).numpy()
    assert ((y == 0).all(-1) | (y != 0).all(-1)).all()


def test_inplace_dropout_writes_into_its_input_and_backpropagates():
    fn.manual_seed(4)
    w = fn.from_numpy(np.random.default_rng(4).random((10, 10)) + 1.0)
    w.requires_grad = True
    h = w * 1.0
    out = nn.Dropout(0.5, inplace=True)(h)
    kept = h.detach().numpy() != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_array_equal(out.detach().numpy(), h.detach().numpy())
    out.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), kept * 2.0)


def test_alpha_dropout_keeps_mean_and_variance_and_is_identity_in_eval():
    fn.manual_seed(5)
    x = fn.from_numpy(np.random.default_rng(5).standard_normal(100_000))
    drop = nn.AlphaDropout(0.2)
    y = drop(x).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    _, counts = np.unique(y, return_counts=True)
    assert abs(counts.max() / y.size - 0.2) < 0.01  # the dropped values share one value
    np.testing.assert_array_equal(F.alpha_dropout(x, 0.2).numpy(), x.numpy())  # training=False
    drop.eval()
    np.testing.assert_array_equal(drop(x).numpy(), x.numpy())


@pytest.mark.parametrize("p", [-0.1, 1.5, True, "0.5"])
def test_dropout_rejects_bad_probabilities(p):
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(p)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(fn.ones(2, 2), p)
