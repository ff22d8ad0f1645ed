"""fit(class_weight=..., sample_weight=...) and evaluate(sample_weight=...) with Keras's
semantics: the loss is sum(w * loss) / batch size (Keras's "sum_over_batch_size"), class
weights come from the labels, weighted_metrics are weighted and metrics are not, and a
captured (replayed) fit gives exactly what the eager one gives."""

import numpy as np
import pytest

import fastnn as fn
from fastnn import layers, losses, optimizers
from fastnn.data import DataLoader


def data(n=70, seed=0, classes=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5)).astype(np.float32), rng.integers(0, classes, n)


def model(out=3, activation="softmax"):
    return fn.Sequential([layers.Dense(8, activation="tanh"), layers.Dense(out, activation)],
                         input_shape=(5,))


def frozen(loss, out=3, activation="softmax", **compile_kwargs):
    """A model whose weights a fit does not change (SGD with learning rate 0), so the loss
    fit reports is the loss of the predictions we compute by hand."""
    fn.manual_seed(4)
    m = model(out, activation)
    m.compile(optimizers.SGD(learning_rate=0.0), loss, **compile_kwargs)
    return m


def crossentropy(p, labels):
    return -np.log(np.asarray(p, np.float64)[np.arange(len(labels)), labels])


def binary_crossentropy(p, y):
    p, y = np.asarray(p, np.float64), np.asarray(y, np.float64).reshape(p.shape)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(axis=-1)


# --- class_weight ----------------------------------------------------------------------------

def test_class_weight_gives_keras_weighted_loss_and_weighted_metrics():
    x, labels = data()
    m = frozen("sparse_categorical_crossentropy", metrics=["accuracy"],
               weighted_metrics=["accuracy"])
    p = m.predict(x)
    per_sample = crossentropy(p, labels)
    class_weight = {0: 0.5, 1: 3.0}  # class 2 left out: weight 1, as Keras
    w = np.array([class_weight.get(c, 1.0) for c in labels])
    h = m.fit(x, labels, class_weight=class_weight, batch_size=16, epochs=2, verbose=0).history
    expected = np.sum(w * per_sample) / len(x)  # / N, not / sum(w)
    assert h["loss"] == pytest.approx([expected] * 2, rel=1e-5)
    assert abs(expected - np.sum(w * per_sample) / np.sum(w)) > 1e-3
    hits = (p.argmax(axis=1) == labels).astype(float)
    assert h["accuracy"][0] == pytest.approx(hits.mean())  # metrics: unweighted (Keras 3)
    assert h["weighted_accuracy"][0] == pytest.approx(np.sum(w * hits) / np.sum(w))
    unweighted = m.fit(x, labels, batch_size=16, epochs=1, verbose=0).history
    assert unweighted["loss"][0] == pytest.approx(per_sample.mean(), rel=1e-5)
    assert unweighted["weighted_accuracy"][0] == pytest.approx(hits.mean())


@pytest.mark.parametrize("targets", ["one_hot", "binary_column", "binary_flat"])
def test_class_weight_reads_one_hot_and_binary_targets_as_keras(targets):
    x, labels = data(classes=3 if targets == "one_hot" else 2)
    if targets == "one_hot":
        m, y = frozen("categorical_crossentropy"), np.eye(3, dtype=np.float32)[labels]
        class_of = labels  # argmax of the one-hot rows
    else:
        m = frozen("binary_crossentropy", out=1, activation="sigmoid")
        y = labels.astype(np.float32)[:, None] if targets == "binary_column" else labels
        class_of = labels  # the rounded target
    p = m.predict(x)
    per_sample = (crossentropy(p, labels) if targets == "one_hot"
                  else binary_crossentropy(p, labels[:, None]))
    class_weight = {0: 0.25, 1: 4.0}
    w = np.array([class_weight.get(c, 1.0) for c in class_of])
    h = m.fit(x, y, class_weight=class_weight, batch_size=32, epochs=1, verbose=0).history
    assert h["loss"][0] == pytest.approx(np.sum(w * per_sample) / len(x), rel=1e-5)


def test_class_weight_as_a_sequence_and_from_an_iterable():
    x, labels = data()
    weights = [2.0, 1.0, 0.5]
    results = []
    for class_weight, source in [({0: 2.0, 1: 1.0, 2: 0.5}, "arrays"), (weights, "arrays"),
                                 (np.array(weights), "loader"), (weights, "generator")]:
        m = frozen("sparse_categorical_crossentropy")
        if source == "arrays":
            h = m.fit(x, labels, class_weight=class_weight, batch_size=16, shuffle=False,
                      verbose=0)
        elif source == "loader":
            h = m.fit(DataLoader(x, labels, batch_size=16), class_weight=class_weight, verbose=0)
        else:
            batches = [(x[i:i + 16], labels[i:i + 16]) for i in range(0, 70, 16)]
            h = m.fit(iter(batches), class_weight=class_weight, verbose=0)
        results.append(h.history["loss"][0])
    assert results == pytest.approx([results[0]] * 4, rel=1e-6)
    w = np.array(weights)[labels]
    p = frozen("sparse_categorical_crossentropy").predict(x)
    assert results[0] == pytest.approx(np.sum(w * crossentropy(p, labels)) / 70, rel=1e-5)


def test_class_weight_applies_to_training_data_only():
    x, labels = data(80)
    m = frozen("sparse_categorical_crossentropy")
    p = m.predict(x)
    h = m.fit(x, labels, class_weight={0: 5.0}, validation_split=0.25, batch_size=16,
              verbose=0).history
    per_sample = crossentropy(p, labels)
    w = np.where(labels[:60] == 0, 5.0, 1.0)
    assert h["loss"][0] == pytest.approx(np.sum(w * per_sample[:60]) / 60, rel=1e-5)
    assert h["val_loss"][0] == pytest.approx(per_sample[60:].mean(), rel=1e-5)


# --- sample_weight -----------------------------------------------------------------------------

def test_sample_weight_in_fit_evaluate_and_validation_data():
    x, labels = data(70)
    x_val, y_val = data(45, seed=1)
    rng = np.random.default_rng(2)
    w, w_val = rng.random(70) * 2, rng.random(45) * 2
    m = frozen("sparse_categorical_crossentropy", metrics=["accuracy"],
               weighted_metrics=["accuracy"])
    p, p_val = m.predict(x), m.predict(x_val)
    l, l_val = crossentropy(p, labels), crossentropy(p_val, y_val)
    h = m.fit(x, labels, sample_weight=w, validation_data=(x_val, y_val, w_val), batch_size=16,
              epochs=2, verbose=0).history
    assert h["loss"] == pytest.approx([np.sum(w * l) / 70] * 2, rel=1e-5)
    assert h["val_loss"] == pytest.approx([np.sum(w_val * l_val) / 45] * 2, rel=1e-5)
    hits = (p_val.argmax(axis=1) == y_val).astype(float)
    assert h["val_accuracy"][0] == pytest.approx(hits.mean())
    assert h["val_weighted_accuracy"][0] == pytest.approx(np.sum(w_val * hits) / np.sum(w_val))
    logs = m.evaluate(x_val, y_val, sample_weight=w_val, batch_size=8, return_dict=True)
    assert logs["loss"] == pytest.approx(h["val_loss"][-1], rel=1e-6)
    assert logs["weighted_accuracy"] == pytest.approx(h["val_weighted_accuracy"][-1])
    column = m.evaluate(x_val, y_val, sample_weight=w_val[:, None], return_dict=True)  # (N, 1)
    assert column["loss"] == pytest.approx(logs["loss"], rel=1e-6)
    plain = m.evaluate(x_val, y_val, return_dict=True)
    assert plain["loss"] == pytest.approx(l_val.mean(), rel=1e-5)
    ones = m.evaluate(x_val, y_val, sample_weight=np.ones(45), return_dict=True)
    assert ones["loss"] == pytest.approx(plain["loss"], rel=1e-6)
    # validation_split splits the weights with the data
    h = m.fit(x, labels, sample_weight=w, validation_split=0.2, batch_size=16, verbose=0).history
    assert h["loss"][0] == pytest.approx(np.sum(w[:56] * l[:56]) / 56, rel=1e-5)
    assert h["val_loss"][0] == pytest.approx(np.sum(w[56:] * l[56:]) / 14, rel=1e-5)
    # batches of an iterable may carry their weights
    batches = [(x[i:i + 16], labels[i:i + 16], w[i:i + 16]) for i in range(0, 70, 16)]
    h = m.fit(batches, verbose=0).history
    assert h["loss"][0] == pytest.approx(np.sum(w * l) / 70, rel=1e-5)
    train_hits = (p.argmax(axis=1) == labels).astype(float)
    assert m.evaluate(batches) == pytest.approx(
        [np.sum(w * l) / 70, train_hits.mean(), np.sum(w * train_hits) / np.sum(w)], rel=1e-5)


def test_zero_weights_remove_samples_from_the_gradient():
    """A batch whose last samples weigh 0 trains like a batch of the others alone with the
    learning rate scaled by their share (the mean still divides by the whole batch)."""
    x, labels = data(40)
    w = np.r_[np.ones(25), np.zeros(15)]
    models = []
    for xs, ys, ws, lr in ((x, labels, w, 0.3), (x[:25], labels[:25], None, 0.3 * 25 / 40)):
        fn.manual_seed(5)
        m = model()
        m.compile(optimizers.SGD(learning_rate=lr), "sparse_categorical_crossentropy")
        m.fit(xs, ys, sample_weight=ws, batch_size=len(xs), epochs=3, shuffle=False, verbose=0)
        models.append(m)
    for a, b in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_sequence_outputs_take_per_sample_or_per_step_weights():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(30, 4, 5)).astype(np.float32)
    labels = rng.integers(0, 3, (30, 4))
    fn.manual_seed(7)
    m = fn.Sequential([layers.Dense(3, activation="softmax")], input_shape=(4, 5))
    m.compile(optimizers.SGD(learning_rate=0.0), "sparse_categorical_crossentropy")
    p = m.predict(x)
    l = -np.log(np.take_along_axis(p.astype(np.float64), labels[..., None], axis=-1)[..., 0])
    per_step = rng.random((30, 4))
    per_sample = rng.random(30)
    h = m.fit(x, labels, sample_weight=per_step, batch_size=8, verbose=0).history
    assert h["loss"][0] == pytest.approx(np.sum(per_step * l) / l.size, rel=1e-5)
    h = m.fit(x, labels, sample_weight=per_sample, batch_size=8, verbose=0).history
    assert h["loss"][0] == pytest.approx(np.sum(per_sample[:, None] * l) / l.size, rel=1e-5)


def test_loss_objects_take_sample_weight_like_keras():
    rng = np.random.default_rng(8)
    pred, target = rng.random((6, 3)), rng.random((6, 3))
    w = rng.random(6)
    per_sample = ((pred - target) ** 2).mean(axis=1)
    mse = losses.MeanSquaredError()
    assert mse(target, pred, sample_weight=w).item() == pytest.approx(
        np.sum(w * per_sample) / 6, rel=1e-6)
    assert mse(target, pred, w).item() == pytest.approx(np.sum(w * per_sample) / 6, rel=1e-6)
    assert losses.MeanSquaredError(reduction="sum")(
        y_true=target, y_pred=pred, sample_weight=w[:, None]).item() == pytest.approx(
        np.sum(w * per_sample), rel=1e-6)
    np.testing.assert_allclose(np.asarray(losses.MeanSquaredError(reduction="none")(
        target, pred, sample_weight=w)), w * per_sample, rtol=1e-6)
    with pytest.raises(ValueError, match="sample_weight of shape"):
        mse(target, pred, sample_weight=np.ones(5))
    # gradients flow through the weighting
    t = fn.tensor(pred, dtype="float64", requires_grad=True)
    losses.MeanSquaredError()(y_pred=t, y_true=target, sample_weight=w).backward()
    expected = 2 * (pred - target) / 3 * w[:, None] / 6
    np.testing.assert_allclose(np.asarray(t.grad), expected, rtol=1e-12)


def test_custom_loss_functions_are_weighted_as_keras_wraps_them():
    x, labels = data(50)
    y = np.eye(3, dtype=np.float32)[labels]
    w = np.random.default_rng(9).random(50)

    def squared(y_true, y_pred):  # per-sample values, as Keras's losses return
        return fn.mean((y_pred - y_true) * (y_pred - y_true), axis=-1)

    fn.manual_seed(4)
    m = model()
    m.compile(optimizers.SGD(learning_rate=0.0), squared)
    p = m.predict(x)
    h = m.fit(x, y, sample_weight=w, batch_size=16, verbose=0).history
    assert h["loss"][0] == pytest.approx(np.sum(w * ((p - y) ** 2).mean(axis=1)) / 50, rel=1e-5)


# --- capture ----------------------------------------------------------------------------------

@pytest.mark.parametrize("weighting", ["sample_weight", "class_weight", "weighted_metrics"])
def test_captured_weighted_fit_is_bitwise_identical_to_eager(monkeypatch, weighting):
    """The weights are a third input of the plan, gathered per batch like the labels; with
    metrics the C++ kernels compute, an epoch still replays in one call."""
    from fastnn.capture import StepCapture

    calls = []
    original = StepCapture.replay_batches
    monkeypatch.setattr(StepCapture, "replay_batches",
                        lambda self, *a: calls.append(len(a[1])) or original(self, *a))
    x, labels = data(75)
    x_val, y_val = data(30, seed=3)
    w = np.random.default_rng(10).random(75) * 2
    runs = []
    for capture in (True, False):
        fn.manual_seed(11)
        m = model()
        m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"],
                  weighted_metrics=["accuracy"] if weighting == "weighted_metrics" else None,
                  capture=capture)
        kwargs = ({"class_weight": {0: 3.0, 2: 0.5}} if weighting == "class_weight"
                  else {"sample_weight": w})
        h = m.fit(x, labels, batch_size=8, epochs=3, verbose=0,
                  validation_data=(x_val, y_val, np.ones(30) * 0.5), **kwargs).history
        runs.append((h, m.get_weights(), len(m._captured)))
    (h_c, weights_c, plans), (h_e, weights_e, none) = runs
    assert plans >= 2 and none == 0
    assert h_c == h_e
    for a, b in zip(weights_c, weights_e):
        assert a.tobytes() == b.tobytes()
    if weighting == "weighted_metrics":  # a weighted metric is computed in numpy
        assert calls == []
    else:
        assert calls == [3, 3, 3]  # one call per epoch, x, y and the weights gathered


def test_weighted_and_unweighted_steps_get_their_own_plans():
    x, labels = data(64)
    w = np.full(64, 2.0)
    fn.manual_seed(12)
    m = model()
    m.compile(optimizers.SGD(learning_rate=0.0), "sparse_categorical_crossentropy")
    plain = m.evaluate(x, labels)
    weighted = m.evaluate(x, labels, sample_weight=w)
    assert weighted == pytest.approx(2 * plain, rel=1e-6)
    assert m.evaluate(x, labels) == plain
    kinds = sorted(len(k) for k in m._captured._entries)  # (kind, aliases, x, y[, w])
    assert 4 in kinds and 5 in kinds


# --- errors ------------------------------------------------------------------------------------

def test_weight_errors_name_the_argument():
    x, labels = data(40)
    m = frozen("sparse_categorical_crossentropy")
    cases = [
        (dict(class_weight={3: 1.0}), ValueError, r"key 3.*classes are 0 to 2"),
        (dict(class_weight={-1: 1.0}), ValueError, "key -1"),
        (dict(class_weight={"cat": 1.0}), ValueError, "integer class indices"),
        (dict(class_weight={0.5: 1.0}), ValueError, "integer class indices"),
        (dict(class_weight={0: float("nan")}), ValueError, r"class_weight\[0\]"),
        (dict(class_weight=[1.0, 2.0]), ValueError, "one weight per class"),
        (dict(class_weight="balanced"), TypeError, "dict"),
        (dict(class_weight={0: 2.0}, sample_weight=np.ones(40)), ValueError,
         "class_weight and sample_weight"),
        (dict(sample_weight=np.ones(39)), ValueError, "39 for 40 samples"),
        (dict(sample_weight=np.ones((40, 2))), ValueError, "shape"),
        (dict(sample_weight=np.r_[np.ones(39), np.nan]), ValueError, r"sample_weight\[39\]"),
        (dict(sample_weight=np.array(["a"] * 40)), TypeError, "sample_weight"),
        (dict(validation_data=(x, labels, np.ones(3))), ValueError, "3 for 40"),
        (dict(validation_data=(x, labels, np.ones(40), 1)), ValueError, "4 items"),
    ]
    for kwargs, error, fragment in cases:
        with pytest.raises(error, match=fragment):
            m.fit(x, labels, verbose=0, **kwargs)
    with pytest.raises(ValueError, match="sample_weight applies to arrays"):
        m.fit(DataLoader(x, labels), sample_weight=np.ones(40), verbose=0)
    with pytest.raises(ValueError, match="given twice"):
        m.fit((x, labels, np.ones(40)), sample_weight=np.ones(40), verbose=0)
    with pytest.raises(ValueError, match="1 for 16 samples"):
        m.fit([(x[:16], labels[:16], np.ones(1))], verbose=0)
    with pytest.raises(ValueError, match="class_weight and sample weights"):
        m.fit([(x[:16], labels[:16], np.ones(16))], class_weight={0: 2.0}, verbose=0)
    with pytest.raises(ValueError, match="39 for 40"):
        m.evaluate(x, labels, sample_weight=np.ones(39))
    seq = fn.Sequential([layers.Dense(3, activation="softmax")], input_shape=(4, 5))
    seq.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="one class per sample"):
        seq.fit(np.zeros((6, 4, 5), np.float32), np.zeros((6, 4), int), class_weight={0: 2.0},
                verbose=0)
    with pytest.raises(ValueError, match=r"\(6, 4\)"):
        seq.fit(np.zeros((6, 4, 5), np.float32), np.zeros((6, 4), int),
                sample_weight=np.ones((6, 3)), verbose=0)
    auc = fn.metrics.AUC()
    with pytest.raises(ValueError, match="metrics and weighted_metrics"):
        m.compile("sgd", "mse", metrics=[auc], weighted_metrics=[auc])
