"""Masks in the recurrent layers (Keras's semantics: a step whose mask is 0 is skipped, the
state carries through it and the sequence output there is zero).

The acceptance criterion: a post-padded batch through Embedding(mask_zero=True) and an LSTM,
GRU or SimpleRNN gives the final states and the gradients of every weight that running each
sequence alone at its true length gives (summed over the sequences), forwards and with
go_backwards, with and without return_sequences. Also: masked op gradients against finite
differences, the Masking layer, mask= passed explicitly, masks through a Sequential, a
captured fit with masks against the eager one, and Bidirectional (merge modes, states,
weights, masks, configs, gradients)."""

import warnings

import numpy as np
import pytest

import fastnn as fn
from fastnn import _C, layers

from conftest import check_grad, leaf
from test_lstm import reference as lstm_reference, t64
from test_rnn_cells import reference as cell_reference

KINDS = {"lstm": layers.LSTM, "gru": layers.GRU, "simple_rnn": layers.SimpleRNN}
GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}
V, E, U, STEPS = 13, 4, 5, 6
LENGTHS = [4, 1, 6, 3, 2]  # post-padded to STEPS; one full-length, one of a single step


def masked_reference(cell, x, W, R, b=None, h0=None, c0=None, mask=None, go_backwards=False):
    """Any cell in float64 numpy, step by step from the unmasked references: (h_seq in
    processing order, h_last, c_last or None); a step whose mask is 0 keeps the states and
    outputs zero."""
    n, steps, _ = x.shape
    u = R.shape[0]
    h = np.zeros((n, u)) if h0 is None else h0
    c = np.zeros((n, u)) if c0 is None else c0
    mask = np.ones((n, steps)) if mask is None else np.asarray(mask, np.float64)
    xs, ms = (x[:, ::-1], mask[:, ::-1]) if go_backwards else (x, mask)
    seq = []
    for t in range(steps):
        if cell == "lstm":
            _, h_new, c_new = lstm_reference(xs[:, t:t + 1], W, R, b, h, c)
        else:
            _, h_new = cell_reference(cell, xs[:, t:t + 1], W, R, b, h)
            c_new = c
        keep = ms[:, t:t + 1] != 0
        h, c = np.where(keep, h_new, h), np.where(keep, c_new, c)
        seq.append(np.where(keep, h, 0.0))
    return np.stack(seq, axis=1), h, (c if cell == "lstm" else None)


def random_weights(rng, cell, features, units=U):
    G = GATES[cell] * units
    return [rng.standard_normal((features, G)) * 0.5, rng.standard_normal((units, G)) * 0.5,
            rng.standard_normal((2, G) if cell == "gru" else G) * 0.5]


def padded_ids(rng, lengths=LENGTHS, steps=STEPS, vocab=V):
    ids = np.zeros((len(lengths), steps), np.int64)
    for i, length in enumerate(lengths):
        ids[i, :length] = rng.integers(1, vocab, length)
    return ids


def mask_of(lengths=LENGTHS, steps=STEPS):
    return (np.arange(steps)[None, :] < np.asarray(lengths)[:, None]).astype(np.float64)


# --- the op: forward and gradients with a mask ---------------------------------------------

# Rows: no padding, the first steps masked (a state carried from h0), holes in the middle
# (any mask is allowed, not only padding), everything masked (h_last = h0).
OP_MASK = np.array([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1], [1, 0, 1, 0, 1], [0, 0, 0, 0, 0]],
                   np.float64)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("cell", list(KINDS))
def test_op_with_a_mask_matches_numpy_and_finite_differences(cell, go_backwards):
    rng = np.random.default_rng(1)
    n, steps, features = OP_MASK.shape + (3,)
    x = rng.standard_normal((n, steps, features))
    W, R, b = random_weights(rng, cell, features)
    h0, c0 = rng.standard_normal((n, U)), rng.standard_normal((n, U))
    c0 = c0 if cell == "lstm" else None
    want = masked_reference(cell, x, W, R, b, h0, c0, OP_MASK, go_backwards)
    got = _C.rnn(cell, *(None if a is None else t64(a) for a in (x, W, R, b, h0, c0, OP_MASK)),
                 "tanh", go_backwards, False, True, "M")
    for g, w in zip(got, want):
        if w is not None:
            np.testing.assert_allclose(np.asarray(g), w, rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(np.asarray(got[1])[3], h0[3])  # fully masked: h0 unchanged
    ws = [rng.standard_normal(s) for s in ((n, steps, U), (n, U), (n, U))]

    def f(x, W, R, b, h0, *c0):
        outs = _C.rnn(cell, x, W, R, b, h0, c0[0] if c0 else None, t64(OP_MASK), "tanh",
                      go_backwards, False, True, "M")
        return sum((o * t64(w)).sum() for o, w in zip(outs, ws) if o is not None)

    ins = [leaf(a) for a in (x, W, R, b, h0) + ((c0,) if cell == "lstm" else ())]
    grads = check_grad(f, ins)
    # Masked steps take no gradient; a fully masked row passes the loss straight to h0.
    assert not grads[0][OP_MASK == 0].any()
    np.testing.assert_allclose(grads[4][3], ws[1][3], rtol=1e-14)


# --- the acceptance criterion: padded batch == each sequence alone -------------------------

def embedded_rnn(cell, rng, **kwargs):
    emb = layers.Embedding(V, E, mask_zero=True, dtype="float64")
    emb.set_weights([rng.standard_normal((V, E))])
    rnn = KINDS[cell](U, return_state=True, dtype="float64", input_shape=(None, E), **kwargs)
    rnn.set_weights(random_weights(rng, cell, E))
    return emb, rnn


def run_and_grads(emb, rnn, ids, weights):
    """rnn(emb(ids)) with a weighted-sum loss on every output: (outputs, weight gradients)."""
    params = emb.weights + rnn.weights
    for p in params:
        p.grad = None
    outs = rnn(emb(ids))
    sum((o * t64(w)).sum() for o, w in zip(outs, weights)).backward()
    return [np.asarray(o) for o in outs], [np.asarray(p.grad).copy() for p in params]


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("cell", list(KINDS))
def test_padded_batch_equals_each_sequence_alone(cell, go_backwards, return_sequences):
    rng = np.random.default_rng(2)
    ids = padded_ids(rng)
    emb, rnn = embedded_rnn(cell, rng, go_backwards=go_backwards,
                            return_sequences=return_sequences)
    n_states = 2 if cell == "lstm" else 1
    w_out = rng.standard_normal((len(LENGTHS), STEPS, U) if return_sequences
                                else (len(LENGTHS), U))
    w_states = [rng.standard_normal((len(LENGTHS), U)) for _ in range(n_states)]
    outs, grads = run_and_grads(emb, rnn, ids, [w_out] + w_states)
    total = [np.zeros_like(g) for g in grads]
    for i, length in enumerate(LENGTHS):
        # With go_backwards the sequence comes in processing order: padding first.
        valid = slice(STEPS - length, STEPS) if go_backwards else slice(0, length)
        wo = w_out[i:i + 1, valid] if return_sequences else w_out[i:i + 1]
        alone, g_alone = run_and_grads(emb, rnn, ids[i:i + 1, :length],
                                       [wo] + [w[i:i + 1] for w in w_states])
        for padded, lone in zip(outs[1:], alone[1:]):  # final states
            np.testing.assert_allclose(padded[i], lone[0], rtol=1e-13, atol=1e-14)
        if return_sequences:
            np.testing.assert_allclose(outs[0][i, valid], alone[0][0], rtol=1e-13, atol=1e-14)
            padding = np.ones(STEPS, bool)
            padding[valid] = False
            assert not outs[0][i, padding].any()  # exactly zero at padded steps
        else:
            np.testing.assert_array_equal(outs[0][i], outs[1][i])
        total = [t + g for t, g in zip(total, g_alone)]
    for name, padded, summed in zip(["embeddings", "kernel", "recurrent_kernel", "bias"],
                                    grads, total):
        np.testing.assert_allclose(padded, summed, rtol=1e-12, atol=1e-13, err_msg=name)
    assert not grads[0][0].any()  # the padding id's row takes no gradient


# --- the Masking layer and explicit masks --------------------------------------------------

def masked_steps_input(rng, value):
    x = rng.standard_normal((4, 5, 3))
    x[0, 2] = x[1, 0] = x[2, 3:] = value  # whole steps equal to the mask value
    x[3, 1, 0] = value                    # one feature only: not masked
    keep = np.ones((4, 5))
    keep[0, 2] = keep[1, 0] = 0
    keep[2, 3:] = 0
    return x, keep


@pytest.mark.parametrize("value", [0.0, -1.5])
def test_masking_layer_masks_and_zeroes_steps(value):
    rng = np.random.default_rng(3)
    x, keep = masked_steps_input(rng, value)
    masking = layers.Masking(mask_value=value, dtype="float64")
    y = masking(x)
    np.testing.assert_array_equal(np.asarray(y._keras_mask), keep)
    np.testing.assert_array_equal(np.asarray(y), x * keep[:, :, None])
    np.testing.assert_array_equal(np.asarray(masking.compute_mask(fn.tensor(x))), keep)
    gru = layers.GRU(U, return_sequences=True, dtype="float64")
    gru(x)
    gru.set_weights(random_weights(rng, "gru", 3))
    want = masked_reference("gru", x, *gru.get_weights(), mask=keep)[0]
    np.testing.assert_allclose(np.asarray(gru(masking(x))), want, rtol=1e-13, atol=1e-14)
    assert layers.Masking.from_config(masking.get_config()).mask_value == value


def test_gradient_through_masking():
    rng = np.random.default_rng(4)
    x, keep = masked_steps_input(rng, 0.0)
    masking = layers.Masking(dtype="float64")
    lstm = layers.LSTM(U, return_sequences=True, return_state=True, dtype="float64",
                       input_shape=(5, 3))
    lstm.set_weights(random_weights(rng, "lstm", 3))
    ws = [rng.standard_normal(s) for s in ((4, 5, U), (4, U), (4, U))]

    def loss(xt, mask=None):
        outs = lstm(masking(xt)) if mask is None else lstm(xt, mask=mask)
        return sum((o * t64(w)).sum() for o, w in zip(outs, ws))

    xl = leaf(x)
    loss(xl).backward()
    through = np.asarray(xl.grad)
    xe = leaf(x)
    loss(xe, keep).backward()
    np.testing.assert_allclose(through, np.asarray(xe.grad), rtol=1e-13, atol=1e-14)
    assert not through[keep == 0].any()
    # Central differences at the kept entries (moving a masked one would unmask its step).
    with fn.no_grad():
        for idx in zip(*np.nonzero(np.broadcast_to(keep[:, :, None], x.shape))):
            moved = [x.copy(), x.copy()]
            moved[0][idx] += 1e-6
            moved[1][idx] -= 1e-6
            f = [float(np.asarray(loss(fn.tensor(m, dtype="float64")))) for m in moved]
            assert abs((f[0] - f[1]) / 2e-6 - through[idx]) < 1e-6 * max(1, abs(through[idx]))


def test_masking_compute_mask_takes_a_numpy_array():
    x, keep = masked_steps_input(np.random.default_rng(14), 0.0)
    np.testing.assert_array_equal(np.asarray(layers.Masking().compute_mask(x)), keep)


def test_masking_arguments():
    with pytest.raises(ValueError, match="Masking 'm': expected mask_value to be a number"):
        layers.Masking(mask_value="0", name="m")
    with pytest.raises(ValueError, match=r"expected inputs of shape \(batch, timesteps, "):
        layers.Masking()(np.zeros((2, 3), np.float32))


def test_explicit_mask_as_bool_array_or_float_tensor():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, STEPS, 3))
    keep = mask_of([6, 2, 1, 4])
    lstm = layers.LSTM(U, return_sequences=True, return_state=True, dtype="float64",
                       input_shape=(STEPS, 3))
    lstm.set_weights(random_weights(rng, "lstm", 3))
    want = masked_reference("lstm", x, *lstm.get_weights(), mask=keep)
    for mask in (keep.astype(bool), fn.tensor(keep, dtype="float64"),
                 fn.tensor(keep, dtype="float32"), keep):
        for g, w in zip(lstm(x, mask=mask), want):
            np.testing.assert_allclose(np.asarray(g), w, rtol=1e-13, atol=1e-14)
    # An explicit mask wins over the one the input carries.
    emb = layers.Embedding(V, 3, mask_zero=True, dtype="float64")
    ids = padded_ids(rng, [6, 2, 1, 4])
    full = lstm(emb(ids), mask=np.ones((4, STEPS), bool))
    unmasked = lstm(emb(ids))  # carried: masked
    assert not np.allclose(np.asarray(full[1]), np.asarray(unmasked[1]))
    np.testing.assert_array_equal(np.asarray(full[1]), np.asarray(lstm(
        fn.tensor(np.asarray(emb(ids)), dtype="float64"))[1]))


def test_a_sequence_output_carries_the_mask_to_the_next_recurrent_layer():
    # No go_backwards layer in the chain: its sequence comes in processing order while the
    # mask it passes on stays in input order (as Keras's RNN.compute_mask does).
    rng = np.random.default_rng(6)
    ids = padded_ids(rng)
    fn.manual_seed(1)
    m = fn.Sequential([layers.Embedding(V, E, mask_zero=True),
                       layers.LSTM(U, return_sequences=True),
                       layers.Bidirectional(layers.SimpleRNN(3, return_sequences=True)),
                       layers.GRU(4)])
    with fn.no_grad():
        out = np.asarray(m(ids))
        for i, length in enumerate(LENGTHS):
            np.testing.assert_allclose(out[i], np.asarray(m(ids[i:i + 1, :length]))[0],
                                       rtol=2e-6, atol=2e-7)
    seq = layers.GRU(U, return_sequences=True)(layers.Embedding(V, E, mask_zero=True)(ids))
    np.testing.assert_array_equal(np.asarray(seq._keras_mask), mask_of())
    assert getattr(layers.GRU(U)(layers.Embedding(V, E, mask_zero=True)(ids)),
                   "_keras_mask", None) is None


@pytest.mark.parametrize("middle", [lambda: layers.Dropout(0.5), lambda: layers.Dense(E)],
                         ids=["dropout", "dense"])
def test_a_mask_passes_through_dropout_and_dense(middle):
    rng = np.random.default_rng(7)
    ids = padded_ids(rng)
    fn.manual_seed(2)
    m = fn.Sequential([layers.Embedding(V, E, mask_zero=True), middle(), layers.LSTM(U)])
    with fn.no_grad():
        hidden = m.layers[1](m.layers[0](ids))
        assert np.array_equal(np.asarray(getattr(hidden, "_keras_mask", None)), mask_of())
        out = np.asarray(m(ids))
        for i, length in enumerate(LENGTHS):
            np.testing.assert_allclose(out[i], np.asarray(m(ids[i:i + 1, :length]))[0],
                                       rtol=2e-6, atol=2e-7)


# --- captured fit --------------------------------------------------------------------------

def masked_fit(capture, make_layers, floats=False):
    rng = np.random.default_rng(8)
    lengths = rng.integers(1, STEPS + 1, 37)  # batches 8 * 4 + 5 with masks of every kind
    ids = padded_ids(rng, lengths)
    y = (ids == 3).any(axis=1).astype(np.int64) + (ids == 5).any(axis=1)
    x = (np.eye(V, dtype=np.float32)[ids] * (ids != 0)[:, :, None] if floats else ids)
    fn.manual_seed(3)  # before the Embedding, which initializes its table at construction
    first = layers.Masking() if floats else layers.Embedding(V, E, mask_zero=True)
    m = fn.Sequential([first] + make_layers(), input_shape=x.shape[1:])
    m.compile(optimizer="adam", loss=fn.losses.SparseCategoricalCrossentropy(from_logits=True),
              capture=capture)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a refused capture warns: fail instead
        h = m.fit(x, y, epochs=3, batch_size=8, verbose=0)
    return m, h.history["loss"]


@pytest.mark.parametrize("make_layers, floats", [
    (lambda: [layers.LSTM(U), layers.Dense(3)], False),
    (lambda: [layers.GRU(U, go_backwards=True), layers.Dense(3)], False),
    (lambda: [layers.SimpleRNN(U, return_sequences=True), layers.LSTM(4), layers.Dense(3)],
     False),
    (lambda: [layers.Bidirectional(layers.GRU(U)), layers.Dense(3)], False),
    (lambda: [layers.LSTM(U), layers.Dense(3)], True),
], ids=["lstm", "gru_backwards", "simple_rnn_lstm", "bidirectional_gru", "masking_lstm"])
def test_captured_masked_fit_equals_eager_fit(make_layers, floats):
    captured, loss_c = masked_fit(True, make_layers, floats)
    eager, loss_e = masked_fit(False, make_layers, floats)
    assert len(captured._captured) >= 2 and captured._captured.refused == {}
    assert len(eager._captured) == 0
    assert loss_c == loss_e and loss_c[-1] < loss_c[0]
    for a, b in zip(captured.get_weights(), eager.get_weights()):
        assert a.tobytes() == b.tobytes()
    rng = np.random.default_rng(18)
    ids = padded_ids(rng, rng.integers(1, STEPS + 1, 21))
    x = np.eye(V, dtype=np.float32)[ids] * (ids != 0)[:, :, None] if floats else ids
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        predicted = captured.predict(x, batch_size=8)
    assert predicted.tobytes() == eager.predict(x, batch_size=8).tobytes()
    assert captured._captured.refused == {}
    # Profiling runs the step once more (a training step), so it comes last.
    plan = [e for k, e in captured._captured._entries.items() if k[0] == "train"][0].plan
    assert "step_mask" in [name for name, _ in plan.profile(1)]  # made inside the replay


# --- Bidirectional -------------------------------------------------------------------------

def bidirectional(cell, rng, features, **kwargs):
    merge_mode = kwargs.pop("merge_mode", "concat")
    layer = layers.Bidirectional(KINDS[cell](U, dtype="float64", **kwargs),
                                 merge_mode=merge_mode, input_shape=(None, features))
    weights = random_weights(rng, cell, features) + random_weights(rng, cell, features)
    layer.set_weights(weights)
    return layer, weights


def directions(cell, x, weights, mask=None, return_sequences=False):
    """The forward run's and the reversed run's (output, *states), the reversed sequence
    flipped back to the input's order."""
    fwd = masked_reference(cell, x, *weights[:3], mask=mask)
    bwd = masked_reference(cell, x, *weights[3:], mask=mask, go_backwards=True)
    fwd, bwd = [[s for s in r if s is not None] for r in (fwd, bwd)]
    if return_sequences:
        return [fwd[0]] + fwd[1:], [bwd[0][:, ::-1]] + bwd[1:]
    return [fwd[1]] + fwd[1:], [bwd[1]] + bwd[1:]


MERGES = {"concat": lambda a, b: np.concatenate([a, b], axis=-1), "sum": np.add,
          "mul": np.multiply, "ave": lambda a, b: (a + b) / 2, None: lambda a, b: [a, b]}


@pytest.mark.parametrize("return_state", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("merge_mode", list(MERGES))
@pytest.mark.parametrize("cell", list(KINDS))
def test_bidirectional_merge_modes_and_states(cell, merge_mode, return_sequences,
                                              return_state):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, STEPS, 2))
    layer, weights = bidirectional(cell, rng, 2, merge_mode=merge_mode,
                                   return_sequences=return_sequences, return_state=return_state)
    fwd, bwd = directions(cell, x, weights, return_sequences=return_sequences)
    merged = MERGES[merge_mode](fwd[0], bwd[0])
    want = (merged if isinstance(merged, list) else [merged])
    if return_state:
        want = want + fwd[1:] + bwd[1:]  # [output(s), *forward states, *backward states]
    got = layer(x)
    if not return_state and merge_mode is not None:
        got = [got]
    assert isinstance(got, list) and len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), w, rtol=1e-13, atol=1e-14)
    shape = layer.compute_output_shape((None, STEPS, 2))
    shapes = shape if isinstance(shape, list) else [shape]
    assert [tuple(s) for s in shapes] == [(None,) + w.shape[1:] for w in want]


@pytest.mark.parametrize("cell", list(KINDS))
def test_bidirectional_weights_and_config(cell):
    rng = np.random.default_rng(10)
    layer, weights = bidirectional(cell, rng, 2, return_sequences=True, merge_mode="ave")
    inner = layer.forward_layer
    assert len(layer.weights) == 6 and layer.count_params() == 2 * sum(w.size for w in weights[:3])
    assert [w.name for w in layer.weights] == [
        f"{prefix}{inner.name}/{k}" for prefix in ("", "backward_")
        for k in ("kernel", "recurrent_kernel", "bias")]
    for mine, given in zip(layer.get_weights(), weights):  # forward first, then backward
        np.testing.assert_array_equal(mine, given)
    assert list(layer.state_dict()) == [f"{d}_layer.{k}" for d in ("forward", "backward")
                                        for k in ("kernel", "recurrent_kernel", "bias")]
    assert layer.backward_layer.go_backwards and not inner.go_backwards
    config = layer.get_config()
    assert config["merge_mode"] == "ave" and config["layer"]["class_name"] == KINDS[cell].__name__
    copy = layers.Bidirectional.from_config(config)
    assert copy.get_config() == config
    x = rng.standard_normal((3, STEPS, 2))
    copy(x)
    copy.set_weights(weights)
    np.testing.assert_array_equal(np.asarray(copy(x)), np.asarray(layer(x)))


def test_bidirectional_arguments():
    with pytest.raises(TypeError, match="expected a recurrent layer"):
        layers.Bidirectional(layers.Dense(3))
    with pytest.raises(ValueError, match="expected merge_mode to be one of"):
        layers.Bidirectional(layers.GRU(3), merge_mode="max")
    with pytest.raises(ValueError, match="must agree on return_sequences"):
        layers.Bidirectional(layers.GRU(3), backward_layer=layers.GRU(3, return_sequences=True,
                                                                     go_backwards=True))


@pytest.mark.parametrize("cell", list(KINDS))
def test_bidirectional_initial_state(cell):
    rng = np.random.default_rng(13)
    x = rng.standard_normal((3, STEPS, 2))
    layer, weights = bidirectional(cell, rng, 2, return_state=True, merge_mode="sum")
    n_states = 2 if cell == "lstm" else 1
    states = [rng.standard_normal((3, U)) for _ in range(2 * n_states)]
    fwd = masked_reference(cell, x, *weights[:3], *states[:n_states])
    bwd = masked_reference(cell, x, *weights[3:], *states[n_states:], go_backwards=True)
    want = [fwd[1] + bwd[1]] + [s for s in fwd[1:] + bwd[1:] if s is not None]
    got = layer(x, initial_state=states)
    assert len(got) == 1 + 2 * n_states
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), w, rtol=1e-13, atol=1e-14)
    with pytest.raises(ValueError, match="forward layer's states then the backward"):
        layer(x, initial_state=states[:-1])  # an odd count


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("cell", list(KINDS))
def test_bidirectional_with_a_mask(cell, return_sequences):
    rng = np.random.default_rng(11)
    ids = padded_ids(rng)
    emb = layers.Embedding(V, E, mask_zero=True, dtype="float64")
    layer, weights = bidirectional(cell, rng, E, return_sequences=return_sequences,
                                   return_state=True)
    x = np.asarray(emb(ids))
    fwd, bwd = directions(cell, x, weights, mask_of(), return_sequences)
    want = [np.concatenate([fwd[0], bwd[0]], axis=-1)] + fwd[1:] + bwd[1:]
    got = layer(emb(ids))
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), w, rtol=1e-13, atol=1e-14)
    if return_sequences:
        np.testing.assert_array_equal(np.asarray(got[0]._keras_mask), mask_of())
    for i, length in enumerate(LENGTHS):  # each sequence alone
        alone = layer(emb(ids[i:i + 1, :length]))
        for g, a in zip(got, alone):
            g = np.asarray(g)[i, :length] if g.ndim == 3 else np.asarray(g)[i]
            np.testing.assert_allclose(g, np.asarray(a)[0], rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("cell, merge_mode, masked", [
    ("lstm", "concat", True), ("gru", "mul", False), ("simple_rnn", "ave", True)])
def test_bidirectional_gradients_match_finite_differences(cell, merge_mode, masked):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((3, 4, 2))
    layer, weights = bidirectional(cell, rng, 2, merge_mode=merge_mode, return_sequences=True)
    mask = mask_of([4, 1, 2], 4) if masked else None
    out_units = 2 * U if merge_mode == "concat" else U
    w = rng.standard_normal((3, 4, out_units))
    names = ("kernel", "recurrent_kernel", "bias")

    def f(x, *ws):
        for half, part in ((layer.forward_layer, ws[:3]), (layer.backward_layer, ws[3:])):
            for name, value in zip(names, part):
                setattr(half, name, value)  # the call reads the layer's attributes
        return (layer(x, mask=mask) * t64(w)).sum()

    check_grad(f, [leaf(x)] + [leaf(a) for a in weights])
