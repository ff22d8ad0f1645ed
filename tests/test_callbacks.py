"""Keras's built-in callbacks (EarlyStopping, ReduceLROnPlateau, LearningRateScheduler,
CSVLogger, LambdaCallback) in fit, against Keras 3's documented rules worked out by hand.

Most tests script the monitored quantity: a LambdaCallback listed first writes chosen
values into the epoch's logs, so each expected decision (stop epoch, best epoch, learning
rate) follows from the rule on a known sequence rather than from a training run.
"""

import csv
import math

import numpy as np
import pytest

import fastnn as fn
from fastnn import callbacks, layers, optim, optimizers
from fastnn.capture import StepCapture


def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5)).astype(np.float32), rng.integers(0, 3, n)


def make_model(optimizer=None, metrics=None, capture=True, seed=7):
    fn.manual_seed(seed)
    m = fn.Sequential([layers.Dense(8, activation="tanh"), layers.Dense(3)], input_shape=(5,))
    m.compile(optimizer=optimizer or optimizers.SGD(0.1),
              loss=fn.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=metrics, capture=capture)
    return m


def script(key, values):
    """Writes values[epoch] into logs[key] at each epoch's end (list it first)."""
    def write(epoch, logs):
        logs[key] = values[epoch]
    return callbacks.LambdaCallback(on_epoch_end=write)


def weight_recorder(model, snapshots):
    return callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: snapshots.__setitem__(epoch, model.get_weights()))


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


def fit(model, cbs, epochs, **kwargs):
    x, y = data()
    return model.fit(x, y, batch_size=16, epochs=epochs, verbose=0, callbacks=cbs, **kwargs)


# --- EarlyStopping ---------------------------------------------------------------------------


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    # best 1.0, 0.8 (epoch 1); epochs 2 and 3 do not beat 0.8: with patience 2, the wait
    # reaches 2 at epoch 3 and training stops there.
    values = [1.0, 0.8, 0.9, 0.85, 0.7, 0.6]
    m = make_model()
    stop = callbacks.EarlyStopping(monitor="score", mode="min", patience=2)
    h = fit(m, [script("score", values), stop], epochs=6)
    assert h.epoch == [0, 1, 2, 3]
    assert m.stop_training is True
    assert stop.stopped_epoch == 3 and stop.best == 0.8 and stop.best_epoch == 1
    assert h.history["score"] == values[:4]


def test_early_stopping_default_patience_zero_stops_at_the_first_non_improvement():
    m = make_model()
    stop = callbacks.EarlyStopping(monitor="score", mode="min")
    h = fit(m, [script("score", [3.0, 2.0, 2.0, 1.0]), stop], epochs=4)
    assert h.epoch == [0, 1, 2] and stop.stopped_epoch == 2


def test_early_stopping_min_delta():
    # mode min, min_delta 0.1: an epoch improves only below best - 0.1. 0.95 and 0.92 do
    # not (best stays 1.0), so patience 2 stops at epoch 2; without min_delta all improve.
    values = [1.0, 0.95, 0.92, 0.91, 0.9]
    m = make_model()
    stop = callbacks.EarlyStopping(monitor="score", mode="min", patience=2, min_delta=0.1)
    h = fit(m, [script("score", values), stop], epochs=5)
    assert h.epoch == [0, 1, 2] and stop.best == 1.0 and stop.best_epoch == 0
    # min_delta's sign is ignored (Keras takes its absolute value).
    stop = callbacks.EarlyStopping(monitor="score", mode="min", patience=2, min_delta=-0.1)
    assert len(fit(make_model(), [script("score", values), stop], epochs=5).epoch) == 3
    stop = callbacks.EarlyStopping(monitor="score", mode="min", patience=2)
    assert len(fit(make_model(), [script("score", values), stop], epochs=5).epoch) == 5


def test_early_stopping_baseline():
    # Keras 3: the wait restarts only on epochs that beat both the best and the baseline.
    # None of these beat 0.5: the wait counts 1, 2 through the improving epochs 0 and 1
    # and reaches 3 at epoch 2, which does not improve: stop there.
    values = [0.9, 0.8, 0.85, 0.7, 0.6]
    stop = callbacks.EarlyStopping(monitor="score", mode="min", patience=3, baseline=0.5,
                                   restore_best_weights=True)
    m = make_model()
    snapshots = {}
    h = fit(m, [script("score", values), weight_recorder(m, snapshots), stop], epochs=5)
    assert h.epoch == [0, 1, 2] and stop.stopped_epoch == 2
    # The best epoch of that set is restored even though it missed the baseline.
    assert stop.best_epoch == 1 and same(m.get_weights(), snapshots[1])
    # Without the baseline the same values never wait 3 epochs.
    stop = callbacks.EarlyStopping(monitor="score", mode="min", patience=3)
    assert len(fit(make_model(), [script("score", values), stop], epochs=5).epoch) == 5
    # Beating the baseline restarts the wait as usual: 0.4 at epoch 0, then 3 without.
    stop = callbacks.EarlyStopping(monitor="score", mode="min", patience=3, baseline=0.5)
    h = fit(make_model(), [script("score", [0.4, 0.45, 0.46, 0.47, 0.3]), stop], epochs=5)
    assert h.epoch == [0, 1, 2, 3]


def test_restore_best_weights_restores_the_best_epochs_weights_in_place():
    values = [1.0, 0.5, 0.7, 0.9, 0.2]  # best at epoch 1; patience 2 stops at epoch 3
    m = make_model()
    weights_before = m.weights
    snapshots = {}
    stop = callbacks.EarlyStopping(monitor="score", mode="min", patience=2,
                                   restore_best_weights=True)
    h = fit(m, [script("score", values), weight_recorder(m, snapshots), stop], epochs=5)
    assert h.epoch == [0, 1, 2, 3] and stop.best_epoch == 1
    assert same(m.get_weights(), snapshots[1]) and not same(m.get_weights(), snapshots[3])
    assert all(a is b for a, b in zip(m.weights, weights_before))  # written in place
    # The model keeps training from the restored weights; the captured plans stay valid.
    m.fit(*data(), batch_size=16, epochs=1, verbose=0)
    assert len(m._captured) >= 1


def test_restore_best_weights_also_when_training_ends_without_a_stop():
    # Keras 3 restores at the end of training whenever a best epoch exists (Keras 2 only
    # restored when it stopped training itself).
    values = [1.0, 0.9, 0.3, 0.5, 0.6]
    m = make_model()
    snapshots = {}
    stop = callbacks.EarlyStopping(monitor="score", mode="min", patience=10,
                                   restore_best_weights=True)
    h = fit(m, [script("score", values), weight_recorder(m, snapshots), stop], epochs=5)
    assert h.epoch == [0, 1, 2, 3, 4] and stop.stopped_epoch == 0
    assert same(m.get_weights(), snapshots[2])
    # Without restore_best_weights the last epoch's weights stay.
    m = make_model()
    snapshots = {}
    stop = callbacks.EarlyStopping(monitor="score", mode="min", patience=1)
    fit(m, [script("score", values), weight_recorder(m, snapshots), stop], epochs=5)
    assert same(m.get_weights(), snapshots[3])  # stopped at epoch 3


def test_early_stopping_start_from_epoch():
    # Epochs 0 and 1 are not monitored (their low values are ignored): the best is epoch
    # 2's 3.0 and epoch 3 ends training with patience 1.
    values = [0.1, 0.2, 3.0, 3.5, 2.0]
    m = make_model()
    snapshots = {}
    stop = callbacks.EarlyStopping(monitor="score", mode="min", patience=1, start_from_epoch=2,
                                   restore_best_weights=True)
    h = fit(m, [script("score", values), weight_recorder(m, snapshots), stop], epochs=5)
    assert h.epoch == [0, 1, 2, 3] and stop.best == 3.0 and stop.best_epoch == 2
    assert same(m.get_weights(), snapshots[2])


@pytest.mark.parametrize("monitor, metrics, values, epochs_run", [
    # maximized: 0.55 after 0.6 is the first non-improvement (patience 1) -> stop at 2
    ("accuracy", ["accuracy"], [0.5, 0.6, 0.55, 0.7], 3),
    ("val_accuracy", ["accuracy"], [0.5, 0.6, 0.55, 0.7], 3),
    ("val_acc", ["acc"], [0.5, 0.6, 0.55, 0.7], 3),
    # minimized: 0.6 after 0.5 does not improve -> stop at 1
    ("val_loss", None, [0.5, 0.6, 0.55, 0.7], 2),
    ("val_sparse_categorical_crossentropy", ["sparse_categorical_crossentropy"],
     [0.5, 0.6, 0.55, 0.7], 2),
])
def test_early_stopping_mode_auto_follows_the_metric(monitor, metrics, values, epochs_run):
    m = make_model(metrics=metrics)
    stop = callbacks.EarlyStopping(monitor=monitor, patience=1)
    assert len(fit(m, [script(monitor, values), stop], epochs=4).epoch) == epochs_run


def test_early_stopping_mode_auto_refuses_an_unknown_quantity_and_max_overrides():
    m = make_model()
    with pytest.raises(ValueError, match="mode='max'"):
        fit(m, [script("score", [1.0, 2.0]), callbacks.EarlyStopping(monitor="score")], 2)
    stop = callbacks.EarlyStopping(monitor="score", mode="max", patience=1)
    assert len(fit(make_model(), [script("score", [1.0, 2.0, 1.5, 3.0]), stop], 4).epoch) == 3
    with pytest.warns(UserWarning, match="unknown, fallback to auto"):
        stop = callbacks.EarlyStopping(monitor="val_loss", mode="maximum")
    assert stop.mode == "auto"


def test_early_stopping_without_the_monitored_quantity_warns_and_never_stops():
    stop = callbacks.EarlyStopping(monitor="val_loss")  # no validation data
    with pytest.warns(UserWarning, match="val_loss.*not available"):
        h = fit(make_model(), [stop], epochs=3)
    assert len(h.epoch) == 3


def test_early_stopping_instance_is_reusable_across_fits():
    m = make_model()
    stop = callbacks.EarlyStopping(monitor="score", mode="min", patience=1)
    assert len(fit(m, [script("score", [1.0, 0.5, 0.6, 0.1]), stop], 4).epoch) == 3
    # best restarts: 5.0 at epoch 0 of the next fit is not compared with the old 0.5 (it
    # would stop at epoch 1).
    assert len(fit(m, [script("score", [5.0, 4.0, 4.5]), stop], 3).epoch) == 3
    assert stop.best == 4.0


def test_early_stopping_on_real_validation_loss_matches_the_rule():
    """An over-fitting model (random validation labels): the epoch it stops at and the
    weights it restores follow the rule applied to the val_loss values fit logged."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(48, 5)).astype(np.float32), rng.integers(0, 3, 48)
    xv, yv = rng.normal(size=(32, 5)).astype(np.float32), rng.integers(0, 3, 32)
    fn.manual_seed(1)
    m = fn.Sequential([layers.Dense(64, activation="relu"), layers.Dense(3)], input_shape=(5,))
    m.compile(optimizer=optimizers.Adam(0.03),
              loss=fn.losses.SparseCategoricalCrossentropy(from_logits=True))
    snapshots = {}
    stop = callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    h = m.fit(x, y, batch_size=16, epochs=40, validation_data=(xv, yv), verbose=0,
              callbacks=[weight_recorder(m, snapshots), stop])
    values = h.history["val_loss"]
    best, wait, expected_stop = math.inf, 0, None
    for epoch, v in enumerate(values):
        if v < best:
            best, wait = v, 0
        else:
            wait += 1
            if wait >= 2:
                expected_stop = epoch
                break
    assert expected_stop is not None and expected_stop < 39  # it did stop early
    assert h.epoch[-1] == expected_stop == stop.stopped_epoch
    assert same(m.get_weights(), snapshots[int(np.argmin(values))])


# --- ReduceLROnPlateau -----------------------------------------------------------------------


def lr_history(values, epochs, **kwargs):
    m = make_model(optimizers.SGD(0.1))
    reduce = callbacks.ReduceLROnPlateau(monitor="score", **kwargs)
    h = fit(m, [script("score", values), reduce], epochs)
    return h.history["learning_rate"], m.optimizer.learning_rate


def test_reduce_lr_on_plateau_patience_factor_and_min_lr():
    # A flat score: epoch 0 sets the best; the wait reaches patience 2 at epochs 2, 4, 6,
    # 8, 10, each multiplying the rate by 0.5 after the epoch (logs show the rate the
    # epoch trained with); min_lr 0.01 caps it.
    lrs, final = lr_history([1.0] * 11, 11, factor=0.5, patience=2, min_delta=0, min_lr=0.01)
    assert lrs == [0.1] * 3 + [0.05] * 2 + [0.025] * 2 + [0.0125] * 2 + [0.01] * 2
    assert final == 0.01


def test_reduce_lr_on_plateau_cooldown():
    # cooldown 2: after a reduction the next epoch only counts the cooldown down (1) and
    # the one after ends it (0) and starts waiting again, so reductions come at epochs
    # 2, 5, 8 instead of 2, 4, 6, 8. Keras decrements before checking, so cooldown 1
    # changes nothing.
    flat = [1.0] * 10
    lrs, _ = lr_history(flat, 10, factor=0.5, patience=2, min_delta=0, cooldown=2)
    assert lrs == [0.1] * 3 + [0.05] * 3 + [0.025] * 3 + [0.0125]
    for cooldown in (0, 1):
        lrs, _ = lr_history(flat, 10, factor=0.5, patience=2, min_delta=0, cooldown=cooldown)
        assert lrs == [0.1] * 3 + [0.05] * 2 + [0.025] * 2 + [0.0125] * 2 + [0.00625]


def test_reduce_lr_on_plateau_improvements_reset_the_wait():
    # Improvements by more than min_delta 0.05 at epochs 0, 2, 4 (0.9 < 1.0 - 0.05, ...);
    # 0.83 at epoch 5 misses 0.8 - 0.05 and 0.78 at 6 too: the rate drops after epoch 6.
    values = [1.0, 0.99, 0.9, 0.88, 0.8, 0.83, 0.78, 0.7]
    lrs, _ = lr_history(values, 8, factor=0.1, patience=2, min_delta=0.05)
    assert lrs == pytest.approx([0.1] * 7 + [0.01], rel=1e-15)


def test_reduce_lr_on_plateau_mode_auto_maximizes_acc():
    # "acc" in the name: maximized. Rising values never reduce; with mode "min" they would.
    rising = [0.5, 0.6, 0.7, 0.8]
    m = make_model(optimizers.SGD(0.1), metrics=["accuracy"])
    h = fit(m, [script("val_accuracy", rising),
                callbacks.ReduceLROnPlateau(monitor="val_accuracy", patience=1)], 4)
    assert h.history["learning_rate"] == [0.1] * 4
    m = make_model(optimizers.SGD(0.1))
    h = fit(m, [script("score", rising),
                callbacks.ReduceLROnPlateau(monitor="score", mode="min", patience=1)], 4)
    assert h.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.01, 0.001], rel=1e-15)


def test_reduce_lr_on_plateau_argument_checks_and_schedules():
    with pytest.raises(ValueError, match="factor >= 1.0"):
        callbacks.ReduceLROnPlateau(factor=1.0)
    with pytest.raises(ValueError, match="patience"):
        callbacks.ReduceLROnPlateau(patience=-1)
    # An optimizer driven by a schedule cannot take a rate from a callback (as Keras).
    m = make_model(optimizers.SGD(optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)))
    with pytest.raises(TypeError, match="not settable"):
        fit(m, [script("score", [1.0] * 3),
                callbacks.ReduceLROnPlateau(monitor="score", patience=1)], 3)


def test_reduce_lr_on_plateau_with_a_pytorch_style_optimizer():
    m = make_model()
    m.compile(optimizer=optim.SGD(m.parameters(), lr=0.2),
              loss=fn.losses.SparseCategoricalCrossentropy(from_logits=True))
    h = fit(m, [script("score", [1.0] * 4),
                callbacks.ReduceLROnPlateau(monitor="score", patience=1, factor=0.5)], 4)
    assert h.history["learning_rate"] == [0.2, 0.2, 0.1, 0.05]
    assert m.optimizer.param_groups[0]["lr"] == 0.025


def test_a_reduced_rate_reaches_the_captured_step():
    """min_delta 10 makes every epoch after the first a plateau: the rate falls tenfold
    after each. Captured and eager training agree exactly, and differ from a constant
    rate."""
    def run(capture, reduce=True):
        m = make_model(optimizers.Adam(0.05), capture=capture)
        cbs = [callbacks.ReduceLROnPlateau(monitor="loss", patience=0, min_delta=10)] * reduce
        h = fit(m, cbs, epochs=4)
        return h.history, m.get_weights()

    (hc, wc), (he, we) = run(True), run(False)
    assert hc["learning_rate"] == pytest.approx([0.05, 0.05, 0.005, 0.0005], rel=1e-15)
    assert hc == he and same(wc, we)
    assert run(True, reduce=False)[0]["loss"] != hc["loss"]


# --- LearningRateScheduler -------------------------------------------------------------------


def test_learning_rate_scheduler_sets_the_rate_each_epoch_and_logs_it():
    m = make_model(optimizers.SGD(0.1))
    seen = []
    sched = callbacks.LearningRateScheduler(lambda epoch, lr: lr if epoch < 2 else lr * 0.5)
    h = fit(m, [sched, callbacks.LambdaCallback(
        on_epoch_begin=lambda e, logs: seen.append(m.optimizer.learning_rate))], epochs=4)
    assert seen == [0.1, 0.1, 0.05, 0.025]
    assert h.history["learning_rate"] == [0.1, 0.1, 0.05, 0.025]
    # The one-argument form schedule(epoch) works too (Keras's older API).
    m = make_model(optimizers.SGD(0.1))
    h = fit(m, [callbacks.LearningRateScheduler(lambda epoch: 0.3 / (epoch + 1))], epochs=3)
    assert h.history["learning_rate"] == [0.3 / (epoch + 1) for epoch in range(3)]


def test_learning_rate_scheduler_checks_the_schedule():
    with pytest.raises(TypeError, match="schedule"):
        callbacks.LearningRateScheduler(0.1)
    with pytest.raises(ValueError, match="should be a float"):
        fit(make_model(), [callbacks.LearningRateScheduler(lambda epoch, lr: 1)], epochs=1)


def test_learning_rate_scheduler_rate_is_the_one_each_step_uses():
    """Linear regression without bias, plain SGD, one batch per epoch: each epoch's update
    is w -= lr_epoch * 2/N X^T (X w - y), checked against numpy in float64."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5]) + 0.1).astype(np.float32)[:, None]
    rates = [0.1, 0.05, 0.2, 0.01]
    for capture in (True, False):
        fn.manual_seed(0)
        m = fn.Sequential([layers.Dense(1, use_bias=False)], input_shape=(3,))
        m.compile(optimizer=optimizers.SGD(1.0), loss="mse", capture=capture)
        w = m.get_weights()[0].astype(np.float64)
        m.fit(x, y, batch_size=16, epochs=4, verbose=0, shuffle=False,
              callbacks=[callbacks.LearningRateScheduler(lambda e, lr: rates[e])])
        for lr in rates:
            w = w - lr * 2.0 / len(x) * x.T.astype(np.float64) @ (x @ w - y)
        np.testing.assert_allclose(m.get_weights()[0], w, rtol=1e-5, atol=1e-6)


# --- CSVLogger -------------------------------------------------------------------------------


def read_rows(path):
    with open(path, newline="") as f:
        text = f.read()
    return text, list(csv.reader(text.splitlines()))


def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    path = tmp_path / "log.csv"
    m = make_model(metrics=["accuracy"])
    x, y = data()
    h = m.fit(x, y, batch_size=16, epochs=3, validation_split=0.25, verbose=0,
              callbacks=[callbacks.CSVLogger(path)])
    text, rows = read_rows(path)
    assert text.count("\r\n") == 4 and text.endswith("\r\n")  # csv's excel dialect
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]  # sorted
    for epoch, row in enumerate(rows[1:]):
        assert int(row[0]) == epoch
        assert [float(v) for v in row[1:]] == [h.history[k][epoch] for k in rows[0][1:]]


def test_csv_logger_append_and_separator(tmp_path):
    path = tmp_path / "log.csv"
    m = make_model()
    fit(m, [callbacks.CSVLogger(str(path))], epochs=2)
    h = fit(m, [callbacks.CSVLogger(path, append=True)], epochs=2)
    _, rows = read_rows(path)
    assert [r[0] for r in rows] == ["epoch", "0", "1", "0", "1"]  # one header
    assert float(rows[-1][1]) == h.history["loss"][-1]
    # append=False overwrites; an empty existing file gets a header when appending.
    fit(m, [callbacks.CSVLogger(path)], epochs=1)
    assert len(read_rows(path)[1]) == 2
    path.write_text("")
    fit(m, [callbacks.CSVLogger(path, separator=";", append=True)], epochs=1)
    text, _ = read_rows(path)
    assert text.startswith("epoch;loss\r\n0;")
    with pytest.raises(ValueError, match="separator"):
        callbacks.CSVLogger(path, separator=";;")


def test_csv_logger_after_a_scheduler_logs_the_learning_rate(tmp_path):
    path = tmp_path / "log.csv"
    fit(make_model(optimizers.SGD(0.1)),
        [callbacks.LearningRateScheduler(lambda e, lr: 0.1 * 2 ** -e), callbacks.CSVLogger(path)],
        epochs=3)
    _, rows = read_rows(path)
    assert rows[0] == ["epoch", "learning_rate", "loss"]
    assert [float(r[1]) for r in rows[1:]] == [0.1, 0.05, 0.025]


# --- LambdaCallback and the dispatcher -------------------------------------------------------


def test_lambda_callback_hooks_run_in_keras_order():
    events = []
    cb = callbacks.LambdaCallback(
        on_train_begin=lambda logs: events.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: events.append(f"epoch_begin {epoch}"),
        on_train_batch_begin=lambda batch, logs: events.append(f"batch_begin {batch}"),
        on_train_batch_end=lambda batch, logs: events.append(f"batch_end {batch}"),
        on_epoch_end=lambda epoch, logs: events.append(f"epoch_end {epoch} {sorted(logs)}"),
        on_train_end=lambda logs: events.append(f"train_end {sorted(logs)}"))
    fit(make_model(), [cb], epochs=2)  # 40 samples: batches of 16, 16, 8
    epoch = lambda e: ([f"epoch_begin {e}"]  # noqa: E731
                       + [f"batch_{w} {b}" for b in range(3) for w in ("begin", "end")]
                       + [f"epoch_end {e} ['loss']"])
    assert events == ["train_begin"] + epoch(0) + epoch(1) + ["train_end ['loss']"]


def test_batch_hooks_get_logs_as_a_keyword_and_keras_aliases_work():
    seen = []
    cb = callbacks.LambdaCallback(on_batch_begin=lambda batch, **kw: seen.append(("b", batch,
                                                                                   kw)),
                                  on_batch_end=lambda batch, logs: seen.append(("e", batch,
                                                                                sorted(logs))))
    fit(make_model(), [cb], epochs=1)
    assert seen == [x for b in range(3) for x in (("b", b, {"logs": {}}), ("e", b, ["loss"]))]

    class Overrides(callbacks.Callback):  # on_train_batch_end overridden: no alias call
        calls = 0

        def on_train_batch_end(self, batch, logs=None):
            Overrides.calls += 1

        def on_batch_end(self, batch, logs=None):
            raise AssertionError("the alias runs only through the default hook")

    fit(make_model(), [Overrides()], epochs=1)
    assert Overrides.calls == 3


def test_stop_training_from_a_batch_hook_ends_the_epoch_there():
    m = make_model()

    def stop_at_batch_1(batch, logs):
        if batch == 1:
            m.stop_training = True

    h = fit(m, [callbacks.LambdaCallback(on_train_batch_end=stop_at_batch_1)], epochs=3)
    assert h.epoch == [0] and m.optimizer.iterations == 2


def test_history_records_what_other_callbacks_add_to_the_logs():
    m = make_model()
    h = fit(m, [callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs: logs.__setitem__("extra", e * 10))], epochs=3)
    assert h.history["extra"] == [0, 10, 20] and m.history is h


def spy_replays(monkeypatch):
    calls = []
    original = StepCapture.replay_batches

    def spy(self, *args):
        calls.append(args[5])  # batches replayed by this call
        return original(self, *args)

    monkeypatch.setattr(StepCapture, "replay_batches", spy)
    return calls


def test_epoch_level_callbacks_keep_the_one_call_epochs(monkeypatch, tmp_path):
    calls = spy_replays(monkeypatch)
    m = make_model(optimizers.Adam(0.01))
    x, y = data(70)  # batches 16 * 4 + 6
    cbs = [callbacks.EarlyStopping(monitor="loss", patience=5),
           callbacks.ReduceLROnPlateau(monitor="loss", patience=5),
           callbacks.LearningRateScheduler(lambda e, lr: lr * 0.9),
           callbacks.CSVLogger(tmp_path / "log.csv"),
           callbacks.LambdaCallback(on_epoch_end=lambda e, logs: None,
                                    on_train_begin=lambda logs: None)]
    m.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=cbs)
    assert calls == [3, 4, 4]  # the first batch is captured; the last, smaller one alone
    calls.clear()
    m.fit(x, y, batch_size=16, epochs=2, verbose=0,
          callbacks=[callbacks.LambdaCallback(on_batch_end=lambda b, logs: None)])
    assert calls == []  # a batch hook needs Python between the steps
