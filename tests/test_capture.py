"""Step capture: a replayed plan must give exactly what running the step op by op gives,
for every optimizer (their state is created once, not re-filled by replays), with
regularizers, learning-rate changes between epochs, and eager work in between."""

import numpy as np
import pytest

import fastnn as fn
from fastnn import layers, optim, optimizers, regularizers


def data(n=70, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype(np.float32)
    y = rng.integers(0, 3, n)
    return x, y


def model(regularizer=None):
    return fn.Sequential([layers.Dense(8, activation="tanh", kernel_regularizer=regularizer),
                          layers.Dense(3)], input_shape=(5,))


def train(capture, make_optimizer, epochs=3, regularizer=None, callbacks=None):
    fn.manual_seed(7)
    m = model(regularizer)
    m.compile(optimizer=make_optimizer(m),
              loss=fn.losses.SparseCategoricalCrossentropy(from_logits=True), capture=capture)
    x, y = data()
    h = m.fit(x, y, batch_size=16, epochs=epochs, verbose=0, callbacks=callbacks)  # 16*4 + 6
    return m, h.history["loss"]


OPTIMIZERS = {
    "adam": lambda m: "adam",
    "sgd_momentum": lambda m: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "rmsprop_centered": lambda m: optimizers.RMSprop(0.01, momentum=0.5, centered=True,
                                                     weight_decay=0.01),
    "adagrad": lambda m: optimizers.Adagrad(0.1, weight_decay=0.001),
    "adamw_amsgrad": lambda m: optimizers.AdamW(0.01, amsgrad=True),
    "torch_sgd": lambda m: optim.SGD(m.parameters(), lr=0.05, momentum=0.9, dampening=0.1),
    "torch_adagrad": lambda m: optim.Adagrad(m.parameters(), lr=0.1,
                                             initial_accumulator_value=0.1),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_captured_training_is_bitwise_identical_to_eager(name):
    captured, loss_c = train(True, OPTIMIZERS[name])
    eager, loss_e = train(False, OPTIMIZERS[name])
    assert len(captured._captured) >= 2  # full batches and the last, smaller one
    assert len(eager._captured) == 0
    assert loss_c == loss_e
    for a, b in zip(captured.get_weights(), eager.get_weights()):
        assert a.tobytes() == b.tobytes()


def test_regularizer_terms_are_part_of_the_plan():
    reg = regularizers.L1L2(l1=0.01, l2=0.02)
    captured, loss_c = train(True, OPTIMIZERS["adam"], regularizer=reg)
    eager, loss_e = train(False, OPTIMIZERS["adam"], regularizer=reg)
    _, plain = train(True, OPTIMIZERS["adam"])
    assert loss_c == loss_e and loss_c != plain


class HalveLearningRate:
    def set_model(self, model):
        self.model = model

    def on_epoch_end(self, epoch, logs=None):
        opt = self.model.optimizer
        opt.learning_rate = opt.learning_rate * 0.5


def test_learning_rate_changes_between_epochs_reach_the_replayed_step():
    captured, loss_c = train(True, OPTIMIZERS["adam"], epochs=4, callbacks=[HalveLearningRate()])
    eager, loss_e = train(False, OPTIMIZERS["adam"], epochs=4, callbacks=[HalveLearningRate()])
    _, constant = train(True, OPTIMIZERS["adam"], epochs=4)
    assert loss_c == loss_e and loss_c != constant


def test_eager_steps_between_fits_do_not_confuse_the_plan():
    """A PyTorch-style step between two fits replaces the parameters' .grad; the plan
    re-attaches its own gradient buffers before replaying."""
    results = []
    for capture in (True, False):
        fn.manual_seed(3)
        m = model()
        m.compile(optimizer="sgd", loss=fn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  capture=capture)
        x, y = data()
        m.fit(x, y, batch_size=16, epochs=1, verbose=0)
        loss = m.loss(y_pred=m(x[:9], training=True), y_true=y[:9])
        m.optimizer.zero_grad()
        loss.backward()  # grads now live in new buffers; no step taken
        h = m.fit(x, y, batch_size=16, epochs=1, verbose=0)
        results.append((h.history["loss"], m.get_weights()))
    assert results[0][0] == results[1][0]
    assert all(a.tobytes() == b.tobytes() for a, b in zip(results[0][1], results[1][1]))


def test_clipping_optimizers_run_eagerly():
    m, _ = train(True, lambda m: optimizers.SGD(0.05, clipnorm=1.0), epochs=1)
    assert len(m._captured) == 0


@pytest.mark.parametrize("metrics", [[], ["mse"]], ids=["one_call_epoch", "step_by_step"])
def test_nan_loss_raises_in_replayed_steps(metrics):
    """Replays skip the loss op's own NaN check; both replay paths check the loss value (the
    numpy "mse" metric keeps fit on the step-by-step path)."""
    fn.manual_seed(0)
    m = model()
    m.compile(optimizer=optimizers.SGD(1e30), loss="mse", metrics=metrics)
    x = np.random.default_rng(0).normal(size=(256, 5)).astype(np.float32) * 1e10
    y = np.ones((256, 3), np.float32)
    with pytest.raises(ValueError, match="NaN or infinite"):
        m.fit(x, y, batch_size=8, epochs=2, verbose=0)


def test_evaluate_and_predict_replay_and_agree_with_eager():
    captured, _ = train(True, OPTIMIZERS["adam"])
    eager, _ = train(False, OPTIMIZERS["adam"])
    x, y = data(45, seed=1)
    for _ in range(2):  # the second call replays
        assert captured.evaluate(x, y, batch_size=16) == eager.evaluate(x, y, batch_size=16)
        np.testing.assert_array_equal(captured.predict(x, batch_size=16),
                                      eager.predict(x, batch_size=16))


def test_plan_profile_names_every_kernel():
    m, _ = train(True, OPTIMIZERS["adam"], epochs=1)
    plan = [e for k, e in m._captured._entries.items() if k[0] == "train"][0].plan
    profile = plan.profile(2)
    names = [name for name, _ in profile]
    assert len(profile) == len(plan) and names.count("gemm") >= 4 and names[-1] == "optimizer_update"
    assert all(us >= 0 for _, us in profile)


def test_epochs_without_metrics_replay_in_one_call_and_match_eager(monkeypatch):
    """No metrics and no per-batch callbacks: fit replays the full batches in one C++ call
    per epoch (Plan.replay_batches; in the first epoch those after the captured one); the
    results stay those of eager steps."""
    from fastnn.capture import StepCapture

    calls = []
    original = StepCapture.replay_batches

    def spy(self, *args):
        calls.append(args[5])  # (kind, arrays, order, rows, first, batches)
        return original(self, *args)

    monkeypatch.setattr(StepCapture, "replay_batches", spy)
    captured, loss_c = train(True, OPTIMIZERS["adam"], epochs=3)
    assert calls == [3, 4, 4]  # 70 samples: batches 16 * 4 + 6; the capture and last in Python
    eager, loss_e = train(False, OPTIMIZERS["adam"], epochs=3)
    assert loss_c == loss_e
    for a, b in zip(captured.get_weights(), eager.get_weights()):
        assert a.tobytes() == b.tobytes()



@pytest.mark.parametrize("loss, metric, targets", [
    ("sparse_categorical_crossentropy", "accuracy", "sparse"),
    ("categorical_crossentropy", "accuracy", "one_hot"),
    (fn.losses.BinaryCrossentropy(from_logits=True), "accuracy", "binary"),
    ("binary_crossentropy", "binary_accuracy", "binary"),
    ("mse", "accuracy", "one_hot"),  # resolved from the shapes at the first batch
])
def test_accuracy_in_replayed_epochs_matches_numpy(monkeypatch, loss, metric, targets):
    """Accuracies in fit's one-call epochs are computed in C++; they equal the numpy metrics
    of the step-by-step path exactly."""
    from fastnn.capture import StepCapture

    calls = []
    original = StepCapture.replay_batches
    monkeypatch.setattr(StepCapture, "replay_batches",
                        lambda self, *a: calls.append(a[7]) or original(self, *a))
    rng = np.random.default_rng(5)
    x = rng.normal(size=(75, 5)).astype(np.float32)
    labels = rng.integers(0, 3, 75)
    y = {"sparse": labels, "one_hot": np.eye(3, dtype=np.float32)[labels],
         "binary": (labels == 1).astype(np.float32)[:, None]}[targets]
    out = 1 if targets == "binary" else 3
    act = "softmax" if loss in ("sparse_categorical_crossentropy", "categorical_crossentropy") else (
        "sigmoid" if loss == "binary_crossentropy" else None)
    histories = []
    for capture in (True, False):
        fn.manual_seed(2)
        m = fn.Sequential([layers.Dense(6, activation="relu"), layers.Dense(out, activation=act)],
                          input_shape=(5,))
        m.compile(optimizer="adam", loss=loss, metrics=[metric], capture=capture)
        histories.append(m.fit(x, y, batch_size=8, epochs=3, verbose=0).history)
    assert calls and all(len(specs) == 1 for specs in calls)
    assert histories[0] == histories[1]


def _autoencoder_fits(capture, targets_of):
    """Fits a small autoencoder twice: on (x, x), then on (x, targets_of(x)) with the same
    shapes; returns the losses and the weights."""
    fn.manual_seed(3)
    m = fn.Sequential([layers.Dense(4, activation="relu"), layers.Dense(6, activation="sigmoid")],
                      input_shape=(6,))
    m.compile(optimizer="adam", loss="mse", capture=capture)
    x = np.random.default_rng(4).random((50, 6), dtype=np.float32)
    first = m.fit(x, x, batch_size=8, epochs=2, verbose=0).history["loss"]
    second = m.fit(x, targets_of(x), batch_size=8, epochs=2, verbose=0).history["loss"]
    return first + second, m.get_weights()


@pytest.mark.parametrize("targets_of", [lambda x: x[::-1].copy(), lambda x: x.copy()],
                         ids=["other_targets", "equal_copy"])
def test_fit_on_x_x_shares_one_buffer_and_other_targets_get_their_own_plan(targets_of):
    """fit(x, x) gathers each batch once and the plan reads it as input and target; a later
    fit with a different target array of the same shape must not reuse that plan."""
    loss_c, weights_c = _autoencoder_fits(True, targets_of)
    loss_e, weights_e = _autoencoder_fits(False, targets_of)
    assert loss_c == loss_e
    for a, b in zip(weights_c, weights_e):
        assert a.tobytes() == b.tobytes()
