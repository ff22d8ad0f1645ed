"""fastnn.nn's recurrent modules (RNN, LSTM, GRU and their cells) and Embedding against
PyTorch in float64: weights copied with load_state_dict(torch_module.state_dict()), then
outputs, final states and the gradients of the input, the initial states and every
parameter compared; odd batch, time and feature sizes. Also a small text classifier
(Embedding -> LSTM -> Linear) against torch, fitted by fastnn's compile/fit with a captured
step, and the errors bad input raises."""

import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastnn as fn  # noqa: E402
import fastnn.nn as nn  # noqa: E402
import fastnn.nn.functional as F  # noqa: E402

torch.set_num_threads(1)
RTOL, ATOL = 1e-9, 1e-11
N, T, IN, H = 3, 5, 4, 7  # odd sizes, all different so a swapped axis cannot pass


def rng(seed=0):
    return np.random.default_rng(seed)


def leaf(array):
    """The same float64 values as a fastnn and a torch leaf that require grad."""
    f = fn.from_numpy(np.array(array, dtype=np.float64))
    f.requires_grad = True
    return f, torch.tensor(array, dtype=torch.float64, requires_grad=True)


def close(fastnn_value, torch_value, what=""):
    np.testing.assert_allclose(np.asarray(fastnn_value), torch_value.detach().numpy(),
                               rtol=RTOL, atol=ATOL, err_msg=what)


def close_grads(f_module, t_module):
    """Every parameter's gradient, by torch's name."""
    f_params = dict(f_module.named_parameters())
    assert sorted(f_params) == sorted(k for k, _ in t_module.named_parameters())
    for name, p in t_module.named_parameters():
        assert f_params[name].grad is not None, name
        close(f_params[name].grad, p.grad, name)


def pair(kind, **kwargs):
    """(fastnn module, torch module) of one kind with the torch weights copied over."""
    nonlinearity = {"rnn_tanh": "tanh", "rnn_relu": "relu"}.get(kind)
    name = {"rnn_tanh": "RNN", "rnn_relu": "RNN"}.get(kind, kind.upper())
    if nonlinearity:
        kwargs["nonlinearity"] = nonlinearity
    t = getattr(torch.nn, name)(IN, H, dtype=torch.float64, **kwargs)
    f = getattr(nn, name)(IN, H, dtype=fn.float64, **kwargs)
    f.load_state_dict(t.state_dict())
    return f, t


def weighted_sum(values, seed):
    """A loss that weighs every element differently, so a misplaced gradient shows."""
    total_f = total_t = 0.0
    for i, (f, t) in enumerate(values):
        w = rng(seed + i).normal(size=tuple(t.shape))
        total_f = total_f + (f * fn.from_numpy(w)).sum()
        total_t = total_t + (t * torch.tensor(w)).sum()
    return total_f, total_t


# --- parameters -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "gru"])
@pytest.mark.parametrize("bias", [True, False])
def test_state_dict_keys_order_and_shapes_equal_torch(kind, bias):
    f, t = pair(kind, num_layers=2, bidirectional=True, bias=bias)
    f_state, t_state = f.state_dict(), t.state_dict()
    assert list(f_state) == list(t_state)
    for key in t_state:
        assert f_state[key].shape == tuple(t_state[key].shape), key
        np.testing.assert_array_equal(f_state[key], t_state[key].numpy())
    assert [k for k, _ in f.named_parameters()] == list(t_state)


@pytest.mark.parametrize("module", [
    lambda: nn.LSTM(5, 40, num_layers=2, bidirectional=True),
    lambda: nn.GRU(5, 40), lambda: nn.RNN(5, 40), lambda: nn.LSTMCell(5, 40),
    lambda: nn.GRUCell(5, 40), lambda: nn.RNNCell(5, 40)])
def test_parameters_drawn_from_uniform_one_over_sqrt_hidden(module):
    m = module()
    bound = 1.0 / math.sqrt(40)
    values = np.concatenate([np.asarray(p).ravel() for p in m.parameters()])
    assert values.dtype == np.float32
    assert np.abs(values).max() <= bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.05 * bound  # U(-b, b)'s std
    assert abs(values.mean()) < 0.05 * bound


# --- whole sequences --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rnn_tanh", "rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["tnf", "ntf"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "state"])
def test_sequence_matches_torch(kind, num_layers, bidirectional, batch_first, with_state):
    f, t = pair(kind, num_layers=num_layers, bidirectional=bidirectional,
                batch_first=batch_first)
    seed = num_layers * 8 + bidirectional * 4 + batch_first * 2 + with_state
    r = rng(seed)
    fx, tx = leaf(r.normal(size=(N, T, IN) if batch_first else (T, N, IN)))
    states = (2 if bidirectional else 1) * num_layers, N, H
    lstm = kind == "lstm"
    f_states, t_states = [], []
    if with_state:
        for _ in range(2 if lstm else 1):
            fs, ts = leaf(r.normal(size=states))
            f_states.append(fs)
            t_states.append(ts)
    f_hx = None if not with_state else (tuple(f_states) if lstm else f_states[0])
    t_hx = None if not with_state else (tuple(t_states) if lstm else t_states[0])
    f_out, f_h = f(fx, f_hx)
    t_out, t_h = t(tx, t_hx)
    f_h, t_h = (list(f_h), list(t_h)) if lstm else ([f_h], [t_h])
    assert tuple(f_out.shape) == tuple(t_out.shape)
    close(f_out, t_out, "output")
    for a, b in zip(f_h, t_h):
        assert tuple(a.shape) == states
        close(a, b, "final state")
    loss_f, loss_t = weighted_sum([(f_out, t_out)] + list(zip(f_h, t_h)), seed)
    loss_f.backward()
    loss_t.backward()
    close(fx.grad, tx.grad, "input gradient")
    for fs, ts in zip(f_states, t_states):
        close(fs.grad, ts.grad, "initial state gradient")
    close_grads(f, t)


@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "gru"])
def test_only_the_final_state_used(kind):
    """A loss on h_n alone (the classifier's use): gradients through the op's h_last."""
    f, t = pair(kind, num_layers=2, bidirectional=True)
    fx, tx = leaf(rng(3).normal(size=(T, N, IN)))
    f_h = f(fx)[1]
    t_h = t(tx)[1]
    f_h, t_h = (f_h[0], t_h[0]) if kind == "lstm" else (f_h, t_h)
    loss_f, loss_t = weighted_sum([(f_h, t_h)], 7)
    loss_f.backward()
    loss_t.backward()
    close(fx.grad, tx.grad)
    close_grads(f, t)


@pytest.mark.parametrize("kind", ["rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("with_state", [False, True])
def test_unbatched_sequence_and_no_bias(kind, with_state):
    f, t = pair(kind, num_layers=2, bidirectional=True, bias=False, batch_first=True)
    r = rng(5)
    fx, tx = leaf(r.normal(size=(T, IN)))  # (T, in): batch_first does not apply
    f_hx = t_hx = None
    if with_state:
        pairs = [leaf(r.normal(size=(4, H))) for _ in range(2 if kind == "lstm" else 1)]
        f_hx = tuple(p[0] for p in pairs) if kind == "lstm" else pairs[0][0]
        t_hx = tuple(p[1] for p in pairs) if kind == "lstm" else pairs[0][1]
    f_out, f_h = f(fx, f_hx)
    t_out, t_h = t(tx, t_hx)
    assert tuple(f_out.shape) == (T, 2 * H)
    close(f_out, t_out)
    f_h, t_h = (f_h[1], t_h[1]) if kind == "lstm" else (f_h, t_h)
    assert tuple(f_h.shape) == (4, H)
    close(f_h, t_h)
    loss_f, loss_t = weighted_sum([(f_out, t_out), (f_h, t_h)], 11)
    loss_f.backward()
    loss_t.backward()
    close(fx.grad, tx.grad)
    close_grads(f, t)


def test_numpy_input_and_float32_defaults():
    """A float32 module on a numpy batch (converted as any Module input), against torch's
    float32 to float32 precision."""
    t = torch.nn.GRU(IN, H, batch_first=True)
    f = nn.GRU(IN, H, batch_first=True)
    f.load_state_dict(t.state_dict())
    x = rng(8).normal(size=(N, T, IN)).astype(np.float32)
    out, h = f(x)
    assert out.dtype == "float32"
    np.testing.assert_allclose(np.asarray(out), t(torch.tensor(x))[0].detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_inter_layer_dropout_in_training_only():
    fn.manual_seed(0)
    f, t = pair("lstm", num_layers=2, dropout=0.5)
    x = rng(9).normal(size=(T, N, IN))
    f.eval()
    t.eval()
    close(f(fn.from_numpy(x))[0], t(torch.tensor(x))[0])  # eval: no dropout, as torch
    f.train()
    fn.manual_seed(1)
    a = np.asarray(f(fn.from_numpy(x))[0])
    fn.manual_seed(1)
    b = np.asarray(f(fn.from_numpy(x))[0])
    np.testing.assert_array_equal(a, b)  # drawn from fastnn's generator
    assert not np.allclose(a, t(torch.tensor(x))[0].detach().numpy())  # it dropped


def test_dropout_one_zeroes_the_upper_layers_input_as_torch():
    """dropout=1 is deterministic, so torch's training output can be compared."""
    f, t = pair("gru", num_layers=3, dropout=1.0)
    x = rng(10).normal(size=(T, N, IN))
    close(f(fn.from_numpy(x))[0], t(torch.tensor(x))[0])


def test_dropout_with_one_layer_warns_as_torch():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.LSTM(IN, H, dropout=0.2)


# --- cells ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rnn_tanh", "rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_state", [False, True])
def test_cells_match_torch(kind, batched, with_state):
    name = {"rnn_tanh": "RNNCell", "rnn_relu": "RNNCell"}.get(kind, kind.upper() + "Cell")
    kwargs = {"nonlinearity": kind[4:]} if kind.startswith("rnn") else {}
    t = getattr(torch.nn, name)(IN, H, dtype=torch.float64, **kwargs)
    f = getattr(nn, name)(IN, H, dtype=fn.float64, **kwargs)
    assert list(f.state_dict()) == list(t.state_dict())
    f.load_state_dict(t.state_dict())
    r = rng(12 + batched * 2 + with_state)
    fx, tx = leaf(r.normal(size=(N, IN) if batched else (IN,)))
    state_shape = (N, H) if batched else (H,)
    states = [leaf(r.normal(size=state_shape)) for _ in range(2 if kind == "lstm" else 1)]
    if kind == "lstm":
        f_hx = (states[0][0], states[1][0]) if with_state else None
        t_hx = (states[0][1], states[1][1]) if with_state else None
        f_out, t_out = list(f(fx, f_hx)), list(t(tx, t_hx))
    else:
        f_hx, t_hx = states[0] if with_state else (None, None)
        f_out, t_out = [f(fx, f_hx)], [t(tx, t_hx)]
    for a, b in zip(f_out, t_out):
        assert tuple(a.shape) == state_shape
        close(a, b)
    loss_f, loss_t = weighted_sum(list(zip(f_out, t_out)), 13)
    loss_f.backward()
    loss_t.backward()
    close(fx.grad, tx.grad)
    if with_state:
        for fs, ts in states:
            close(fs.grad, ts.grad)
    close_grads(f, t)


def test_gru_is_torchs_equations():
    """Keras's reset_after GRU that fastnn's op runs is PyTorch's documented GRU: one
    GRUCell step against the equations written out in numpy with the cell's own weights."""
    cell = nn.GRUCell(IN, H, dtype=fn.float64)
    r = rng(14)
    x, h = r.normal(size=(N, IN)), r.normal(size=(N, H))
    w_ih, w_hh, b_ih, b_hh = (np.asarray(p) for p in
                              (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh))

    def rows(a, k):
        return a[k * H:(k + 1) * H]

    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    reset = sigmoid(x @ rows(w_ih, 0).T + rows(b_ih, 0) + h @ rows(w_hh, 0).T + rows(b_hh, 0))
    update = sigmoid(x @ rows(w_ih, 1).T + rows(b_ih, 1) + h @ rows(w_hh, 1).T + rows(b_hh, 1))
    new = np.tanh(x @ rows(w_ih, 2).T + rows(b_ih, 2)
                  + reset * (h @ rows(w_hh, 2).T + rows(b_hh, 2)))
    expected = (1 - update) * new + update * h
    got = cell(fn.from_numpy(x), fn.from_numpy(h))
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-12, atol=1e-13)


def test_cell_steps_equal_the_sequence_module():
    """LSTMCell stepped in Python over a sequence gives nn.LSTM's output with the same
    weights (the cell and the module share one mapping onto the op)."""
    lstm = nn.LSTM(IN, H, dtype=fn.float64)
    cell = nn.LSTMCell(IN, H, dtype=fn.float64)
    cell.load_state_dict({k[:-3]: v for k, v in lstm.state_dict().items()})
    x = fn.from_numpy(rng(15).normal(size=(T, N, IN)))
    out, _ = lstm(x)
    h = c = None
    for step in range(T):
        h, c = cell(x[step], None if h is None else (h, c))
        np.testing.assert_allclose(np.asarray(h), np.asarray(out[step]), rtol=1e-12,
                                   atol=1e-13)


def test_reprs_are_torchs():
    for args, kwargs in [((IN, H), {}), ((IN, H, 2), {"bias": False, "batch_first": True,
                                                      "dropout": 0.5, "bidirectional": True})]:
        for name in ("RNN", "LSTM", "GRU"):
            extra = {"nonlinearity": "relu"} if name == "RNN" else {}
            assert repr(getattr(nn, name)(*args, **kwargs, **extra)) == \
                repr(getattr(torch.nn, name)(*args, **kwargs, **extra))
    for name, kwargs in [("RNNCell", {"nonlinearity": "relu", "bias": False}),
                         ("LSTMCell", {}), ("GRUCell", {"bias": False})]:
        assert repr(getattr(nn, name)(IN, H, **kwargs)) == \
            repr(getattr(torch.nn, name)(IN, H, **kwargs))


# --- bad input --------------------------------------------------------------------------------


def test_constructor_errors():
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(IN, H, proj_size=3)
    with pytest.raises(ValueError, match="only supported for LSTM"):
        nn.RNNBase("GRU", IN, H, proj_size=3)
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(IN, H, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNNCell(IN, H, nonlinearity="gelu")
    with pytest.raises(ValueError, match="dropout should be a number"):
        nn.GRU(IN, H, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size"):
        nn.LSTM(IN, 0)
    with pytest.raises(ValueError, match="num_layers"):
        nn.GRU(IN, H, num_layers=0)
    with pytest.raises(TypeError, match="dtype"):
        nn.LSTM(IN, H, dtype="int32")


def test_input_errors_name_the_module_and_argument():
    lstm, gru = nn.LSTM(IN, H, dtype=fn.float64), nn.GRU(IN, H, num_layers=2)
    x64 = fn.from_numpy(rng(16).normal(size=(T, N, IN)))
    with pytest.raises(ValueError, match=r"LSTM: input.size\(-1\) must be equal to input_size. "
                                         r"Expected 4, got 5"):
        lstm(fn.zeros(T, N, IN + 1, dtype=fn.float64))
    with pytest.raises(ValueError, match="LSTM: expected input to be 2-D .* or 3-D, got 4-D"):
        lstm(fn.zeros(1, T, N, IN, dtype=fn.float64))
    with pytest.raises(ValueError, match="LSTM: expected a non-empty input"):
        lstm(fn.zeros(0, N, IN, dtype=fn.float64))
    with pytest.raises(ValueError, match="LSTM: input must have the type float64"):
        lstm(fn.zeros(T, N, IN))
    with pytest.raises(ValueError, match=r"GRU: expected h_0 of shape \(2, 3, 7\) .*got "
                                         r"\(1, 3, 7\)"):
        gru(fn.zeros(T, N, IN), fn.zeros(1, N, H))
    with pytest.raises(ValueError, match=r"LSTM: expected c_0 of shape \(1, 3, 7\)"):
        lstm(x64, (fn.zeros(1, N, H, dtype=fn.float64), fn.zeros(1, 2, H, dtype=fn.float64)))
    with pytest.raises(TypeError, match=r"LSTM: expected hx to be a tuple \(h_0, c_0\)"):
        lstm(x64, fn.zeros(1, N, H, dtype=fn.float64))
    with pytest.raises(TypeError, match="GRU: expected hx to be one tensor"):
        gru(fn.zeros(T, N, IN), (fn.zeros(2, N, H), fn.zeros(2, N, H)))
    with pytest.raises(ValueError, match=r"GRU: expected h_0 of shape \(2, 7\)"):
        gru(fn.zeros(T, IN), fn.zeros(2, 1, H))  # unbatched input, batched state
    cell = nn.LSTMCell(IN, H)
    with pytest.raises(ValueError, match="LSTMCell: input has inconsistent input_size: got 3"):
        cell(fn.zeros(N, 3))
    with pytest.raises(ValueError, match=r"LSTMCell: expected h of shape \(3, 7\)"):
        cell(fn.zeros(N, IN), (fn.zeros(2, H), fn.zeros(N, H)))
    with pytest.raises(ValueError, match="GRUCell: expected input to be 1-D"):
        nn.GRUCell(IN, H)(fn.zeros(1, N, IN))
    with pytest.raises(TypeError, match="RNNCell: expected h to be a tensor, got str"):
        nn.RNNCell(IN, H)(fn.zeros(N, IN), "zeros")


# --- Embedding --------------------------------------------------------------------------------


def embedding_pair(num=11, dim=5, **kwargs):
    t = torch.nn.Embedding(num, dim, dtype=torch.float64, **kwargs)
    f = nn.Embedding(num, dim, dtype=fn.float64, **kwargs)
    assert list(f.state_dict()) == ["weight"]
    f.load_state_dict(t.state_dict())
    return f, t


def test_embedding_initialised_standard_normal_padding_row_zero():
    fn.manual_seed(3)
    e = nn.Embedding(400, 50, padding_idx=-3)
    w = np.asarray(e.weight)
    assert w.shape == (400, 50) and w.dtype == np.float32 and e.padding_idx == 397
    np.testing.assert_array_equal(w[397], 0.0)
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1.0) < 0.02
    assert repr(e) == "Embedding(400, 50, padding_idx=397)"


@pytest.mark.parametrize("ids_dtype", [np.int64, np.int32])
@pytest.mark.parametrize("as_tensor", [True, False])
def test_embedding_matches_torch_and_repeated_ids_accumulate(ids_dtype, as_tensor):
    f, t = embedding_pair()
    ids = np.array([[[1, 4, 4], [10, 0, 4]], [[3, 3, 1], [7, 4, 2]]], dtype=ids_dtype)
    f_ids = fn.from_numpy(ids) if as_tensor else ids
    f_out, t_out = f(f_ids), t(torch.tensor(ids))
    assert tuple(f_out.shape) == (2, 2, 3, 5)
    close(f_out, t_out)
    loss_f, loss_t = weighted_sum([(f_out, t_out)], 17)
    loss_f.backward()
    loss_t.backward()
    close(f.weight.grad, t.weight.grad)
    assert np.abs(np.asarray(f.weight.grad)[4]).sum() > 0  # id 4, four times


def test_embedding_padding_row_gets_no_gradient_but_is_read():
    """from_pretrained keeps a non-zero padding row: the output reads it, the gradient
    skips it (torch's rule)."""
    table = rng(18).normal(size=(9, 4))
    t = torch.nn.Embedding.from_pretrained(torch.tensor(table), freeze=False, padding_idx=2)
    f = nn.Embedding.from_pretrained(table, freeze=False, padding_idx=2)
    assert f.weight.dtype == "float64" and f.weight.requires_grad
    ids = np.array([[2, 5, 2, 8], [0, 2, 5, 1]])
    f_out, t_out = f(ids), t(torch.tensor(ids))
    close(f_out, t_out)
    np.testing.assert_array_equal(np.asarray(f_out)[0, 0], table[2])
    loss_f, loss_t = weighted_sum([(f_out, t_out)], 19)
    loss_f.backward()
    loss_t.backward()
    close(f.weight.grad, t.weight.grad)
    np.testing.assert_array_equal(np.asarray(f.weight.grad)[2], 0.0)
    assert np.abs(np.asarray(f.weight.grad)[5]).sum() > 0


def test_functional_embedding_and_one_hot_match_torch():
    fw, tw = leaf(rng(20).normal(size=(6, 3)))
    ids = np.array([[0, 5, 5], [1, 0, 3]])
    f_out = F.embedding(fn.from_numpy(ids), fw, padding_idx=0)
    t_out = torch.nn.functional.embedding(torch.tensor(ids), tw, padding_idx=0)
    close(f_out, t_out)
    loss_f, loss_t = weighted_sum([(f_out, t_out)], 21)
    loss_f.backward()
    loss_t.backward()
    close(fw.grad, tw.grad)
    labels = np.array([[2, 0], [4, 1]])
    for num_classes in (-1, 7):
        got = F.one_hot(fn.from_numpy(labels), num_classes)
        want = torch.nn.functional.one_hot(torch.tensor(labels), num_classes)
        assert got.dtype == "int64" and tuple(got.shape) == tuple(want.shape)
        np.testing.assert_array_equal(np.asarray(got), want.numpy())
    with pytest.raises(ValueError, match="smaller than num_classes"):
        F.one_hot(fn.from_numpy(labels), 3)
    with pytest.raises(ValueError, match="non-negative"):
        F.one_hot(fn.from_numpy(np.array([1, -1])))
    with pytest.raises(TypeError, match="int64"):
        F.one_hot(fn.from_numpy(labels.astype(np.int32)))


def test_from_pretrained_freeze():
    table = rng(22).normal(size=(5, 3)).astype(np.float32)
    e = nn.Embedding.from_pretrained(fn.from_numpy(table))
    assert not e.weight.requires_grad and list(e.parameters()) == []
    np.testing.assert_array_equal(np.asarray(e.weight), table)
    table[0] = 9.0  # a copy, not a view of the caller's array
    assert np.asarray(e.weight)[0, 0] != 9.0
    from_torch = nn.Embedding.from_pretrained(torch.nn.Parameter(torch.ones(2, 3)))
    assert from_torch.weight.dtype == "float32" and not from_torch.weight.requires_grad
    model = nn.Sequential(e, nn.Flatten(), nn.Linear(6, 2))
    before = np.asarray(e.weight).copy()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.array([[0, 4], [3, 1]] * 4), np.ones((8, 2), np.float32), epochs=2,
              batch_size=4, verbose=0)
    np.testing.assert_array_equal(np.asarray(e.weight), before)


def test_embedding_errors():
    e = nn.Embedding(6, 3)
    with pytest.raises(IndexError, match="Embedding.*6"):
        e(np.array([[1, 6]]))
    with pytest.raises(IndexError, match="Embedding"):
        e(fn.from_numpy(np.array([-1])))
    with pytest.raises(TypeError, match="Embedding: expected the indices to be an int64 or "
                                        "int32 tensor, got float32"):
        e(fn.zeros(2, 3))
    with pytest.raises(TypeError, match="got float64"):
        e(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="embedding: expected the indices"):
        F.embedding(np.array([0.5]), e.weight)
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(6, 3, padding_idx=6)
    with pytest.raises(ValueError, match=r"_weight of shape \(6, 3\)"):
        nn.Embedding(6, 3, _weight=np.zeros((6, 4)))
    for option in ({"max_norm": 1.0}, {"scale_grad_by_freq": True}, {"sparse": True}):
        with pytest.raises(NotImplementedError, match=next(iter(option))):
            nn.Embedding(6, 3, **option)
        with pytest.raises(NotImplementedError, match=next(iter(option))):
            F.embedding(fn.from_numpy(np.array([1])), e.weight, **option)


def test_sequential_starting_with_embedding_takes_int64_arrays():
    t = torch.nn.Sequential(torch.nn.Embedding(9, 4), torch.nn.Linear(4, 3)).double()
    f = nn.Sequential(nn.Embedding(9, 4), nn.Linear(4, 3)).double()
    f.load_state_dict(t.state_dict())
    ids = rng(23).integers(0, 9, size=(5, 6))
    close(f(ids), t(torch.tensor(ids)))
    close(f(fn.from_numpy(ids)), t(torch.tensor(ids)))


# --- a text classifier ------------------------------------------------------------------------

VOCAB, DIM, HIDDEN, CLASSES, LENGTH = 13, 5, 6, 3, 7


def classifier(module, dtype=None, **lstm_options):
    """The same Embedding -> LSTM(batch_first) -> Linear(last step) network built from
    ``module`` (fastnn.nn or torch.nn)."""
    features = HIDDEN * (2 if lstm_options.get("bidirectional") else 1)

    class TextClassifier(module.Module):
        def __init__(self):
            super().__init__()
            self.embedding = module.Embedding(VOCAB, DIM, padding_idx=0, dtype=dtype)
            self.lstm = module.LSTM(DIM, HIDDEN, batch_first=True, dtype=dtype, **lstm_options)
            self.fc = module.Linear(features, CLASSES, dtype=dtype)

        def forward(self, ids):
            out, (h_n, _) = self.lstm(self.embedding(ids))
            return self.fc(out[:, -1])

    return TextClassifier()


def text_data(n=40, seed=24):
    r = rng(seed)
    ids = r.integers(1, VOCAB, size=(n, LENGTH))
    ids[:, :2] *= r.integers(0, 2, size=(n, 2))  # some leading padding
    return ids, r.integers(0, CLASSES, size=n)


def test_text_classifier_loss_and_gradients_match_torch():
    t, f = classifier(torch.nn, torch.float64), classifier(nn, fn.float64)
    assert list(f.state_dict()) == list(t.state_dict())
    f.load_state_dict(t.state_dict())
    ids, labels = text_data(9)
    t_loss = torch.nn.functional.cross_entropy(t(torch.tensor(ids)), torch.tensor(labels))
    f_logits = f(ids)
    f_loss = fn.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, f_logits)
    close(f_loss, t_loss)
    t_loss.backward()
    f_loss.backward()
    close_grads(f, t)
    np.testing.assert_array_equal(np.asarray(f.embedding.weight.grad)[0], 0.0)


@pytest.mark.parametrize("lstm_options", [
    {}, {"num_layers": 2, "dropout": 0.25, "bidirectional": True}], ids=["plain", "dropout"])
def test_text_classifier_fits_with_a_captured_step_as_eagerly(lstm_options):
    """A replayed step draws the inter-layer dropout masks the eager step draws."""
    ids, labels = text_data()
    histories, weights = [], []
    for capture in (True, False):
        fn.manual_seed(5)
        model = classifier(nn, **lstm_options)
        model.compile(optimizer="adam",
                      loss=fn.losses.SparseCategoricalCrossentropy(from_logits=True),
                      capture=capture)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a refused capture warns
            history = model.fit(ids, labels, batch_size=8, epochs=3, verbose=0)
        if capture:
            assert len(model._captured) > 0 and not model._captured.refused
        histories.append(history.history["loss"])
        weights.append(model.get_weights())
    assert histories[0] == histories[1]
    assert histories[0][-1] < histories[0][0]
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)
