"""Embedding (layer and fn.embedding) and fn.utils.pad_sequences."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn as fn
from fastnn import layers

try:
    import torch
except ImportError:  # torch is a second oracle where installed
    torch = None


def table(rng, n, d, dtype="float64"):
    return rng.standard_normal((n, d)).astype(dtype)


# --- forward and gradient -------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1,), (7,), (3, 5), (2, 3, 4)])
@pytest.mark.parametrize("ids_dtype", [np.int32, np.int64, np.float32])
def test_forward_matches_numpy_indexing(shape, ids_dtype):
    rng = np.random.default_rng(sum(shape) + np.dtype(ids_dtype).itemsize)
    layer = layers.Embedding(11, 3)
    weights = table(rng, 11, 3, "float32")
    layer.set_weights([weights])
    ids = rng.integers(0, 11, shape)
    out = layer(ids.astype(ids_dtype))
    assert out.shape == shape + (3,)
    np.testing.assert_array_equal(np.asarray(out), weights[ids])
    np.testing.assert_array_equal(np.asarray(fn.embedding(ids, weights)), weights[ids])


def test_weight_name_shape_initializer_and_config():
    fn.manual_seed(3)
    a = layers.Embedding(33, 7, name="words")
    fn.manual_seed(3)
    b = layers.Embedding(33, 7)
    (w,) = a.get_weights()
    assert w.shape == (33, 7) and w.dtype == np.float32
    assert a.weights[0].name == "words/embeddings" and list(a.state_dict()) == ["embeddings"]
    # Keras's "uniform": RandomUniform(-0.05, 0.05), seeded by fn.manual_seed.
    assert np.abs(w).max() <= 0.05 and np.abs(w).max() > 0.04 and w.std() > 0.02
    np.testing.assert_array_equal(w, b.get_weights()[0])
    config = a.get_config()
    assert config["input_dim"] == 33 and config["output_dim"] == 7
    assert config["mask_zero"] is False and config["name"] == "words"
    c = layers.Embedding.from_config({**config, "name": "copy"})
    assert c.get_weights()[0].shape == (33, 7) and c.get_config()["output_dim"] == 7
    model = fn.Sequential([a, layers.Flatten(), layers.Dense(2)], input_shape=(5,))
    again = fn.Sequential.from_config(model.get_config())
    assert [type(la).__name__ for la in again.layers] == ["Embedding", "Flatten", "Dense"]
    again.set_weights(model.get_weights())
    ids = np.random.default_rng(4).integers(0, 33, (3, 5))
    np.testing.assert_array_equal(np.asarray(again(ids)), np.asarray(model(ids)))
    assert layers.Embedding(4, 2, input_length=9).get_weights()[0].shape == (4, 2)
    assert layers.Embedding(4, 2, dtype="float64").get_weights()[0].dtype == np.float64
    ones = layers.Embedding(4, 2, embeddings_initializer="ones")
    np.testing.assert_array_equal(ones.get_weights()[0], np.ones((4, 2)))


def test_gradient_with_repeated_ids_matches_np_add_at():
    rng = np.random.default_rng(5)
    weights = table(rng, 9, 4)
    ids = rng.integers(0, 9, (5, 7))
    ids[0, :3] = 2  # repeated within a row and across rows
    upstream = rng.standard_normal((5, 7, 4))
    w = fn.tensor(weights, dtype="float64", requires_grad=True)
    (fn.embedding(ids, w) * upstream).sum().backward()
    expected = np.zeros_like(weights)
    np.add.at(expected, ids, upstream)
    np.testing.assert_allclose(np.asarray(w.grad), expected, rtol=1e-13, atol=1e-13)


def test_layer_backward_by_hand_fills_the_gradient():
    rng = np.random.default_rng(6)
    layer = layers.Embedding(5, 3, dtype="float64")
    ids = np.array([[4, 4, 0], [1, 4, 2]])
    layer(ids)
    g = rng.standard_normal((2, 3, 3))
    assert layer.backward(g) is None
    expected = np.zeros((5, 3))
    np.add.at(expected, ids, g)
    np.testing.assert_allclose(np.asarray(layer.embeddings.grad), expected, rtol=1e-13)


@pytest.mark.skipif(torch is None, reason="torch is not installed")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matches_torch_embedding(dtype):
    rng = np.random.default_rng(7 if dtype == "float32" else 8)
    n, d = 13, 6
    weights = table(rng, n, d, dtype)
    ids = rng.integers(0, n, (4, 9))
    upstream = rng.standard_normal((4, 9, d)).astype(dtype)

    ref = torch.nn.Embedding(n, d).to(getattr(torch, dtype))
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(weights))
    out_ref = ref(torch.from_numpy(ids))
    (out_ref * torch.from_numpy(upstream)).sum().backward()

    layer = layers.Embedding(n, d, dtype=dtype)
    layer.set_weights([weights])
    out = layer(ids)
    (out * upstream).sum().backward()
    tol = 1e-6 if dtype == "float32" else 1e-13
    np.testing.assert_allclose(np.asarray(out), out_ref.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(np.asarray(layer.embeddings.grad), ref.weight.grad.numpy(),
                               rtol=tol, atol=tol)


# --- bad ids ---------------------------------------------------------------------------------

@pytest.mark.parametrize("bad, shown", [(12, "12"), (-1, "-1"), (2.5, "2.5"), (10, "10"),
                                        (1234567, "1234567")])
def test_bad_ids_raise_index_error_naming_the_layer_and_value(bad, shown):
    layer = layers.Embedding(10, 3, name="tokens")
    ids = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float64 if bad == 2.5 else np.int64)
    ids[1, 2] = bad
    message = rf"Embedding 'tokens': id {shown} at ids\[1, 2\] is not an integer in \[0, 10\)"
    with pytest.raises(IndexError, match=message):
        layer(ids)
    with pytest.raises(IndexError, match=message):
        layer(fn.tensor(ids, dtype="float64" if bad == 2.5 else "int64"))
    with fn.no_grad(), pytest.raises(IndexError, match=message):
        layer(ids)
    with pytest.raises(IndexError, match=rf"id {shown} at ids\[1, 2\].*\[0, 10\)"):
        fn.embedding(ids, np.zeros((10, 3), np.float32))
    fn._C.check_kernel_errors("after")  # nothing left behind for a later check


def bag_model(vocab=13, steps=6, name=None):
    return fn.Sequential([layers.Embedding(vocab, 4, name=name), layers.Flatten(),
                          layers.Dense(2)], input_shape=(steps,))


@pytest.mark.parametrize("capture", [True, False])
@pytest.mark.parametrize("bad", [13, -2])
def test_bad_ids_in_a_later_batch_of_fit_raise(capture, bad):
    """Batch 4 of 5 is replayed when captured: the gather kernel reports the id, and the
    error names the layer, not the loss."""
    rng = np.random.default_rng(9)
    x = rng.integers(0, 13, (75, 6))
    y = rng.integers(0, 2, 75)
    x[50, 3] = bad
    fn.manual_seed(1)
    m = bag_model(name="bag")
    m.compile("adam", fn.losses.SparseCategoricalCrossentropy(from_logits=True),
              capture=capture)
    where = "position 15 of a batch's ids" if capture else r"ids\[2, 3\]"  # x[50, 3]
    with pytest.raises(IndexError, match=rf"Embedding 'bag': id {bad} at {where}.*\[0, 13\)"):
        m.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    if capture:
        assert len(m._captured) >= 1 and m._captured.refused == {}
    # Reported once; the model keeps working.
    m.fit(np.clip(x, 0, 12), y, batch_size=16, epochs=1, verbose=0)


# --- masks -----------------------------------------------------------------------------------

def test_compute_mask():
    rng = np.random.default_rng(10)
    ids = rng.integers(0, 4, (5, 7))
    ids[0, :3] = 0
    layer = layers.Embedding(4, 2, mask_zero=True)
    mask = layer.compute_mask(ids)
    assert mask.shape == (5, 7) and mask.dtype == "float32"
    np.testing.assert_array_equal(np.asarray(mask), (ids != 0).astype(np.float32))
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(fn.tensor(ids, dtype="int64"))),
                                  ids != 0)
    assert layers.Embedding(4, 2).compute_mask(ids) is None
    assert layer.get_config()["mask_zero"] is True


def test_bad_arguments():
    for args, fragment in [((0, 3), "input_dim"), ((3, 0), "output_dim"),
                           ((2.5, 3), "input_dim"), ((True, 3), "input_dim")]:
        with pytest.raises(ValueError, match=f"Embedding.*{fragment}.*got"):
            layers.Embedding(*args)
    with pytest.raises(ValueError, match="embeddings_initializer"):
        layers.Embedding(3, 2, embeddings_initializer="nope")


# --- training --------------------------------------------------------------------------------

def seven_task(n, steps, vocab, seed):
    """Label 1 when token 7 occurs in the sequence; about half of them do."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, vocab, (n, steps))
    x[x == 7] = 8
    has = rng.random(n) < 0.5
    x[has, rng.integers(0, steps, int(has.sum()))] = 7
    return x, has.astype(np.int64)


@pytest.mark.parametrize("ids_dtype", [np.int32, np.int64])
def test_fit_learns_whether_token_7_occurs(ids_dtype):
    x, y = seven_task(600, 9, 17, seed=11)
    fn.manual_seed(2)
    m = fn.Sequential([layers.Embedding(17, 8), layers.Flatten(),
                       layers.Dense(16, activation="relu"), layers.Dense(2)], input_shape=(9,))
    m.compile(optimizer=fn.optimizers.Adam(0.01), metrics=["accuracy"],
              loss=fn.losses.SparseCategoricalCrossentropy(from_logits=True))
    m.fit(x[:500].astype(ids_dtype), y[:500], batch_size=32, epochs=12, verbose=0)
    assert m._captured.refused == {}
    # The ids reach the plan as integers, not cast to float32 (exact past 2**24).
    keys = [k for k in m._captured._entries if k[0] == "train"]
    assert keys and all(k[2][1] == np.dtype(ids_dtype).str for k in keys)
    _, accuracy = m.evaluate(x[500:].astype(ids_dtype), y[500:])
    assert accuracy > 0.85
    pred = m.predict(x[500:].astype(ids_dtype))
    assert ((pred.argmax(axis=1) == y[500:]).mean()) == pytest.approx(accuracy)


def test_a_replayed_embedding_epoch_reads_nothing_until_its_end():
    """The gathers check ids in the kernel: 40 batches, and the host reads the loss total,
    the error flags and the metric total once, at the epoch's end."""
    counts = []

    class Count(fn.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = fn._C.host_read_count()

        def on_epoch_end(self, epoch, logs=None):
            counts.append(fn._C.host_read_count() - self.start)

    x, y = seven_task(40 * 8, 5, 11, seed=17)
    fn.manual_seed(0)
    m = bag_model(vocab=11, steps=5)
    m.compile("adam", fn.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
    m.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[Count()])
    assert counts[1] == counts[2] and counts[1] <= 3, counts


def test_fit_takes_integral_float_ids_and_refuses_fractional_ones():
    x, y = seven_task(50, 4, 11, seed=16)
    fn.manual_seed(6)
    m = bag_model(vocab=11, steps=4)
    m.compile("adam", fn.losses.SparseCategoricalCrossentropy(from_logits=True))
    m.fit(x.astype(np.float32), y, batch_size=16, epochs=1, verbose=0)
    np.testing.assert_array_equal(m.predict(x.astype(np.float64)), m.predict(x))
    bad = x.astype(np.float64)
    bad[37, 2] = 3.5  # a later batch: a replay would cast it to 3 unseen
    with pytest.raises(IndexError, match=r"integer ids.*x\[37, 2\] = 3.5"):
        m.fit(bad, y, batch_size=16, epochs=1, verbose=0)


def test_captured_fit_gives_the_eager_losses():
    x, y = seven_task(83, 5, 11, seed=12)
    runs = []
    for capture in (True, False):
        fn.manual_seed(4)
        m = fn.Sequential([layers.Embedding(11, 3), layers.Flatten(), layers.Dense(2)],
                          input_shape=(5,))
        m.compile("adam", fn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  capture=capture)
        h = m.fit(x, y, batch_size=16, epochs=3, verbose=0)
        runs.append((h.history["loss"], m.get_weights()))
        if capture:
            assert len(m._captured) >= 1 and m._captured.refused == {}
    assert runs[0][0] == runs[1][0]
    assert all(a.tobytes() == b.tobytes() for a, b in zip(runs[0][1], runs[1][1]))


def test_subclassed_model_takes_integer_ids():
    class Bag(fn.Model):
        def __init__(self):
            super().__init__()
            self.embed = layers.Embedding(11, 3)
            self.out = layers.Dense(2)

        def call(self, x):
            return self.out(fn.mean(self.embed(x), axis=1))

    x, y = seven_task(40, 4, 11, seed=13)
    fn.manual_seed(5)
    m = Bag()
    m.compile("adam", fn.losses.SparseCategoricalCrossentropy(from_logits=True))
    m.fit(x, y, batch_size=8, epochs=1, verbose=0)
    w = m.embed.get_weights()[0]
    np.testing.assert_allclose(np.asarray(m.embed(x[:3])), w[x[:3]])


# --- pad_sequences ---------------------------------------------------------------------------

pad = fn.utils.pad_sequences


def test_pad_sequences_padding_truncation_maxlen_value():
    seqs = [[1, 2, 3], [4], [], [5, 6, 7, 8, 9]]
    np.testing.assert_array_equal(pad(seqs), [[0, 0, 1, 2, 3], [0, 0, 0, 0, 4], [0] * 5,
                                              [5, 6, 7, 8, 9]])
    np.testing.assert_array_equal(pad(seqs, padding="post"),
                                  [[1, 2, 3, 0, 0], [4, 0, 0, 0, 0], [0] * 5, [5, 6, 7, 8, 9]])
    np.testing.assert_array_equal(pad(seqs, maxlen=2), [[2, 3], [0, 4], [0, 0], [8, 9]])
    np.testing.assert_array_equal(pad(seqs, maxlen=2, truncating="post"),
                                  [[1, 2], [0, 4], [0, 0], [5, 6]])
    np.testing.assert_array_equal(pad(seqs, maxlen=3, padding="post", truncating="post",
                                      value=-1), [[1, 2, 3], [4, -1, -1], [-1] * 3, [5, 6, 7]])
    np.testing.assert_array_equal(pad(seqs, maxlen=7, value=9)[1], [9] * 6 + [4])
    assert pad(seqs).dtype == np.int32
    assert pad(seqs, maxlen=0).shape == (4, 0)
    assert pad([]).shape == (0, 0)


def test_pad_sequences_dtype_and_arrays():
    rng = np.random.default_rng(14)
    seqs = [rng.standard_normal(n) for n in (3, 1, 4)]
    out = pad(seqs, dtype="float32", value=0.5)
    assert out.dtype == np.float32 and out.shape == (3, 4)
    np.testing.assert_array_equal(out[1], np.array([0.5, 0.5, 0.5, seqs[1][0]], np.float32))
    np.testing.assert_array_equal(pad([[1.7, -2.2]], maxlen=3), [[0, 1, -2]])  # int32 casts
    ids = [rng.integers(0, 50, n) for n in (7, 2, 5)]
    np.testing.assert_array_equal(pad(ids, maxlen=4, padding="post", dtype="int64")[0], ids[0][-4:])


def test_pad_sequences_of_vectors():
    rng = np.random.default_rng(15)
    seqs = [rng.standard_normal((n, 2, 3)) for n in (2, 0, 5)]
    out = pad(seqs, maxlen=3, dtype="float64", value=-1.0)
    assert out.shape == (3, 3, 2, 3)
    np.testing.assert_array_equal(out[0, 0], -np.ones((2, 3)))
    np.testing.assert_array_equal(out[0, 1:], seqs[0])
    np.testing.assert_array_equal(out[1], -np.ones((3, 2, 3)))
    np.testing.assert_array_equal(out[2], seqs[2][-3:])
    np.testing.assert_array_equal(pad(seqs, maxlen=3, dtype="float64", truncating="post")[2],
                                  seqs[2][:3])


@pytest.mark.parametrize("call, fragment", [
    (lambda: pad([[1]], padding="middle"), r"padding to be 'pre' or 'post', got 'middle'"),
    (lambda: pad([[1]], truncating=None), r"truncating to be 'pre' or 'post', got None"),
    (lambda: pad([[1]], maxlen=-1), r"maxlen to be a non-negative integer.*got -1"),
    (lambda: pad([[1]], maxlen=2.5), r"maxlen.*got 2.5"),
    (lambda: pad(5), r"sequences to be a list of sequences, got int"),
    (lambda: pad([[1], 3]), r"sequences\[1\] is a int"),
    (lambda: pad([np.zeros((2, 3)), np.zeros((1, 4))], dtype="float32"),
     r"sequences\[1\] has steps of shape \(4,\)"),
    (lambda: pad([[1]], value="x"), r"string 'x'"),
])
def test_pad_sequences_errors(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()
