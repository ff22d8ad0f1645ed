"""The GRU (Keras's reset_after=True) and SimpleRNN cells of the rnn op and their layers:
forward against a float64 numpy reference and PyTorch's nn.GRU / nn.RNN, every gradient
against central finite differences and PyTorch, each output alone and together, argument
errors naming the argument, Keras's weight layouts and defaults, configs, and a captured fit
against the eager one. The LSTM cell has its own file (test_lstm.py), whose helpers these
tests share."""

import numpy as np
import pytest

import fastnn as fn
from fastnn import _C, layers

from conftest import check_grad, check_grad_f32, leaf
from test_lstm import N, T, F, U, fit, sigmoid, t64

ACTIVATIONS = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0), "sigmoid": sigmoid,
               "linear": lambda z: z}
GATES = {"gru": 3, "simple_rnn": 1}
CELLS = ["gru"] + [f"simple_rnn-{a}" for a in ACTIVATIONS]  # parametrize ids: cell-activation


def split(case):
    """'simple_rnn-relu' -> ('simple_rnn', 'relu'); 'gru' -> ('gru', 'tanh')."""
    cell, _, activation = case.partition("-")
    return cell, activation or "tanh"


def rnn_op(cell, x, W, R, b=None, h0=None, go_backwards=False, activation="tanh", mask=None,
           who="RNN", return_sequences=True, in_input_order=False):
    """The rnn op for a one-state cell: (h_seq or None, h_last); its c_last must be None."""
    seq, h_last, c_last = _C.rnn(cell, x, W, R, b, h0, None, mask, activation, go_backwards,
                                 in_input_order, return_sequences, who)
    assert c_last is None
    return seq, h_last


def reference(cell, x, W, R, b=None, h0=None, go_backwards=False, activation="tanh",
              mask=None):
    """Keras's GRU (reset_after=True) or SimpleRNN in float64 numpy: (h_seq, h_last), h_seq in
    processing order. Steps where ``mask`` (N, T) is 0 carry the state and output zero;
    go_backwards reverses the inputs and the mask together."""
    x = np.asarray(x, np.float64)
    n, steps, _ = x.shape
    u = R.shape[0]
    h = np.zeros((n, u)) if h0 is None else np.asarray(h0, np.float64)
    xs = x[:, ::-1] if go_backwards else x
    ms = None if mask is None else np.asarray(mask)[:, ::-1] if go_backwards else mask
    seq = []
    for t in range(steps):
        if cell == "gru":
            bx, bh = (0.0, 0.0) if b is None else (b[0], b[1])
            zx, zh = xs[:, t] @ W + bx, h @ R + bh
            z = sigmoid(zx[:, :u] + zh[:, :u])
            r = sigmoid(zx[:, u:2 * u] + zh[:, u:2 * u])
            g = np.tanh(zx[:, 2 * u:] + r * zh[:, 2 * u:])
            h_new = z * h + (1 - z) * g
        else:
            h_new = ACTIVATIONS[activation](xs[:, t] @ W + h @ R + (0.0 if b is None else b))
        if ms is None:
            h = h_new
            seq.append(h)
        else:
            keep = np.asarray(ms[:, t:t + 1]) != 0
            h = np.where(keep, h_new, h)
            seq.append(np.where(keep, h, 0.0))
    return np.stack(seq, axis=1), h


def draw(rng, cell, n=N, steps=T, features=F, units=U):
    G = GATES[cell] * units
    return dict(x=rng.standard_normal((n, steps, features)),
                W=rng.standard_normal((features, G)) * 0.4,
                R=rng.standard_normal((units, G)) * 0.4,
                b=rng.standard_normal((2, G) if cell == "gru" else G) * 0.4,
                h0=rng.standard_normal((n, units)))


def loss_weights(rng, n=N, steps=T, units=U):
    return rng.standard_normal((n, steps, units)), rng.standard_normal((n, units))


def weighted_loss(outs, weights, use):
    """A loss on the sequence ("seq"), the last state ("last") or both ("all")."""
    h_seq, h_last = outs
    like = h_last.dtype
    if use == "last":
        return (h_last * t64(weights[1], like)).sum()
    seq = (h_seq * t64(weights[0], like)).sum()
    return seq if use == "seq" else seq + (h_last * t64(weights[1], like)).sum()


# --- forward -------------------------------------------------------------------------------

@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("state", [False, True])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("dtype, tol", [("float64", 1e-13), ("float32", 2e-6)])
@pytest.mark.parametrize("case", CELLS)
def test_forward_matches_numpy(case, go_backwards, state, use_bias, dtype, tol):
    cell, activation = split(case)
    rng = np.random.default_rng(1)
    a = draw(rng, cell)
    b = a["b"] if use_bias else None
    h0 = a["h0"] if state else None
    want = reference(cell, a["x"], a["W"], a["R"], b, h0, go_backwards, activation)
    got = rnn_op(cell, t64(a["x"], dtype), t64(a["W"], dtype), t64(a["R"], dtype),
                 None if b is None else t64(b, dtype), None if h0 is None else t64(h0, dtype),
                 go_backwards, activation)
    for g, w in zip(got, want):
        assert g.dtype == dtype and tuple(g.shape) == w.shape
        np.testing.assert_allclose(np.asarray(g, np.float64), w, rtol=tol, atol=tol)


@pytest.mark.parametrize("case", CELLS)
def test_one_step_one_sample_one_unit_and_last_state_only(case):
    cell, activation = split(case)
    rng = np.random.default_rng(2)
    a = draw(rng, cell, n=1, steps=1, features=1, units=1)
    args = [t64(a[k]) for k in ("x", "W", "R", "b", "h0")]
    got = rnn_op(cell, *args, False, activation)
    want = reference(cell, a["x"], a["W"], a["R"], a["b"], a["h0"], False, activation)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), w, rtol=1e-14, atol=1e-15)
    # return_sequences=False: no sequence, the same last state.
    seq, h_last = rnn_op(cell, *args, False, activation, return_sequences=False)
    assert seq is None and np.array_equal(np.asarray(h_last), np.asarray(got[1]))


# --- gradients: finite differences ---------------------------------------------------------

# Each output alone and together for the tanh cells; both outputs for the other activations.
GRAD_CASES = ([(case, use) for case in ("gru", "simple_rnn-tanh") for use in ("seq", "last")]
              + [(case, "all") for case in CELLS])


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("case, use", GRAD_CASES)
def test_all_gradients_match_finite_differences(case, use, go_backwards):
    cell, activation = split(case)
    rng = np.random.default_rng(3)
    a = draw(rng, cell)
    w = loss_weights(rng)

    def f(x, W, R, b, h0):
        return weighted_loss(rnn_op(cell, x, W, R, b, h0, go_backwards, activation), w, use)

    check_grad(f, [leaf(a[k]) for k in ("x", "W", "R", "b", "h0")])


@pytest.mark.parametrize("case", ["gru", "simple_rnn-tanh", "simple_rnn-sigmoid"])
def test_gradients_without_bias_or_state_and_in_float32(case):
    cell, activation = split(case)
    rng = np.random.default_rng(4)
    a = draw(rng, cell)
    w = loss_weights(rng)

    def f(x, W, R):
        return weighted_loss(rnn_op(cell, x, W, R, None, None, False, activation), w, "all")

    def g(x, W, R, b, h0):
        return weighted_loss(rnn_op(cell, x, W, R, b, h0, True, activation), w, "all")

    check_grad(f, [leaf(a[k]) for k in ("x", "W", "R")])
    check_grad_f32(f, [leaf(a[k], "float32") for k in ("x", "W", "R")])
    check_grad_f32(g, [leaf(a[k], "float32") for k in ("x", "W", "R", "b", "h0")])


@pytest.mark.parametrize("cell", ["gru", "simple_rnn"])
def test_outputs_are_one_node_and_their_gradients_add_up(cell):
    rng = np.random.default_rng(5)
    a = draw(rng, cell)
    w = loss_weights(rng)

    def grads(loss_fn):
        ins = [leaf(a[k]) for k in ("x", "W", "R", "b", "h0")]
        loss_fn(rnn_op(cell, *ins, who="my_rnn")).backward()
        return [np.asarray(t.grad) for t in ins]

    outs = rnn_op(cell, *(leaf(a[k]) for k in ("x", "W", "R", "b", "h0")), who="my_rnn")
    assert [o.grad_fn for o in outs] == ["my_rnn"] * 2
    seq_part = grads(lambda o: weighted_loss(o, w, "seq"))
    last_part = grads(lambda o: weighted_loss(o, w, "last"))
    total = grads(lambda o: weighted_loss(o, w, "all"))
    for s, l, t in zip(seq_part, last_part, total):
        np.testing.assert_allclose(s + l, t, rtol=1e-12, atol=1e-13)
    # h_last is the sequence's last step.
    last_only = np.zeros_like(w[0])
    last_only[:, -1] = w[1]
    via_seq = grads(lambda o: (o[0] * t64(last_only)).sum())
    for v, l in zip(via_seq, last_part):
        np.testing.assert_allclose(v, l, rtol=1e-13, atol=1e-14)
    with fn.no_grad():
        outs = rnn_op(cell, *(leaf(a[k]) for k in ("x", "W", "R")))
    assert all(o.grad_fn is None and not o.requires_grad for o in outs)


# --- PyTorch as a second oracle ------------------------------------------------------------

def gru_blocks(a, u):
    """Swaps the first two gate blocks of the last axis: Keras's z, r, h <-> PyTorch's r, z, n."""
    return np.concatenate([a[..., u:2 * u], a[..., :u], a[..., 2 * u:]], axis=-1)


def torch_module(torch, cell, activation, a, dtype):
    """nn.GRU / nn.RNN holding the Keras weights (batch-first), and its torch dtype."""
    tdt = torch.float64 if dtype == "float64" else torch.float32
    features, units = a["W"].shape[0], a["R"].shape[0]
    if cell == "gru":
        m = torch.nn.GRU(features, units, batch_first=True).to(tdt)
        weights = [gru_blocks(a["W"], units).T, gru_blocks(a["R"], units).T,
                   gru_blocks(a["b"][0], units), gru_blocks(a["b"][1], units)]
    else:
        m = torch.nn.RNN(features, units, nonlinearity=activation, batch_first=True).to(tdt)
        weights = [a["W"].T, a["R"].T, a["b"], np.zeros(units)]
    with torch.no_grad():
        for p, value in zip((m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0),
                            weights):
            p.copy_(torch.tensor(value))
    return m, tdt


def torch_grads(cell, m, units):
    """The module's weight gradients in the Keras layouts: kernel, recurrent kernel, bias."""
    gw, gr = m.weight_ih_l0.grad.numpy().T, m.weight_hh_l0.grad.numpy().T
    if cell == "gru":
        return [gru_blocks(gw, units), gru_blocks(gr, units),
                np.stack([gru_blocks(m.bias_ih_l0.grad.numpy(), units),
                          gru_blocks(m.bias_hh_l0.grad.numpy(), units)])]
    return [gw, gr, m.bias_ih_l0.grad.numpy()]


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("state", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", ["gru", "simple_rnn-tanh", "simple_rnn-relu"])
def test_layer_matches_torch(case, return_sequences, go_backwards, state, dtype):
    torch = pytest.importorskip("torch")
    cell, activation = split(case)
    rng = np.random.default_rng(6)
    a = draw(rng, cell)
    w = loss_weights(rng)
    m, tdt = torch_module(torch, cell, activation, a, dtype)
    xt = torch.tensor(a["x"][:, ::-1].copy() if go_backwards else a["x"], dtype=tdt,
                      requires_grad=True)
    h0t = torch.tensor(a["h0"][None], dtype=tdt, requires_grad=True)
    y, hn = m(xt, h0t) if state else m(xt)
    out_t, wo = (y, w[0]) if return_sequences else (hn[0], w[1])
    ((out_t * torch.tensor(wo, dtype=tdt)).sum()
     + (hn[0] * torch.tensor(w[1], dtype=tdt)).sum()).backward()

    kind = layers.GRU if cell == "gru" else layers.SimpleRNN
    extra = {} if cell == "gru" else {"activation": activation}
    layer = kind(U, return_sequences=return_sequences, return_state=True,
                 go_backwards=go_backwards, dtype=dtype, input_shape=(T, F), **extra)
    layer.set_weights([a["W"], a["R"], a["b"]])
    x, h0 = leaf(a["x"], dtype), leaf(a["h0"], dtype)
    out, h = layer(x, initial_state=[h0]) if state else layer(x)
    ((out * t64(wo, dtype)).sum() + (h * t64(w[1], dtype)).sum()).backward()

    tol = dict(rtol=1e-12, atol=1e-13) if dtype == "float64" else dict(rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(np.asarray(out), out_t.detach().numpy(), **tol)
    np.testing.assert_allclose(np.asarray(h), hn[0].detach().numpy(), **tol)
    gx = xt.grad.numpy()
    np.testing.assert_allclose(np.asarray(x.grad), gx[:, ::-1] if go_backwards else gx, **tol)
    for mine, theirs in zip(layer.parameters(), torch_grads(cell, m, U)):
        np.testing.assert_allclose(np.asarray(mine.grad), theirs, **tol)
    if state:
        np.testing.assert_allclose(np.asarray(h0.grad), h0t.grad[0].numpy(), **tol)


# --- errors --------------------------------------------------------------------------------

def z(*shape):
    return t64(np.zeros(shape))


def test_bad_arguments_raise_naming_the_argument():
    x = z(2, 3, 4)
    cases = [  # (cell, kernel, recurrent kernel, bias, h0, c0, mask, activation), message
        (("gru", z(4, 6), z(2, 6), z(6), None, None, None, "tanh"),
         r"^G: expected 'bias' of shape \(2, 6\) \(input and recurrent biases of 3 \* units\), "
         r"got shape \(6,\)$"),
        (("gru", z(4, 6), z(2, 6), z(2, 3), None, None, None, "tanh"),
         r"G: expected 'bias' of shape \(2, 6\).*got shape \(2, 3\)"),
        (("gru", z(4, 6), z(2, 6), None, z(2, 2), z(2, 2), None, "tanh"),
         r"G: only an LSTM has a cell state 'c0'"),
        (("simple_rnn", z(4, 2), z(2, 2), None, None, z(2, 2), None, "tanh"),
         r"G: only an LSTM has a cell state 'c0'"),
        (("gru", z(4, 7), z(2, 7), None, None, None, None, "tanh"),
         r"G: expected 'kernel' with 3 \* units \(gates z, r, h\) columns, got shape \(4, 7\)"),
        (("gru", z(4, 6), z(2, 3), None, None, None, None, "tanh"),
         r"G: expected 'recurrent_kernel' of shape \(2, 6\).*got shape \(2, 3\)"),
        (("gru", z(4, 6), z(2, 6), None, z(3, 2), None, None, "tanh"),
         r"G: expected 'initial_state h' of shape \(2, 2\).*got shape \(3, 2\)"),
        (("simple_rnn", z(4, 2), z(2, 2), z(2, 2), None, None, None, "tanh"),
         r"G: expected 'bias' of shape \(2,\) \(units\), got shape \(2, 2\)"),
        (("simple_rnn", z(4, 2), z(2, 2), None, None, None, None, "gelu"),
         r"G: activation 'gelu' is not supported in a recurrent cell; expected tanh, relu, "
         r"sigmoid or linear"),
        (("simple_rnn", z(4, 2), z(2, 2), None, None, None, z(2, 4), "tanh"),
         r"G: expected 'mask' of shape \(2, 3\) \(batch, timesteps\), got shape \(2, 4\)"),
        (("gru", z(4, 6), z(2, 6), None, None, None, z(2, 3, 1), "tanh"),
         r"G: expected 'mask' of shape \(2, 3\) \(batch, timesteps\), got shape \(2, 3, 1\)"),
    ]
    for (cell, W, R, b, h0, c0, mask, activation), message in cases:
        with pytest.raises(ValueError, match=message):
            _C.rnn(cell, x, W, R, b, h0, c0, mask, activation, False, False, True, "G")
    with pytest.raises(TypeError, match="G.*mask"):
        _C.rnn("gru", x, z(4, 6), z(2, 6), None, None, None, t64(np.ones((2, 3)), "float32"),
               "tanh", False, False, True, "G")
    with pytest.raises(TypeError, match="G.*bias"):
        _C.rnn("gru", x, z(4, 6), z(2, 6), t64(np.zeros((2, 6)), "float32"), None, None, None,
               "tanh", False, False, True, "G")
    with pytest.raises(ValueError, match="unknown cell 'elman'; expected simple_rnn, lstm or gru"):
        _C.rnn("elman", x, z(4, 2), z(2, 2), None, None, None, None, "tanh", False, False, True,
               "G")


def test_layer_arguments():
    with pytest.raises(NotImplementedError, match=r"GRU 'g': only reset_after=True"):
        layers.GRU(4, reset_after=False, name="g")
    for kind in (layers.GRU, layers.SimpleRNN):
        with pytest.raises(ValueError, match=r"recurrent_dropout: expected rate in \[0, 1\)"):
            kind(4, recurrent_dropout=1.5)
        with pytest.raises(NotImplementedError, match="stateful=True is not implemented"):
            kind(4, stateful=True)
        with pytest.raises(ValueError, match="positive integer"):
            kind(0)
        with pytest.raises(ValueError, match=r"initial_state to be a list \[h\] of 1"):
            kind(4)(np.zeros((2, 3, 5), np.float32), initial_state=[np.zeros((2, 4))] * 2)
    with pytest.raises(NotImplementedError, match="activation='tanh'"):
        layers.GRU(4, activation="relu")
    with pytest.raises(NotImplementedError, match="recurrent_activation='sigmoid'"):
        layers.GRU(4, recurrent_activation="hard_sigmoid")
    with pytest.raises(NotImplementedError,
                       match=r"expected activation to be one of 'tanh', 'relu', 'sigmoid', "
                             r"'linear', got 'gelu'"):
        layers.SimpleRNN(4, activation="gelu")
    layer = layers.GRU(4, name="gg")
    layer(np.zeros((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match=r"GRU 'gg': expected 'inputs' with 5 features"):
        layer(np.zeros((2, 3, 6), np.float32))
    with pytest.raises(ValueError, match=r"GRU 'gg': expected 'mask' of shape \(2, 3\)"):
        layer(np.zeros((2, 3, 5), np.float32), mask=np.ones((2, 4), bool))


# --- the layers ----------------------------------------------------------------------------

@pytest.mark.parametrize("kind, gates, bias_shape", [
    (layers.GRU, 3, (2, 15)), (layers.SimpleRNN, 1, (5,))])
def test_layer_weights_follow_keras(kind, gates, bias_shape):
    fn.manual_seed(0)
    layer = kind(5, input_shape=(4, 3))
    kernel, recurrent, bias = layer.get_weights()
    assert [w.name for w in layer.weights] == [f"{layer.name}/{k}" for k in
                                               ("kernel", "recurrent_kernel", "bias")]
    assert kernel.shape == (3, 5 * gates) and recurrent.shape == (5, 5 * gates)
    assert bias.shape == bias_shape and not bias.any()  # zeros
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(5), atol=1e-5)  # orthogonal
    assert kernel.dtype == np.float32 and np.abs(kernel).max() <= np.sqrt(6 / (3 + 5 * gates))
    assert len(kind(5, use_bias=False, input_shape=(4, 3)).weights) == 2
    assert layer.compute_output_shape((None, 4, 3)) == (None, 5)
    seq = kind(5, return_sequences=True, return_state=True)
    assert seq.compute_output_shape((None, 4, 3)) == [(None, 4, 5), (None, 5)]
    assert kind(5).get_config()["recurrent_initializer"] == "orthogonal"


@pytest.mark.parametrize("kind", [layers.GRU, layers.SimpleRNN])
def test_layer_outputs_as_keras(kind):
    rng = np.random.default_rng(13)
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    layer = kind(U, return_state=True)
    outs = layer(x)
    assert isinstance(outs, list) and len(outs) == 2
    out, h = outs
    assert tuple(out.shape) == (N, U) and np.array_equal(np.asarray(out), np.asarray(h))
    seq = kind(U, return_sequences=True)
    seq(x)
    seq.set_weights(layer.get_weights())
    y = np.asarray(seq(x))
    assert y.shape == (N, T, U) and np.array_equal(y[:, -1], np.asarray(h))
    both = kind(U, return_sequences=True, return_state=True)
    both(x)
    both.set_weights(layer.get_weights())
    y2, h2 = both(x)
    assert np.array_equal(np.asarray(y2), y) and np.array_equal(np.asarray(h2), np.asarray(h))
    cell = "gru" if kind is layers.GRU else "simple_rnn"
    want = reference(cell, x, *(w.astype(np.float64) for w in layer.get_weights()))
    np.testing.assert_allclose(y, want[0], atol=2e-6)
    # A single array as initial_state is the h state.
    h0 = rng.standard_normal((N, U)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(seq(x, initial_state=h0)),
                                  np.asarray(seq(x, initial_state=[h0])))


@pytest.mark.parametrize("kind, extra", [
    (layers.GRU, {}), (layers.SimpleRNN, {"activation": "relu"})])
def test_config_round_trip(kind, extra):
    layer = kind(4, return_sequences=True, go_backwards=True, use_bias=True, dropout=0.25,
                 seed=3, name="rec", input_shape=(T, F), **extra)
    config = layer.get_config()
    assert config["units"] == 4 and config["go_backwards"] and config["dropout"] == 0.25
    if kind is layers.GRU:
        assert config["reset_after"] is True and config["recurrent_activation"] == "sigmoid"
    else:
        assert config["activation"] == "relu"
    copy = kind.from_config(config)
    assert copy.get_config() == config
    x = np.random.default_rng(15).standard_normal((N, T, F)).astype(np.float32)
    copy(x)
    copy.set_weights(layer.get_weights())
    np.testing.assert_array_equal(np.asarray(copy(x)), np.asarray(layer(x)))


# --- training ------------------------------------------------------------------------------

def test_stacked_layers_train_in_a_sequential():
    rng = np.random.default_rng(16)
    x = rng.standard_normal((64, T, F)).astype(np.float32)
    y = (x[:, :, 0].sum(axis=1) > 0).astype(np.int64)
    fn.manual_seed(5)
    m = fn.Sequential([layers.GRU(8, return_sequences=True), layers.SimpleRNN(8),
                       layers.Dense(2)], input_shape=(T, F))
    m.compile(optimizer=fn.optimizers.Adam(0.01),
              loss=fn.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert len(m.weights) == 3 + 3 + 2
    losses = m.fit(x, y, epochs=8, batch_size=16, verbose=0).history["loss"]
    assert losses[-1] < 0.7 * losses[0]
    assert m.predict(x).shape == (64, 2)


@pytest.mark.parametrize("make_layers, kernels", [
    (lambda: [layers.GRU(U), layers.Dense(3)], 1),
    (lambda: [layers.SimpleRNN(U, activation="relu", return_sequences=True, go_backwards=True),
              layers.GRU(4, go_backwards=True), layers.Dense(3)], 2),
    (lambda: [layers.SimpleRNN(U), layers.Dense(3)], 1),
], ids=["gru_dense", "stacked_backwards", "simple_rnn_dense"])
def test_captured_fit_equals_eager_fit(make_layers, kernels):
    captured, loss_c = fit(True, make_layers)
    eager, loss_e = fit(False, make_layers)
    assert len(captured._captured) >= 2 and len(eager._captured) == 0
    assert captured._captured.refused == {}
    assert loss_c == loss_e and loss_c[-1] < loss_c[0]
    for a, b in zip(captured.get_weights(), eager.get_weights()):
        assert a.tobytes() == b.tobytes()
    plan = [e for k, e in captured._captured._entries.items() if k[0] == "train"][0].plan
    names = [name for name, _ in plan.profile(1)]
    # Each recurrent layer's whole recurrence: one launch forward, one backward.
    assert names.count("rnn_forward") == names.count("rnn_backward") == kernels


# --- recurrent dropout ---------------------------------------------------------------------

def dropped_reference(cell, x, W, R, b, h0, keep):
    """Each cell with h_prev * keep in place of h_prev inside the recurrent product only (the
    GRU's mix and the LSTM's cell update use the undropped state), in float64 numpy."""
    n, steps, _ = x.shape
    u = R.shape[0]
    h, c = np.asarray(h0, np.float64), np.zeros((n, u))
    seq = []
    for t in range(steps):
        zx, zh = x[:, t] @ W, (h * keep) @ R
        if cell == "gru":
            zx, zh = zx + b[0], zh + b[1]
            z = sigmoid(zx[:, :u] + zh[:, :u])
            r = sigmoid(zx[:, u:2 * u] + zh[:, u:2 * u])
            h = z * h + (1 - z) * np.tanh(zx[:, 2 * u:] + r * zh[:, 2 * u:])
        elif cell == "lstm":
            zz = zx + zh + b
            i, f, g, o = (zz[:, k * u:(k + 1) * u] for k in range(4))
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
        else:
            h = np.tanh(zx + zh + b)
        seq.append(h)
    return np.stack(seq, axis=1), h


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
def test_recurrent_mask_matches_numpy_and_finite_differences(cell):
    rng = np.random.default_rng(21)
    G = {"simple_rnn": 1, "lstm": 4, "gru": 3}[cell] * U
    x = rng.standard_normal((N, T, F))
    W, R = rng.standard_normal((F, G)) * 0.4, rng.standard_normal((U, G)) * 0.4
    b = rng.standard_normal((2, G) if cell == "gru" else G) * 0.4
    h0 = rng.standard_normal((N, U))
    keep = (rng.random((N, U)) > 0.3) / 0.7
    assert 0 < (keep == 0).sum() < keep.size  # some units dropped, not all
    mask = t64(keep)

    def op(x, W, R, b, h0):
        return _C.rnn(cell, x, W, R, b, h0, None, None, "tanh", False, False, True, "X", mask)

    seq, h_last, _ = op(*(t64(a) for a in (x, W, R, b, h0)))
    want_seq, want_h = dropped_reference(cell, x, W, R, b, h0, keep)
    np.testing.assert_allclose(np.asarray(seq), want_seq, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(np.asarray(h_last), want_h, rtol=1e-12, atol=1e-13)
    weights = t64(rng.standard_normal((N, T, U)))
    check_grad(lambda *a: fn.sum(op(*a)[0] * weights) + fn.sum(op(*a)[1]),
               [leaf(a) for a in (x, W, R, b, h0)])


@pytest.mark.parametrize("kind", [layers.SimpleRNN, layers.LSTM, layers.GRU])
def test_recurrent_dropout_trains_captured_as_eager_and_is_off_at_inference(kind):
    rng = np.random.default_rng(22)
    x = rng.standard_normal((64, 6, 3)).astype(np.float32)
    y = rng.integers(0, 2, 64)

    def run(capture):
        fn.manual_seed(5)
        model = fn.Sequential([kind(5, recurrent_dropout=0.4, dropout=0.2), layers.Dense(2)])
        model.compile("adam", fn.losses.SparseCategoricalCrossentropy(from_logits=True),
                      capture=capture)
        history = model.fit(x, y, epochs=2, batch_size=16, verbose=0).history["loss"]
        return history, model

    captured, model = run(True)
    eager, _ = run(False)
    np.testing.assert_allclose(captured, eager, rtol=1e-6)
    # Inference draws nothing: two predictions agree, and equal a model without dropout.
    plain = fn.Sequential([kind(5), layers.Dense(2)])
    plain(x[:2])
    plain.set_weights(model.get_weights())
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
    np.testing.assert_allclose(model.predict(x, verbose=0), plain.predict(x, verbose=0),
                               rtol=1e-6)


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
def test_a_batch_big_enough_for_row_blocks_equals_its_samples_alone(cell):
    """The CPU recurrence hands blocks of rows to threads once a batch has 32+ rows and the
    work is large: every row's outputs and its share of each gradient must equal running that
    sample alone (one block), with a step mask and recurrent dropout in play."""
    rng = np.random.default_rng(23)
    n, steps, features, units = 40, 9, 5, 40
    G = {"simple_rnn": 1, "lstm": 4, "gru": 3}[cell] * units
    assert steps * n * units * G >= 1 << 19  # rnn_recurrence.cpp: blocks from here on
    x = rng.standard_normal((n, steps, features))
    W, R = rng.standard_normal((features, G)) * 0.3, rng.standard_normal((units, G)) * 0.3
    b = rng.standard_normal((2, G) if cell == "gru" else G) * 0.3
    h0 = rng.standard_normal((n, units))
    mask = (rng.random((n, steps)) > 0.2).astype(np.float64)
    drop = (rng.random((n, units)) > 0.25) / 0.75
    out_w = rng.standard_normal((n, steps, units))

    def run(rows):
        args = [leaf(a[rows]) for a in (x,)] + [leaf(W), leaf(R), leaf(b)] + [leaf(h0[rows])]
        seq, h_last, _ = _C.rnn(cell, args[0], args[1], args[2], args[3], args[4], None,
                                t64(mask[rows]), "tanh", False, False, True, "X",
                                t64(drop[rows]))
        (fn.sum(seq * t64(out_w[rows])) + fn.sum(h_last)).backward()
        return np.asarray(seq), [np.asarray(a.grad) for a in args]

    seq, grads = run(slice(None))
    alone = [run(slice(i, i + 1)) for i in range(n)]
    np.testing.assert_allclose(seq, np.concatenate([s for s, _ in alone]), rtol=1e-11,
                               atol=1e-12)
    for k in (0, 4):  # x and h0: per row
        np.testing.assert_allclose(grads[k], np.concatenate([g[k] for _, g in alone]),
                                   rtol=1e-10, atol=1e-11)
    for k in (1, 2, 3):  # W, R, b: summed over rows
        np.testing.assert_allclose(grads[k], sum(g[k] for _, g in alone), rtol=1e-10,
                                   atol=1e-10)
