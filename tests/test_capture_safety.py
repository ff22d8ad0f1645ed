"""Capture that is right or absent: for the cases users write — random noise in ``call``, a
loss that reads its targets through numpy, ``.item()`` in ``call``, models and training
state changed between or during fits — a captured ``fit`` gives exactly the losses of
``compile(capture=False)``, either by replaying correctly or by noticing it cannot and
training eagerly with one warning. Also: labels a replay never showed the host, host reads
during a replayed epoch, and Ctrl-C during a long fit."""

import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest

import fastnn as fn
from fastnn import callbacks, layers


def data(n=75, features=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, features)).astype(np.float32),
            rng.integers(0, classes, n))


class Noisy(fn.Model):
    """Gaussian noise on the hidden layer while training (a denoising regulariser)."""

    def __init__(self):
        super().__init__()
        self.d1 = layers.Dense(7, activation="relu")
        self.d2 = layers.Dense(3)

    def call(self, x, training=False):
        h = self.d1(x)
        if training:
            h = h + fn.randn(*h.shape) * 0.5
        return self.d2(h)


class ReadsItem(fn.Model):
    """Python branching on a value of the batch: a plan cannot replay it."""

    def __init__(self):
        super().__init__()
        self.d1 = layers.Dense(6, activation="tanh")
        self.d2 = layers.Dense(3)

    def call(self, x, training=False):
        h = self.d1(x)
        if h.mean().item() > 0:
            h = h * 2.0
        return self.d2(h)


def weighted_loss(y_true, y_pred):
    """Per-sample weights computed in numpy from the batch's labels (class 0 counts double)."""
    labels = np.asarray(y_true)
    weights = fn.tensor(np.where(labels == 0, 2.0, 1.0).astype(np.float32))
    per_sample = fn.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                         reduction="none")(y_pred, y_true)
    return per_sample * weights


def fit_losses(make_model, capture, loss=None, epochs=3, batch_size=16, callbacks=None,
               seed=11, **compile_args):
    fn.manual_seed(seed)
    m = make_model()
    m.compile(optimizer="adam",
              loss=loss or fn.losses.SparseCategoricalCrossentropy(from_logits=True),
              capture=capture, **compile_args)
    x, y = data()
    h = m.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=callbacks)
    return m, h.history["loss"]


def same_weights(a, b):
    return all(p.tobytes() == q.tobytes() for p, q in zip(a.get_weights(), b.get_weights()))


def test_random_noise_in_call_draws_new_numbers_on_every_replay():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a replayable step must not warn
        captured, loss_c = fit_losses(Noisy, True)
    eager, loss_e = fit_losses(Noisy, False)
    assert captured._captured.refused == {} and len(captured._captured) >= 2
    assert loss_c == loss_e
    assert same_weights(captured, eager)


def test_a_random_op_in_a_plan_advances_the_generator_like_eager_code():
    """After a captured fit, the generator stands where the eager fit left it."""
    fit_losses(Noisy, True)
    after_captured = np.asarray(fn.rand(4))
    fit_losses(Noisy, False)
    after_eager = np.asarray(fn.rand(4))
    assert after_captured.tobytes() == after_eager.tobytes()


def test_a_loss_reading_targets_through_numpy_trains_eagerly_with_one_warning():
    with pytest.warns(UserWarning, match="on the host") as record:
        captured, loss_c = fit_losses(lambda: fn.Sequential(
            [layers.Dense(6, activation="relu"), layers.Dense(3)], input_shape=(5,)), True,
            loss=weighted_loss)
    assert len([w for w in record if "cannot be captured" in str(w.message)]) == 1
    assert "compile(capture=False)" in str(record[0].message)
    eager, loss_e = fit_losses(lambda: fn.Sequential(
        [layers.Dense(6, activation="relu"), layers.Dense(3)], input_shape=(5,)), False,
        loss=weighted_loss)
    assert loss_c == loss_e
    assert same_weights(captured, eager)


def test_item_inside_call_trains_eagerly_with_the_eager_results():
    with pytest.warns(UserWarning, match="reads a tensor's values on the host"):
        captured, loss_c = fit_losses(ReadsItem, True)
    eager, loss_e = fit_losses(ReadsItem, False)
    assert loss_c == loss_e
    assert same_weights(captured, eager)


def _pop_and_add(m):
    m.pop()
    m.add(layers.Dense(3))


def _freeze_first_layer(m):
    m.layers[0].trainable = False


def _set_new_weights(m):
    rng = np.random.default_rng(1)
    m.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in m.get_weights()])


def _compile_again(m):
    m.compile(optimizer=fn.optimizers.SGD(0.1, momentum=0.9),
              loss=fn.losses.SparseCategoricalCrossentropy(from_logits=True),
              capture=m._capture)


def _replace_optimizer(m):
    m.optimizer = fn.optim.SGD(m.parameters(), lr=0.05)


def _replace_loss(m):
    m.loss = lambda y_true, y_pred: fn.losses.SparseCategoricalCrossentropy(
        from_logits=True)(y_pred, y_true) * 2.0


CHANGES = [_pop_and_add, _freeze_first_layer, _set_new_weights, _compile_again,
           _replace_optimizer, _replace_loss]


@pytest.mark.filterwarnings("ignore:fit. the model's trainable weights changed")
@pytest.mark.parametrize("change", CHANGES, ids=[c.__name__[1:] for c in CHANGES])
def test_changes_between_fits_give_the_eager_losses(change):
    """Two fits with a change in between that affects what the captured plans did (no
    recompile unless the change is one): the second fit must not replay stale plans."""
    def run(capture):
        fn.manual_seed(4)
        m = fn.Sequential([layers.Dense(6, activation="relu"), layers.Dense(4), layers.Dense(3)],
                          input_shape=(5,))
        m.compile(optimizer="adam", loss=fn.losses.SparseCategoricalCrossentropy(True),
                  capture=capture)
        x, y = data()
        first = m.fit(x, y, batch_size=16, epochs=2, verbose=0).history["loss"]
        change(m)
        second = m.fit(x, y, batch_size=16, epochs=2, verbose=0).history["loss"]
        return first + second, m

    (loss_c, m_c), (loss_e, m_e) = run(True), run(False)
    assert len(m_c._captured) >= 1
    assert loss_c == loss_e
    assert same_weights(m_c, m_e)


class HalveRateAtBatch(callbacks.Callback):
    """Changes the learning rate in the middle of every epoch."""

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 2:
            self.model.optimizer.learning_rate = self.model.optimizer.learning_rate * 0.5


def test_learning_rate_change_from_a_callback_mid_epoch():
    make = lambda: fn.Sequential([layers.Dense(6, activation="relu"), layers.Dense(3)],  # noqa
                                 input_shape=(5,))
    captured, loss_c = fit_losses(make, True, callbacks=[HalveRateAtBatch()])
    eager, loss_e = fit_losses(make, False, callbacks=[HalveRateAtBatch()])
    assert len(captured._captured) >= 2
    assert loss_c == loss_e
    assert same_weights(captured, eager)


def test_labels_out_of_range_through_a_custom_loss_on_a_later_batch_raise():
    """The custom loss hides the class count from fit's up-front check, and batch 3 is
    replayed: the loss kernel flags the label instead of reading past the row."""
    def loss(y_true, y_pred):
        return fn.losses.SparseCategoricalCrossentropy(from_logits=True)(y_pred, y_true)

    x, y = data(n=96)
    y[70] = 7  # in the fifth batch of 16 (unshuffled)
    for capture in (True, False):
        fn.manual_seed(1)
        m = fn.Sequential([layers.Dense(3)], input_shape=(5,))
        m.compile(optimizer="sgd", loss=loss, capture=capture)
        with pytest.raises(IndexError, match="7"):
            m.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
        # The error is reported once; the model keeps working.
        good = np.clip(y, 0, 2)
        m.fit(x, good, batch_size=16, epochs=1, verbose=0)


def test_a_replayed_epoch_reads_nothing_from_the_device_until_its_end():
    """A debug counter of host reads: with 50 batches per epoch, a replayed epoch reads the
    loss total, the error flags and the metric total once, at its end."""
    counts = []

    class Count(callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = fn._C.host_read_count()

        def on_epoch_end(self, epoch, logs=None):
            counts.append(fn._C.host_read_count() - self.start)

    fn.manual_seed(0)
    x, y = data(n=50 * 8)
    m = fn.Sequential([layers.Dense(16, activation="relu"), layers.Dense(3)], input_shape=(5,))
    m.compile(optimizer="adam", loss=fn.losses.SparseCategoricalCrossentropy(True),
              metrics=["accuracy"])
    m.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[Count()])
    assert counts[1] == counts[2] and counts[1] <= 3, counts


def test_nan_in_a_replayed_epoch_names_its_step():
    x, y = data(n=80)
    x[37] = np.nan  # the third batch of 16 (unshuffled), replayed in the first epoch
    fn.manual_seed(0)
    m = fn.Sequential([layers.Dense(3)], input_shape=(5,))
    m.compile(optimizer="sgd", loss=fn.losses.SparseCategoricalCrossentropy(True))
    with pytest.raises(ValueError, match="NaN or infinite at step 3"):
        m.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)


def test_ctrl_c_stops_a_long_fit_within_a_second():
    code = textwrap.dedent("""
        import sys, time
        import numpy as np
        import fastnn as fn
        from fastnn import layers
        fn.manual_seed(0)
        x = np.random.default_rng(0).random((20000, 784), dtype=np.float32)
        y = np.random.default_rng(1).integers(0, 10, 20000)
        m = fn.Sequential([layers.Dense(2048, activation="relu"),
                           layers.Dense(2048, activation="relu"), layers.Dense(10)],
                          input_shape=(784,))
        m.compile(optimizer="adam", loss=fn.losses.SparseCategoricalCrossentropy(True))
        m.fit(x[:64], y[:64], batch_size=64, epochs=1, verbose=0)  # captured
        print("training", flush=True)
        try:
            m.fit(x, y, batch_size=64, epochs=100, verbose=0)
        except KeyboardInterrupt:
            print("interrupted", time.perf_counter(), flush=True)
            sys.exit(0)
        print("finished", flush=True)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while "training" not in line:
            line = child.stdout.readline()
            assert line, child.stderr.read()
        time.sleep(1.5)  # well inside the first replayed epoch
        sent = time.perf_counter()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    assert out.startswith("interrupted"), out + err
    assert float(out.split()[1]) - sent < 1.0


def test_a_replayed_gather_checks_indices_it_never_showed_the_host():
    """Indices that reach a recorded gather through a plan's input buffer (ids of a batch)
    are checked by the kernel: a bad one is reported, its row zeroed, nothing read past the
    table."""
    table = fn.tensor(np.arange(12, dtype=np.float32).reshape(4, 3))
    ids = fn._C.Tensor(np.array([0, 3, 1], dtype=np.int64), "int64")
    plan = fn._C.Plan()
    plan.begin_capture()
    out = fn._C.take_rows(table, ids)
    plan.end_capture([])
    assert plan.refusal == ""
    np.asarray(ids)[:] = [2, 4, 1]  # 4 is past the table's 4 rows
    plan.replay()
    np.testing.assert_array_equal(np.asarray(out), [[6, 7, 8], [0, 0, 0], [3, 4, 5]])
    with pytest.raises(IndexError, match="4 at position 1 .* \\[0, 4\\)"):
        fn._C.check_kernel_errors("gather")
    fn._C.check_kernel_errors("gather")  # reported once


def test_a_layer_added_without_recompiling_is_trained():
    fn.manual_seed(2)
    m = fn.Sequential([layers.Dense(6, activation="relu"), layers.Dense(3)], input_shape=(5,))
    m.compile(optimizer="adam", loss=fn.losses.SparseCategoricalCrossentropy(True))
    x, y = data()
    m.fit(x, y, batch_size=16, epochs=1, verbose=0)
    m.pop()
    m.add(layers.Dense(3))
    before = m.layers[-1].get_weights()
    with pytest.warns(UserWarning, match="trainable weights changed since compile"):
        m.fit(x, y, batch_size=16, epochs=1, verbose=0)
    after = m.layers[-1].get_weights()
    assert all(np.abs(a - b).max() > 0 for a, b in zip(before, after))
