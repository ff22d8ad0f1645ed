"""Keras's functional API: keras.Input -> layers -> keras.Model(inputs, outputs), with several
inputs and outputs, shared layers and nested models; training it with fit (captured and
eager), matching Keras 3 given the same weights, saving it, and its errors."""

from __future__ import annotations

import os

import numpy as np
import pytest

import fastnn as fn
from fastnn import keras
from fastnn.keras import layers

# Keras 3 as the oracle, in float64: the TensorFlow backend computes float64 exactly (JAX
# rounds float64 matmuls to float32 precision), so it is chosen when keras is imported here
# first.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@pytest.fixture(scope="module")
def real_keras():
    k = pytest.importorskip("keras")
    if int(k.__version__.split(".")[0]) < 3:
        pytest.skip("needs Keras 3")
    k.config.set_floatx("float64")
    yield k
    k.config.set_floatx("float32")


def _tolerance(k):
    return 1e-10 if k.backend.backend() == "tensorflow" else 1e-5


def two_tower(K, dtype=None, seed=None):
    """Two inputs, a layer shared by both branches (its weights used twice), a merge, two
    outputs: a softmax classifier and a regression head."""
    kw = {} if dtype is None else {"dtype": dtype}
    a = K.Input(shape=(5,), name="left", dtype=dtype or "float32")
    b = K.Input(shape=(3,), name="right", dtype=dtype or "float32")
    shared = K.layers.Dense(6, activation="tanh", name="shared", **kw)
    ha = shared(K.layers.Dense(6, name="proj_left", **kw)(a))
    hb = shared(K.layers.Dense(6, name="proj_right", **kw)(b))
    merged = K.layers.Concatenate(name="merge", **kw)([ha, hb])
    cls = K.layers.Dense(4, activation="softmax", name="cls", **kw)(merged)
    reg = K.layers.Dense(2, name="reg", **kw)(K.layers.Add(name="sum", **kw)([ha, hb]))
    return K.Model([a, b], [cls, reg], name="two_tower")


def data(rng, n=37):
    x1 = rng.normal(size=(n, 5))
    x2 = rng.normal(size=(n, 3))
    y1 = rng.integers(0, 4, n)
    y2 = np.stack([x1[:, 0] - x2[:, 1], x1[:, 2] * 0.5], axis=1)
    return x1, x2, y1, y2


# --- the graph ----------------------------------------------------------------------------------


def test_model_from_inputs_and_outputs_is_a_functional_model_of_the_layers_called():
    model = two_tower(keras)
    assert isinstance(model, fn.Model) and type(model).__name__ == "Functional"
    # Keras's order: by depth from the outputs (inputs first), then by first use.
    assert [l.name for l in model.layers] == ["left", "right", "proj_left", "proj_right",
                                              "shared", "merge", "sum", "cls", "reg"]
    assert model.input_names == ["left", "right"] and model.output_names == ["cls", "reg"]
    assert model.input_shape == [(None, 5), (None, 3)]
    assert model.output_shape == [(None, 4), (None, 2)]
    shared = model.get_layer("shared")
    assert model.get_layer(index=4) is shared
    assert sum(1 for l in model.layers if l is shared) == 1
    # The shared layer's weights appear once: 5*6+6 + 3*6+6 + 6*6+6 + 12*4+4 + 6*2+2.
    assert model.count_params() == 36 + 24 + 42 + 52 + 14
    assert len(model.weights) == 10
    assert list(model.state_dict()) == [f"{i}.{w}" for i in (2, 3, 4, 7, 8)
                                        for w in ("kernel", "bias")]


def test_a_shared_layer_is_one_set_of_weights_used_by_both_branches():
    rng = np.random.default_rng(1)
    a = keras.Input(shape=(4,))
    b = keras.Input(shape=(4,))
    shared = layers.Dense(3, use_bias=False)
    model = keras.Model([a, b], layers.Subtract()([shared(a), shared(b)]))
    x1, x2 = rng.normal(size=(6, 4)).astype("f4"), rng.normal(size=(6, 4)).astype("f4")
    kernel = rng.normal(size=(4, 3)).astype("f4")
    shared.set_weights([kernel])
    np.testing.assert_allclose(model.predict([x1, x2]), (x1 - x2) @ kernel, rtol=1e-5,
                               atol=1e-5)
    # Both uses add their gradients into the one kernel.
    out = model([x1, x2], training=True)
    (out * out).sum().backward()
    d = (x1 - x2) @ kernel
    np.testing.assert_allclose(np.asarray(shared.kernel.grad), (x1 - x2).T @ (2 * d),
                               rtol=1e-4, atol=1e-4)


def test_keras_tensors_have_shapes_and_none_axes_follow_the_data():
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    assert ids.shape == (None, None) and ids.dtype == "int32"
    emb = layers.Embedding(30, 8, mask_zero=True)(ids)
    seq = layers.LSTM(5, return_sequences=True)(emb)
    assert emb.shape == (None, None, 8) and seq.shape == (None, None, 5)
    conv = layers.Conv1D(4, 3)(keras.Input(shape=(None, 2)))
    assert conv.shape == (None, None, 4)
    fixed = layers.Conv1D(4, 3)(keras.Input(shape=(11, 2)))
    assert fixed.shape == (None, 9, 4)
    with pytest.raises(TypeError, match="symbolic"):
        np.asarray(ids)


def test_masks_flow_through_the_graph_as_in_a_sequential(real_keras):
    """Embedding(mask_zero) -> LSTM: the mask made by the Embedding reaches the LSTM in the
    functional graph (padded steps skipped), so outputs match Keras's with the same weights."""
    k = real_keras
    rng = np.random.default_rng(2)

    def build(K, **kw):
        ids = K.Input(shape=(None,), dtype="int32")
        h = K.layers.Embedding(20, 6, mask_zero=True, **kw)(ids)
        h = K.layers.LSTM(5, **kw)(h)
        return K.Model(ids, K.layers.Dense(3, **kw)(h))

    theirs, ours = build(k), build(keras, dtype="float64")
    ours.set_weights(theirs.get_weights())
    x = rng.integers(1, 20, (7, 9))
    for i in range(7):
        x[i, :i] = 0  # padding of several lengths
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0),
                               atol=_tolerance(k), rtol=0)


def test_nested_models_are_layers_and_share_their_weights():
    fn.manual_seed(3)
    inner_in = keras.Input(shape=(6,))
    encoder = keras.Model(inner_in, layers.Dense(4, activation="relu")(inner_in), name="enc")
    a, b = keras.Input(shape=(6,), name="a"), keras.Input(shape=(6,), name="b")
    za, zb = encoder(a), encoder(b)
    out = layers.Dense(1, activation="sigmoid", name="same")(
        layers.Subtract(name="subtract")([za, zb]))
    siamese = keras.Model({"a": a, "b": b}, out)
    assert [l.name for l in siamese.layers] == ["a", "b", "enc", "subtract", "same"]
    assert list(siamese.state_dict()) == ["2.1.kernel", "2.1.bias", "4.kernel", "4.bias"]
    rng = np.random.default_rng(3)
    x1, x2 = rng.normal(size=(5, 6)).astype("f4"), rng.normal(size=(5, 6)).astype("f4")
    encoded = encoder.predict(x1) - encoder.predict(x2)
    w, bias = siamese.get_layer("same").get_weights()
    expected = 1 / (1 + np.exp(-(encoded @ w + bias)))
    np.testing.assert_allclose(siamese.predict({"a": x1, "b": x2}), expected, rtol=1e-5,
                               atol=1e-6)
    lines = []
    siamese.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Connected to" in text and "enc (Functional)" in text
    assert "a[0][0], b[0][0]" in text and "enc[0][0], enc[1][0]" in text


def test_lambda_merges_and_tensor_arithmetic_record_nodes():
    a, b = keras.Input(shape=(3,)), keras.Input(shape=(3,))
    out = layers.Lambda(lambda t: t * 2.0)(a) + b * 3.0 - 1.0
    avg = layers.average([a, b])
    prod = layers.multiply([a, b])
    model = keras.Model([a, b], [out, avg, prod, -a / 2.0])
    rng = np.random.default_rng(4)
    x1, x2 = rng.normal(size=(4, 3)).astype("f4"), rng.normal(size=(4, 3)).astype("f4")
    got = model.predict([x1, x2])
    for value, expected in zip(got, [2 * x1 + 3 * x2 - 1, (x1 + x2) / 2, x1 * x2, -x1 / 2]):
        np.testing.assert_allclose(value, expected, rtol=1e-6, atol=1e-6)


def test_sequential_takes_an_input_first_as_keras_3_does():
    model = keras.Sequential([keras.Input(shape=(5,)), layers.Dense(3)])
    assert model.built and model.input_shape == (None, 5) and len(model.layers) == 1
    model = keras.Sequential([layers.InputLayer(shape=(5,)), layers.Dense(3)])
    assert model.built and len(model.layers) == 1
    model = keras.Sequential()
    model.add(keras.Input(shape=(2, 4)))
    model.add(layers.Flatten())
    assert model.output_shape == (None, 8)
    with pytest.raises(ValueError, match="Input / InputLayer must come first"):
        keras.Sequential([layers.Dense(3), keras.Input(shape=(5,))])


# --- training -------------------------------------------------------------------------------------


def _fit_two_tower(capture, epochs=6, metrics=(("accuracy",), ("mae",))):
    fn.manual_seed(11)
    model = two_tower(keras)
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=["sparse_categorical_crossentropy", "mse"],
                  metrics=[list(m) for m in metrics], loss_weights=[1.0, 0.5], capture=capture)
    x1, x2, y1, y2 = data(np.random.default_rng(5))
    history = model.fit([x1.astype("f4"), x2.astype("f4")], [y1, y2.astype("f4")],
                        epochs=epochs, batch_size=8, verbose=0,
                        validation_data=([x1[:9], x2[:9]], [y1[:9], y2[:9]]))
    return model, history


def test_two_inputs_a_shared_layer_and_two_outputs_train_with_fit():
    model, history = _fit_two_tower(capture=True)
    logs = history.history
    assert list(logs) == ["loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_mae",
                          "val_loss", "val_cls_loss", "val_reg_loss", "val_cls_accuracy",
                          "val_reg_mae"]
    assert logs["loss"][-1] < 0.7 * logs["loss"][0]
    assert logs["reg_loss"][-1] < logs["reg_loss"][0]
    for loss, cls, reg in zip(logs["loss"], logs["cls_loss"], logs["reg_loss"]):
        assert loss == pytest.approx(cls + 0.5 * reg, rel=1e-5)
    # The steps were captured and replayed, not run eagerly.
    assert model._captured.refused == {} and len(model._captured) >= 2


def test_captured_and_eager_training_give_the_same_losses_bit_for_bit(monkeypatch):
    from fastnn.capture import StepCapture

    replayed = []
    original = StepCapture.replay_batches

    def spy(self, *args, **kwargs):
        replayed.append(args[5])  # batches in one C++ call
        return original(self, *args, **kwargs)

    monkeypatch.setattr(StepCapture, "replay_batches", spy)
    # Accuracies run on the device: each epoch's full batches replay in one C++ call
    # (37 samples in batches of 8: 4 full batches; the first epoch captures one first).
    captured, h1 = _fit_two_tower(capture=True, metrics=[["accuracy"], []])
    assert replayed == [3] + [4] * 5
    eager, h2 = _fit_two_tower(capture=False, metrics=[["accuracy"], []])
    assert h1.history == h2.history
    for w1, w2 in zip(captured.get_weights(), eager.get_weights()):
        np.testing.assert_array_equal(w1, w2)
    assert len(eager._captured) == 0
    x1, x2, _, _ = data(np.random.default_rng(24), n=21)
    x = [x1.astype("f4"), x2.astype("f4")]
    for a, b in zip(captured.predict(x, batch_size=4), eager.predict(x, batch_size=4)):
        np.testing.assert_array_equal(a, b)
    assert ("predict", (0, 1)) == next(k for k in captured._captured._entries
                                       if k[0] == "predict")[:2]
    # A metric numpy computes (mae) makes the epoch go step by step, still captured.
    assert _fit_two_tower(True)[1].history == _fit_two_tower(False)[1].history


def test_callbacks_monitor_an_output_s_loss_and_metrics():
    fn.manual_seed(21)
    model = two_tower(keras)
    model.compile("adam", loss=["sparse_categorical_crossentropy", "mse"],
                  metrics=[["accuracy"], ["mae"]])
    x1, x2, y1, y2 = data(np.random.default_rng(22), n=24)
    stop = keras.callbacks.EarlyStopping(monitor="val_cls_accuracy", patience=100)
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_reg_loss", patience=100)
    mae = keras.callbacks.EarlyStopping(monitor="reg_mae", patience=100)
    model.fit([x1, x2], [y1, y2], validation_split=0.25, epochs=2, verbose=0,
              callbacks=[stop, plateau, mae])
    assert stop.monitor_op(1.0, 0.0) and plateau.monitor_op(0.0, 1.0)
    assert mae.monitor_op(0.0, 1.0)


def test_fit_evaluate_predict_take_dicts_by_input_and_output_name():
    fn.manual_seed(12)
    model = two_tower(keras)
    model.compile("adam", loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                  metrics={"cls": "accuracy"}, loss_weights={"reg": 2.0})
    x1, x2, y1, y2 = data(np.random.default_rng(6))
    x = {"right": x2, "left": x1}
    y = {"reg": y2, "cls": y1}
    h = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert set(h.history) == {"loss", "cls_loss", "reg_loss", "cls_accuracy"}
    as_dict = model.evaluate(x, y, return_dict=True)
    as_list = model.evaluate([x1, x2], [y1, y2])
    assert list(as_dict.values()) == as_list
    assert model.metrics_names == list(as_dict)
    assert as_dict["loss"] == pytest.approx(as_dict["cls_loss"] + 2.0 * as_dict["reg_loss"])
    p = model.predict(x)
    assert isinstance(p, list) and [a.shape for a in p] == [(37, 4), (37, 2)]
    q = model.predict_on_batch([x1[:5], x2[:5]])
    np.testing.assert_allclose(q[1], p[1][:5], rtol=1e-6)
    # Batches of an iterable in the same forms.
    batches = [((x1[i:i + 10], x2[i:i + 10]), (y1[i:i + 10], y2[i:i + 10]))
               for i in range(0, 37, 10)]
    it = model.evaluate(batches, return_dict=True)
    assert it["loss"] == pytest.approx(as_dict["loss"], rel=1e-5)
    def generator():
        for i in range(0, 37, 10):
            yield {"left": x1[i:i + 10], "right": x2[i:i + 10]}, {"cls": y1[i:i + 10],
                                                                   "reg": y2[i:i + 10]}

    assert model.evaluate(generator(), return_dict=True)["loss"] == pytest.approx(
        as_dict["loss"], rel=1e-5)
    h = model.fit(generator(), epochs=1, verbose=0)
    assert np.isfinite(h.history["loss"][0])


def test_dict_outputs_predict_a_dict_and_outputs_without_loss_need_no_target():
    a = keras.Input(shape=(4,), name="a")
    h = layers.Dense(3, name="h")(a)
    model = keras.Model(a, {"score": layers.Dense(1)(h), "features": h})
    model.compile("sgd", loss={"score": "mse"})
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(10, 4)).astype("f4"), rng.normal(size=(10, 1)).astype("f4")
    h1 = model.fit(x, {"score": y}, epochs=1, verbose=0)
    assert set(h1.history) == {"loss", "score_loss"}
    out = model.predict(x)
    assert set(out) == {"score", "features"} and out["features"].shape == (10, 3)


def test_sample_weights_one_array_for_all_outputs_or_one_per_output():
    fn.manual_seed(13)
    model = two_tower(keras)
    model.compile("sgd", loss=["sparse_categorical_crossentropy", "mse"])
    x1, x2, y1, y2 = data(np.random.default_rng(8), n=20)
    w = np.random.default_rng(9).uniform(size=20)
    both = model.evaluate([x1, x2], [y1, y2], sample_weight=w, batch_size=20,
                          return_dict=True)
    per = model.evaluate([x1, x2], [y1, y2], sample_weight=[w, np.ones(20)], batch_size=20,
                         return_dict=True)
    plain = model.evaluate([x1, x2], [y1, y2], batch_size=20, return_dict=True)
    assert per["cls_loss"] == pytest.approx(both["cls_loss"])
    assert per["reg_loss"] == pytest.approx(plain["reg_loss"])
    p1, p2 = model.predict([x1, x2])
    ce = -np.log(p1[np.arange(20), y1])
    assert both["cls_loss"] == pytest.approx((w * ce).sum() / 20, rel=1e-5)
    runs = []
    for capture in (True, False):
        fn.manual_seed(13)
        model = two_tower(keras)
        model.compile("sgd", loss=["sparse_categorical_crossentropy", "mse"],
                      metrics=[["accuracy"], ["mae"]], weighted_metrics=[["accuracy"], []],
                      capture=capture)
        runs.append(model.fit([x1, x2], [y1, y2], sample_weight={"cls": w, "reg": w},
                              batch_size=4, epochs=2, verbose=0).history)
    assert runs[0] == runs[1] and "cls_weighted_accuracy" in runs[0]


def test_models_with_two_inputs_and_one_output_log_plain_names():
    a, b = keras.Input(shape=(2,)), keras.Input(shape=(3,))
    model = keras.Model([a, b], layers.Dense(2, activation="softmax")(
        layers.concatenate([a, b])))
    model.compile("adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(10)
    x1, x2, y = rng.normal(size=(12, 2)), rng.normal(size=(12, 3)), rng.integers(0, 2, 12)
    h = model.fit([x1, x2], y, epochs=2, verbose=0, class_weight={0: 1.0, 1: 2.0})
    assert list(h.history) == ["loss", "accuracy"]
    assert model.predict([x1, x2]).shape == (12, 2)


def test_one_input_one_output_functional_model_trains_like_a_sequential():
    rng = np.random.default_rng(14)
    x, y = rng.normal(size=(40, 6)).astype("f4"), rng.integers(0, 3, 40)

    def run(functional):
        fn.manual_seed(14)
        if functional:
            inp = keras.Input(shape=(6,))
            h = layers.Dense(8, activation="relu")(inp)
            model = keras.Model(inp, [layers.Dense(3)(h)])
        else:
            model = keras.Sequential([layers.Dense(8, activation="relu", input_shape=(6,)),
                                      layers.Dense(3)])
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        # A functional model's one output takes the list (or dict) forms too.
        model.compile("adam", loss=[loss] if functional else loss,
                      metrics=[["accuracy"]] if functional else ["accuracy"])
        return model, model.fit(x, y, epochs=3, batch_size=8, verbose=0).history

    (m1, h1), (m2, h2) = run(True), run(False)
    assert h1 == h2
    assert isinstance(m1.predict(x), np.ndarray)


class _TwoInputs(fn.Model):
    """A subclassed Keras model whose call takes its inputs as a list (or a dict)."""

    def __init__(self, by_name=False):
        super().__init__()
        self.by_name = by_name
        self.left, self.right = layers.Dense(8, activation="relu"), layers.Dense(8)
        self.head = layers.Dense(3)

    def call(self, inputs):
        a, b = (inputs["p"], inputs["q"]) if self.by_name else inputs
        return self.head(fn.concat([self.left(a), self.right(b)], axis=1))


@pytest.mark.parametrize("by_name", [False, True])
def test_a_subclassed_model_fits_on_several_inputs(by_name, monkeypatch):
    rng = np.random.default_rng(23)
    x1, x2 = rng.normal(size=(45, 4)).astype("f4"), rng.normal(size=(45, 2)).astype("f4")
    y = (x1[:, 0] + x2[:, 1] > 0).astype(np.int64) + (x1[:, 1] > 1)
    x = {"p": x1, "q": x2} if by_name else [x1, x2]
    runs = []
    for capture in (True, False):
        fn.manual_seed(23)
        model = _TwoInputs(by_name)
        model.compile(keras.optimizers.Adam(0.02), metrics=["accuracy"], capture=capture,
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        runs.append(model.fit(x, y, epochs=5, batch_size=8, validation_split=0.2,
                              verbose=0).history)
        if capture:
            assert len(model._captured) >= 2 and model._captured.refused == {}
    assert runs[0] == runs[1]
    assert list(runs[0]) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert runs[0]["loss"][-1] < runs[0]["loss"][0]
    loss, accuracy = model.evaluate(x, y)
    logits = model.predict(x)
    assert logits.shape == (45, 3)
    assert accuracy == pytest.approx(np.mean(logits.argmax(1) == y))
    np.testing.assert_allclose(model.predict_on_batch(x), logits, rtol=1e-6)
    # Several outputs need the functional API (their names and losses come from it).
    with pytest.raises(TypeError, match="one output, got 2"):
        class TwoOut(fn.Model):
            def __init__(self):
                super().__init__()
                self.d = layers.Dense(2)

            def call(self, inputs):
                return [self.d(inputs[0]), self.d(inputs[1])]

        two = TwoOut()
        two.compile("sgd", loss="mse")
        two.fit([x1[:, :2], x2], y.astype("f4"), verbose=0)


# --- Keras 3 as the oracle ----------------------------------------------------------------------


def test_same_weights_give_keras_outputs_losses_and_an_sgd_step(real_keras):
    k = real_keras
    theirs, ours = two_tower(k, dtype="float64"), two_tower(keras, dtype="float64")
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    ours.set_weights(theirs.get_weights())
    x1, x2, y1, y2 = data(np.random.default_rng(15), n=24)
    tol = _tolerance(k)
    for a, b in zip(ours.predict([x1, x2]), theirs.predict([x1, x2], verbose=0)):
        np.testing.assert_allclose(a, b, atol=tol, rtol=0)
    for model, K in ((theirs, k), (ours, keras)):
        model.compile(optimizer=K.optimizers.SGD(0.05),
                      loss=["sparse_categorical_crossentropy", "mse"],
                      metrics=[["accuracy"], ["mae"]], loss_weights=[0.7, 2.5])
    w = np.random.default_rng(16).uniform(size=24)
    for kwargs in ({}, {"sample_weight": w}):
        # One batch of all rows: Keras's per-output loss trackers mis-weight a last,
        # smaller batch when sample weights are given (its total loss is still right).
        a = ours.evaluate([x1, x2], [y1, y2], batch_size=24, return_dict=True, **kwargs)
        b = theirs.evaluate([x1, x2], [y1, y2], batch_size=24, return_dict=True, verbose=0,
                            **kwargs)
        assert set(a) == set(b)
        for key in a:
            assert a[key] == pytest.approx(b[key], abs=tol), key
    a = ours.evaluate([x1, x2], [y1, y2], batch_size=5, sample_weight=w)
    b = theirs.evaluate([x1, x2], [y1, y2], batch_size=5, sample_weight=w, verbose=0)
    assert a[0] == pytest.approx(b[0], abs=tol)
    for model in (ours, theirs):
        model.fit([x1, x2], [y1, y2], epochs=2, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=100 * tol, rtol=0)


def test_layer_semantics_match_keras_for_merges_and_nested_models(real_keras):
    k = real_keras

    def build(K, **kw):
        inner_in = K.Input(shape=(4,), dtype="float64")
        inner = K.Model(inner_in, K.layers.Dense(3, activation="relu", **kw)(inner_in))
        a = K.Input(shape=(4,), dtype="float64")
        b = K.Input(shape=(4,), dtype="float64")
        ia, ib = inner(a), inner(b)
        merged = [K.layers.Add(**kw)([ia, ib]), K.layers.Subtract(**kw)([ia, ib]),
                  K.layers.Multiply(**kw)([ia, ib]), K.layers.Average(**kw)([ia, ib]),
                  K.layers.Concatenate(axis=1, **kw)([ia, ib])]
        return K.Model([a, b], [K.layers.Dense(2, **kw)(m) for m in merged])

    theirs, ours = build(k), build(keras, dtype="float64")
    ours.set_weights(theirs.get_weights())
    rng = np.random.default_rng(17)
    x1, x2 = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    for a, b in zip(ours.predict([x1, x2]), theirs.predict([x1, x2], verbose=0)):
        np.testing.assert_allclose(a, b, atol=_tolerance(k), rtol=0)


def test_an_encoder_s_states_start_a_decoder_as_in_keras(real_keras):
    """The seq2seq pattern: LSTM(return_state=True) gives [output, h, c]; h and c go to the
    decoder as initial_state (KerasTensors in keyword arguments); a Masking branch beside."""
    k = real_keras

    def build(K, **kw):
        enc_in = K.Input(shape=(None, 3), dtype="float64")
        dec_in = K.Input(shape=(None, 4), dtype="float64")
        _, h, c = K.layers.LSTM(5, return_state=True, **kw)(enc_in)
        seq = K.layers.LSTM(5, return_sequences=True, **kw)(dec_in, initial_state=[h, c])
        summary = K.layers.GRU(2, **kw)(K.layers.Masking(**kw)(enc_in))
        return K.Model([enc_in, dec_in], [K.layers.Dense(4, activation="softmax", **kw)(seq),
                                          summary])

    theirs, ours = build(k), build(keras, dtype="float64")
    ours.set_weights(theirs.get_weights())
    rng = np.random.default_rng(20)
    a, b = rng.normal(size=(3, 6, 3)), rng.normal(size=(3, 5, 4))
    a[0, 4:] = 0.0  # masked steps
    for p, q in zip(ours.predict([a, b]), theirs.predict([a, b], verbose=0)):
        np.testing.assert_allclose(p, q, atol=_tolerance(k), rtol=0)
    assert ours.output_shape == [(None, None, 4), (None, 2)]


# --- saving -------------------------------------------------------------------------------------


def test_a_saved_functional_model_loads_predicts_and_trains_on(tmp_path):
    model, _ = _fit_two_tower(capture=True, epochs=1)
    path = tmp_path / "two_tower.fastnn"
    model.save(path)
    loaded = fn.load_model(path)
    assert type(loaded).__name__ == "Functional"
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    x1, x2, y1, y2 = data(np.random.default_rng(18))
    x = [x1.astype("f4"), x2.astype("f4")]
    for a, b in zip(loaded.predict(x), model.predict(x)):
        np.testing.assert_array_equal(a, b)
    # The compile state (per-output losses, loss weights, metrics, optimizer) came back.
    h1 = model.fit(x, [y1, y2.astype("f4")], epochs=2, batch_size=8, shuffle=False, verbose=0)
    h2 = loaded.fit(x, [y1, y2.astype("f4")], epochs=2, batch_size=8, shuffle=False,
                    verbose=0)
    assert h1.history == h2.history
    config = model.get_config()
    rebuilt = type(model).from_config(config)
    assert [w.shape for w in rebuilt.get_weights()] == [w.shape for w in model.get_weights()]
    clone = keras.models.clone_model(model)
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]


# --- errors -------------------------------------------------------------------------------------


def test_an_output_not_connected_to_the_inputs_is_refused():
    a, b = keras.Input(shape=(2,), name="a"), keras.Input(shape=(2,), name="b")
    out = layers.Dense(1)(layers.concatenate([a, b]))
    with pytest.raises(ValueError, match=r"outputs \(<KerasTensor.*is not connected to the "
                                         r"inputs: it depends on keras.Input 'b', which is "
                                         r"not among the model's inputs \['a'\]"):
        keras.Model(a, out)
    with pytest.raises(ValueError, match=r"outputs\[1\].*depends on keras.Input 'b'"):
        keras.Model(a, [a, b])
    with pytest.raises(TypeError, match="expected inputs to hold KerasTensors"):
        keras.Model([a, np.zeros((3, 2))], out)
    with pytest.raises(ValueError, match=r"inputs\[0\] must be a keras.Input, got "
                                         r"<KerasTensor.*the output of layer"):
        keras.Model([out], out)


def test_wrong_numbers_of_arrays_in_fit_name_what_was_expected():
    model = two_tower(keras)
    model.compile("sgd", loss=["sparse_categorical_crossentropy", "mse"])
    x1, x2, y1, y2 = data(np.random.default_rng(19), n=8)
    with pytest.raises(ValueError, match=r"fit: the model has 2 inputs \['left', 'right'\]; "
                                         r"expected x as a list of 2 arrays.*got a list of 1"):
        model.fit([x1], [y1, y2], verbose=0)
    with pytest.raises(ValueError, match=r"fit: the model has 2 inputs.*got ndarray"):
        model.fit(x1, [y1, y2], verbose=0)
    with pytest.raises(ValueError, match=r"fit: the model has 2 outputs \['cls', 'reg'\].*"
                                         r"expected y as a list of 2 arrays.*got a list of 3"):
        model.fit([x1, x2], [y1, y2, y2], verbose=0)
    with pytest.raises(ValueError, match=r"missing \['right'\], unknown \['rigth'\]"):
        model.fit({"left": x1, "rigth": x2}, [y1, y2], verbose=0)
    with pytest.raises(ValueError, match=r"got 8 in x\['left'\] and 5 in y\['reg'\]"):
        model.fit([x1, x2], [y1, y2[:5]], verbose=0)
    with pytest.raises(ValueError, match=r"expected x\['right'\] of shape \(None, 3\).*"
                                         r"\(8, 4\)"):
        model.fit([x1, x2[:, :2].repeat(2, axis=1)], [y1, y2], verbose=0)
    with pytest.raises(IndexError, match=r"y\['cls'\]"):
        model.fit([x1, x2], [y1 + 4, y2], verbose=0)
    with pytest.raises(ValueError, match=r"loss as a list needs one entry per output"):
        model.compile("sgd", loss=["mse"])
    with pytest.raises(ValueError, match=r"loss_weights names outputs \['clss'\]"):
        model.compile("sgd", loss="mse", loss_weights={"clss": 1.0})
    with pytest.raises(ValueError, match=r"expected 2 input\(s\) \['left', 'right'\], got a "
                                         r"list of 3"):
        model([x1, x2, x2])


def test_a_layer_that_cannot_take_the_graph_s_shapes_fails_where_it_is_called():
    a, b = keras.Input(shape=(3,)), keras.Input(shape=(4,))
    with pytest.raises(ValueError, match=r"Add 'add.*'.*inputs of shape \(None, 3\), "
                                         r"\(None, 4\).*expected tensors of the same shape"):
        layers.Add()([a, b])
    with pytest.raises(ValueError, match=r"Concatenate.*shapes agree except along axis -1"):
        layers.Concatenate()([keras.Input(shape=(2, 3)), keras.Input(shape=(3, 3))])
    with pytest.raises(TypeError, match="no truth value"):
        bool(a)
