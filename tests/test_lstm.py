"""The LSTM op and layer: forward against a float64 numpy reference and PyTorch's nn.LSTM,
every gradient against central finite differences and PyTorch, the engine's several-output
nodes (each output alone or together), thread-count independence, argument errors, and a
captured fit against the eager one."""

import numpy as np
import pytest

import fastnn as fn
from fastnn import _C, layers

from conftest import check_grad, check_grad_f32, leaf

N, T, F, U = 3, 5, 7, 6  # odd sizes, none equal


def lstm_op(x, W, R, b=None, h0=None, c0=None, go_backwards=False, who="LSTM", mask=None):
    """The rnn op as an LSTM: (h_seq, h_last, c_last)."""
    return _C.rnn("lstm", x, W, R, b, h0, c0, mask, "tanh", go_backwards, False, True, who)


def sigmoid(z):
    """Without overflow for huge |z| (the fuzz tests share this reference)."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def reference(x, W, R, b, h0=None, c0=None, go_backwards=False):
    """Keras's LSTM in float64 numpy: returns (h_seq, h_last, c_last)."""
    n, steps, _ = x.shape
    u = R.shape[0]
    h = np.zeros((n, u)) if h0 is None else np.asarray(h0, np.float64)
    c = np.zeros((n, u)) if c0 is None else np.asarray(c0, np.float64)
    xs = x[:, ::-1] if go_backwards else x
    seq = []
    for t in range(steps):
        z = xs[:, t] @ W + h @ R + (0 if b is None else b)
        i, f, g, o = (z[:, k * u:(k + 1) * u] for k in range(4))
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        seq.append(h)
    return np.stack(seq, axis=1), h, c


def draw(rng, n=N, steps=T, features=F, units=U):
    return dict(x=rng.standard_normal((n, steps, features)),
                W=rng.standard_normal((features, 4 * units)) * 0.4,
                R=rng.standard_normal((units, 4 * units)) * 0.4,
                b=rng.standard_normal(4 * units) * 0.4,
                h0=rng.standard_normal((n, units)), c0=rng.standard_normal((n, units)))


def t64(a, dtype="float64"):
    return fn.tensor(np.asarray(a), dtype=dtype)


# --- forward -------------------------------------------------------------------------------

@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("state", [False, True])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("dtype, tol", [("float64", 1e-13), ("float32", 2e-6)])
def test_forward_matches_numpy(go_backwards, state, use_bias, dtype, tol):
    rng = np.random.default_rng(1)
    a = draw(rng)
    b = a["b"] if use_bias else None
    h0, c0 = (a["h0"], a["c0"]) if state else (None, None)
    want = reference(a["x"], a["W"], a["R"], b, h0, c0, go_backwards)
    got = lstm_op(t64(a["x"], dtype), t64(a["W"], dtype), t64(a["R"], dtype),
                  None if b is None else t64(b, dtype), None if h0 is None else t64(h0, dtype),
                  None if c0 is None else t64(c0, dtype), go_backwards, "lstm")
    for g, w in zip(got, want):
        assert g.dtype == dtype and tuple(g.shape) == w.shape
        np.testing.assert_allclose(np.asarray(g, np.float64), w, rtol=0, atol=tol)


def test_one_step_and_one_sample():
    rng = np.random.default_rng(2)
    a = draw(rng, n=1, steps=1, features=1, units=1)
    got = lstm_op(*(t64(a[k]) for k in ("x", "W", "R", "b", "h0", "c0")))
    want = reference(a["x"], a["W"], a["R"], a["b"], a["h0"], a["c0"])
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), w, rtol=1e-14, atol=1e-15)


# --- gradients: finite differences ---------------------------------------------------------

# Which outputs the loss uses: every gradient path (h_seq's per-step terms, h_last's and
# c_last's entry into the last step) alone and together.
USES = ["seq", "last", "cell", "all"]


def weighted_loss(outs, weights, use):
    h_seq, h_last, c_last = outs
    like = h_seq.dtype
    terms = {"seq": lambda: (h_seq * t64(weights[0], like)).sum(),
             "last": lambda: (h_last * t64(weights[1], like)).sum(),
             "cell": lambda: (c_last * t64(weights[2], like)).sum()}
    if use == "all":
        return terms["seq"]() + terms["last"]() + terms["cell"]()
    return terms[use]()


def loss_weights(rng, n=N, steps=T, units=U):
    return (rng.standard_normal((n, steps, units)), rng.standard_normal((n, units)),
            rng.standard_normal((n, units)))


@pytest.mark.parametrize("use", USES)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_all_gradients_match_finite_differences(use, go_backwards):
    rng = np.random.default_rng(3)
    a = draw(rng)
    w = loss_weights(rng)

    def f(x, W, R, b, h0, c0):
        return weighted_loss(lstm_op(x, W, R, b, h0, c0, go_backwards), w, use)

    check_grad(f, [leaf(a[k]) for k in ("x", "W", "R", "b", "h0", "c0")])


def test_gradients_without_bias_or_state_float64_and_float32():
    rng = np.random.default_rng(4)
    a = draw(rng)
    w = loss_weights(rng)

    def f(x, W, R):
        return weighted_loss(lstm_op(x, W, R), w, "all")

    check_grad(f, [leaf(a[k]) for k in ("x", "W", "R")])
    check_grad_f32(f, [leaf(a[k], "float32") for k in ("x", "W", "R")])


def test_float32_gradients_with_bias_and_state():
    rng = np.random.default_rng(5)
    a = draw(rng)
    w = loss_weights(rng)

    def f(x, W, R, b, h0, c0):
        return weighted_loss(lstm_op(x, W, R, b, h0, c0, True), w, "all")

    check_grad_f32(f, [leaf(a[k], "float32") for k in ("x", "W", "R", "b", "h0", "c0")])


# --- PyTorch as a second oracle ------------------------------------------------------------

def torch_lstm(torch, a, dtype):
    """nn.LSTM with the Keras weights: weight_ih = kernel^T (gate order i, f, g, o is Keras's
    i, f, c, o), weight_hh = recurrent_kernel^T, bias_ih = bias, bias_hh = 0."""
    tdt = torch.float64 if dtype == "float64" else torch.float32
    m = torch.nn.LSTM(a["W"].shape[0], a["R"].shape[0], batch_first=True).to(tdt)
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.tensor(a["W"].T))
        m.weight_hh_l0.copy_(torch.tensor(a["R"].T))
        m.bias_ih_l0.copy_(torch.tensor(a["b"]))
        m.bias_hh_l0.zero_()
    return m, tdt


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("state", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_layer_matches_torch(return_sequences, go_backwards, state, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    a = draw(rng)
    w = loss_weights(rng)
    m, tdt = torch_lstm(torch, a, dtype)
    xt = torch.tensor(a["x"][:, ::-1].copy() if go_backwards else a["x"], dtype=tdt,
                      requires_grad=True)
    h0t = torch.tensor(a["h0"][None], dtype=tdt, requires_grad=True)
    c0t = torch.tensor(a["c0"][None], dtype=tdt, requires_grad=True)
    y, (hn, cn) = m(xt, (h0t, c0t)) if state else m(xt)
    out_t = y if return_sequences else hn[0]
    wo = w[0] if return_sequences else w[1]
    loss_t = ((out_t * torch.tensor(wo, dtype=tdt)).sum()
              + (hn[0] * torch.tensor(w[1], dtype=tdt)).sum()
              + (cn[0] * torch.tensor(w[2], dtype=tdt)).sum())
    loss_t.backward()

    layer = layers.LSTM(U, return_sequences=return_sequences, return_state=True,
                        go_backwards=go_backwards, dtype=dtype, input_shape=(T, F))
    layer.set_weights([a["W"], a["R"], a["b"]])
    x = leaf(a["x"], dtype)
    h0, c0 = leaf(a["h0"], dtype), leaf(a["c0"], dtype)
    out, h, c = layer(x, initial_state=[h0, c0]) if state else layer(x)
    loss = ((out * t64(wo, dtype)).sum() + (h * t64(w[1], dtype)).sum()
            + (c * t64(w[2], dtype)).sum())
    loss.backward()

    tol = dict(rtol=1e-12, atol=1e-13) if dtype == "float64" else dict(rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(np.asarray(out), out_t.detach().numpy(), **tol)
    np.testing.assert_allclose(np.asarray(h), hn[0].detach().numpy(), **tol)
    np.testing.assert_allclose(np.asarray(c), cn[0].detach().numpy(), **tol)
    gx = xt.grad.numpy()
    np.testing.assert_allclose(np.asarray(x.grad), gx[:, ::-1] if go_backwards else gx, **tol)
    kernel, recurrent, bias = layer.parameters()
    np.testing.assert_allclose(np.asarray(kernel.grad), m.weight_ih_l0.grad.numpy().T, **tol)
    np.testing.assert_allclose(np.asarray(recurrent.grad), m.weight_hh_l0.grad.numpy().T, **tol)
    np.testing.assert_allclose(np.asarray(bias.grad), m.bias_ih_l0.grad.numpy(), **tol)
    if state:
        np.testing.assert_allclose(np.asarray(h0.grad), h0t.grad[0].numpy(), **tol)
        np.testing.assert_allclose(np.asarray(c0.grad), c0t.grad[0].numpy(), **tol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_wide_layer_matches_torch(dtype):
    # 40 rows in two blocks of 20 and 130 units: each step's recurrent GEMMs (20 x 130 by
    # 130 x 520, and back) exceed OpenBLAS's small-GEMM size and run in pieces (columns
    # forward, slices of k backward) where its kernel has that path.
    torch = pytest.importorskip("torch")
    n, steps, features, units = 40, 3, 9, 130
    rng = np.random.default_rng(16)
    a = draw(rng, n, steps, features, units)
    a["W"], a["R"] = a["W"] * 0.3, a["R"] * 0.3  # gates away from saturation
    w = loss_weights(rng, n, steps, units)
    m, tdt = torch_lstm(torch, a, dtype)
    xt = torch.tensor(a["x"], dtype=tdt, requires_grad=True)
    h0t = torch.tensor(a["h0"][None], dtype=tdt, requires_grad=True)
    c0t = torch.tensor(a["c0"][None], dtype=tdt, requires_grad=True)
    y, (hn, cn) = m(xt, (h0t, c0t))
    ((y * torch.tensor(w[0], dtype=tdt)).sum() + (cn[0] * torch.tensor(w[2], dtype=tdt)).sum()
     ).backward()
    ins = [leaf(a[k], dtype) for k in ("x", "W", "R", "b", "h0", "c0")]
    outs = lstm_op(*ins)
    weighted_loss(outs, w, "seq").add(weighted_loss(outs, w, "cell")).backward()
    tol = dict(rtol=1e-11, atol=1e-12) if dtype == "float64" else dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(outs[0]), y.detach().numpy(), **tol)
    for mine, theirs in [(ins[0], xt.grad), (ins[1], m.weight_ih_l0.grad.T),
                         (ins[2], m.weight_hh_l0.grad.T), (ins[3], m.bias_ih_l0.grad),
                         (ins[4], h0t.grad[0]), (ins[5], c0t.grad[0])]:
        np.testing.assert_allclose(np.asarray(mine.grad), theirs.numpy(), **tol)


# --- the engine's several-output node ------------------------------------------------------

def grads_of(loss_fn, a, dtype="float64"):
    ins = [leaf(a[k], dtype) for k in ("x", "W", "R", "b", "h0", "c0")]
    outs = lstm_op(*ins)
    loss_fn(outs).backward()
    return [np.asarray(t.grad) for t in ins]


def test_outputs_are_one_node_and_their_gradients_add_up():
    rng = np.random.default_rng(7)
    a = draw(rng)
    w = loss_weights(rng)
    outs = lstm_op(*(leaf(a[k]) for k in ("x", "W", "R", "b", "h0", "c0")), False, "my_lstm")
    assert [o.grad_fn for o in outs] == ["my_lstm"] * 3
    # h_last is h_seq's last step: a loss on both is the loss on h_last with twice the weight.
    last_only = np.zeros_like(w[0])
    last_only[:, -1] = w[1]
    both = grads_of(lambda o: (o[0] * t64(last_only)).sum() + (o[1] * t64(w[1])).sum(), a)
    twice = grads_of(lambda o: (o[1] * t64(2 * w[1])).sum(), a)
    via_seq = grads_of(lambda o: (o[0] * t64(last_only)).sum(), a)
    for g2, g1, gs in zip(both, twice, via_seq):
        np.testing.assert_allclose(g2, g1, rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(gs, g1 / 2, rtol=1e-13, atol=1e-14)
    # Separate losses on each output sum to the loss on all of them.
    parts = [grads_of(lambda o, k=k: weighted_loss(o, w, k), a) for k in ("seq", "last", "cell")]
    total = grads_of(lambda o: weighted_loss(o, w, "all"), a)
    for i, g in enumerate(total):
        np.testing.assert_allclose(parts[0][i] + parts[1][i] + parts[2][i], g, rtol=1e-12,
                                   atol=1e-13)


def test_an_output_used_twice_and_a_stack_whose_first_layer_feeds_two_paths():
    """The walk reaches the first LSTM's node only after both its outputs got their
    gradients: from the second LSTM (h_seq) and straight from the loss (c_last)."""
    rng = np.random.default_rng(8)
    a = draw(rng)
    a2 = draw(rng, features=U, units=4)
    w = loss_weights(rng, units=4)
    wc = rng.standard_normal((N, U))

    def f(x, W, R, b, W2, R2):
        h_seq, h_last, c_last = lstm_op(x, W, R, b)
        top = lstm_op(h_seq, W2, R2)
        return (weighted_loss(top, w, "all") + (c_last * t64(wc)).sum()
                + (h_last * h_last).sum())

    check_grad(f, [leaf(a["x"]), leaf(a["W"]), leaf(a["R"]), leaf(a["b"]), leaf(a2["W"]),
                   leaf(a2["R"])])


def test_retain_graph_and_release():
    rng = np.random.default_rng(9)
    a = draw(rng)
    w = loss_weights(rng)
    x = leaf(a["x"])
    h_seq, h_last, c_last = lstm_op(x, t64(a["W"]), t64(a["R"]))
    loss = weighted_loss((h_seq, h_last, c_last), w, "all")
    loss.backward(retain_graph=True)
    once = np.asarray(x.grad).copy()
    loss.backward()
    np.testing.assert_allclose(np.asarray(x.grad), 2 * once, rtol=1e-13)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()
    # The node is freed for its other outputs too.
    with pytest.raises(RuntimeError, match="second time"):
        (h_last * t64(w[1])).sum().backward()


def test_backward_from_each_output_in_turn_accumulates():
    rng = np.random.default_rng(10)
    a = draw(rng)
    w = loss_weights(rng)
    x = leaf(a["x"])
    outs = lstm_op(x, *(t64(a[k]) for k in ("W", "R", "b", "h0", "c0")))
    for k in range(3):
        outs[k].backward(t64(w[k]), retain_graph=True)
    total = grads_of(lambda o: weighted_loss(o, w, "all"), a)
    np.testing.assert_allclose(np.asarray(x.grad), total[0], rtol=1e-12, atol=1e-13)


def test_no_graph_under_no_grad_and_without_grad_inputs():
    rng = np.random.default_rng(11)
    a = draw(rng)
    with fn.no_grad():
        outs = lstm_op(leaf(a["x"]), leaf(a["W"]), leaf(a["R"]))
    assert all(o.grad_fn is None and not o.requires_grad for o in outs)
    outs = lstm_op(t64(a["x"]), t64(a["W"]), t64(a["R"]))
    assert all(o.grad_fn is None for o in outs)


# --- threads -------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_results_do_not_depend_on_the_thread_count(dtype):
    rng = np.random.default_rng(12)
    a = draw(rng, n=67, steps=4, features=33, units=65)  # enough rows to split the cell loops
    w = loss_weights(rng, n=67, steps=4, units=65)
    before = fn.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            fn.set_num_threads(threads)
            ins = [leaf(a[k], dtype) for k in ("x", "W", "R", "b", "h0", "c0")]
            outs = lstm_op(*ins, True)
            weighted_loss(outs, w, "all").backward()
            results.append([np.asarray(o).tobytes() for o in outs]
                           + [np.asarray(t.grad).tobytes() for t in ins])
    finally:
        fn.set_num_threads(before)
    assert results[0] == results[1]


# --- errors --------------------------------------------------------------------------------

def test_bad_arguments_raise_naming_the_argument():
    def z(*shape):
        return t64(np.zeros(shape))

    x, W, R, b, s = z(2, 3, 4), z(4, 8), z(2, 8), z(8), z(2, 2)
    cases = [
        (dict(x=z(2, 4)),
         r"L: expected 'inputs' of shape \(batch, timesteps, features\), got shape \(2, 4\)"),
        (dict(x=z(0, 3, 4)), r"L: expected a non-empty 'inputs'"),
        (dict(W=z(5, 8)), r"L: expected 'inputs' with 5 features \(the kernel's rows\), got "
                          r"shape \(2, 3, 4\)"),
        (dict(W=z(4, 8, 1)),
         r"L: expected 'kernel' of shape \(features, 4 \* units \(gates.*\), got shape \(4, 8, 1\)"),
        (dict(W=z(4, 6)), r"L: expected 'kernel' with 4 \* units \(gates i, f, c, o\) columns"),
        (dict(R=z(3, 8)),
         r"L: expected 'recurrent_kernel' of shape \(2, 8\).*got shape \(3, 8\)"),
        (dict(b=z(6)), r"L: expected 'bias' of shape \(8,\).*got shape \(6,\)"),
        (dict(h0=z(3, 2)),
         r"L: expected 'initial_state h' of shape \(2, 2\).*got shape \(3, 2\)"),
        (dict(c0=z(2, 2, 1)), r"L: expected 'initial_state c' of shape \(2, 2\)"),
    ]
    for change, message in cases:
        args = dict(x=x, W=W, R=R, b=b, h0=s, c0=s)
        args.update(change)
        with pytest.raises(ValueError, match=message):
            lstm_op(args["x"], args["W"], args["R"], args["b"], args["h0"], args["c0"], False, "L")
    with pytest.raises(TypeError, match="L.*kernel"):
        lstm_op(x, t64(np.zeros((4, 8)), "float32"), R, b, None, None, False, "L")
    with pytest.raises(TypeError, match="L.*initial_state c"):
        lstm_op(x, W, R, b, s, t64(np.zeros((2, 2)), "float32"), False, "L")


def test_layer_arguments():
    with pytest.raises(NotImplementedError, match="activation='tanh'"):
        layers.LSTM(4, activation="relu")
    with pytest.raises(NotImplementedError, match="recurrent_activation='sigmoid'"):
        layers.LSTM(4, recurrent_activation="hard_sigmoid")
    with pytest.raises(ValueError, match="positive integer"):
        layers.LSTM(0)
    with pytest.raises(ValueError, match=r"\(batch, timesteps, features\)"):
        layers.LSTM(4)(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"initial_state to be a list \[h, c\]"):
        layers.LSTM(4)(np.zeros((2, 3, 5), np.float32), initial_state=np.zeros((2, 4)))
    layer = layers.LSTM(4)
    layer(np.zeros((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match=r"LSTM 'lstm.*': expected 'inputs' with 5 features"):
        layer(np.zeros((2, 3, 6), np.float32))
    with pytest.raises(ValueError, match=r"'initial_state h' of shape \(2, 4\)"):
        layers.LSTM(4)(np.zeros((2, 3, 5), np.float32),
                       initial_state=[np.zeros((2, 5)), np.zeros((2, 4))])


# --- the layer -----------------------------------------------------------------------------

def test_layer_weights_follow_keras():
    fn.manual_seed(0)
    layer = layers.LSTM(5, input_shape=(4, 3))
    kernel, recurrent, bias = layer.get_weights()
    assert [w.name for w in layer.weights] == [f"{layer.name}/kernel",
                                               f"{layer.name}/recurrent_kernel",
                                               f"{layer.name}/bias"]
    assert kernel.shape == (3, 20) and recurrent.shape == (5, 20) and bias.shape == (20,)
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(5), atol=1e-5)  # orthogonal
    np.testing.assert_array_equal(bias, np.r_[np.zeros(5), np.ones(5), np.zeros(10)])
    assert not layers.LSTM(5, unit_forget_bias=False, input_shape=(4, 3)).get_weights()[2].any()
    assert len(layers.LSTM(5, use_bias=False, input_shape=(4, 3)).weights) == 2
    assert layer.compute_output_shape((None, 4, 3)) == (None, 5)
    seq = layers.LSTM(5, return_sequences=True, return_state=True)
    assert seq.compute_output_shape((None, 4, 3)) == [(None, 4, 5), (None, 5), (None, 5)]


def test_layer_outputs_as_keras():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    layer = layers.LSTM(U, return_state=True)
    out, h, c = layer(x)
    assert tuple(out.shape) == (N, U) and np.array_equal(np.asarray(out), np.asarray(h))
    seq = layers.LSTM(U, return_sequences=True)
    seq(x)
    seq.set_weights(layer.get_weights())
    y = np.asarray(seq(x))
    assert y.shape == (N, T, U) and np.array_equal(y[:, -1], np.asarray(h))
    want = reference(x.astype(np.float64), *(w.astype(np.float64) for w in layer.get_weights()))
    np.testing.assert_allclose(np.asarray(c), want[2], atol=2e-6)


# --- training ------------------------------------------------------------------------------

def fit(capture, make_layers, epochs=3):
    rng = np.random.default_rng(14)
    x = rng.standard_normal((37, T, F)).astype(np.float32)  # batches 8 * 4 + 5
    y = rng.integers(0, 3, 37)
    fn.manual_seed(3)
    m = fn.Sequential(make_layers(), input_shape=(T, F))
    m.compile(optimizer="adam", loss=fn.losses.SparseCategoricalCrossentropy(from_logits=True),
              capture=capture)
    h = m.fit(x, y, epochs=epochs, batch_size=8, verbose=0)
    return m, h.history["loss"]


@pytest.mark.parametrize("make_layers", [
    lambda: [layers.LSTM(U), layers.Dense(3)],
    lambda: [layers.LSTM(U, return_sequences=True, go_backwards=True), layers.LSTM(4),
             layers.Dense(3)],
], ids=["lstm_dense", "stacked_backwards"])
def test_captured_fit_equals_eager_fit(make_layers):
    captured, loss_c = fit(True, make_layers)
    eager, loss_e = fit(False, make_layers)
    assert len(captured._captured) >= 2 and len(eager._captured) == 0
    assert loss_c == loss_e and loss_c[-1] < loss_c[0]
    for a, b in zip(captured.get_weights(), eager.get_weights()):
        assert a.tobytes() == b.tobytes()
    # The whole sequence replays: each LSTM's recurrence (all its steps, one launch each way)
    # is in the plan (profiling runs the step once more, so it comes after the comparison).
    plan = [e for k, e in captured._captured._entries.items() if k[0] == "train"][0].plan
    names = [name for name, _ in plan.profile(1)]
    recurrent = sum(isinstance(layer, layers.LSTM) for layer in captured.layers)
    assert names.count("rnn_forward") == names.count("rnn_backward") == recurrent
