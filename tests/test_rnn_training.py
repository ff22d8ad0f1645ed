"""An LSTM learns the bundled digits read row by row (the accuracy bar for the recurrent
layers), and a captured fit of an Embedding -> LSTM model trains as the eager one does."""

import time

import numpy as np
import pytest

import fastnn as fn
from fastnn import layers
from fastnn.datasets import load_digits, train_test_split


def digits_rows_split():
    """The digits as sequences of 8 rows of 8 pixels in [0, 1]; 25% held out, split seed 0."""
    x, y = load_digits(return_images=True)
    return train_test_split(x / 16.0, y, test_size=0.25, seed=0)


def digits_lstm_accuracy(seed, split):
    x_train, x_test, y_train, y_test = split
    fn.manual_seed(seed)
    model = fn.Sequential([
        layers.LSTM(64),
        layers.Dense(10, activation="softmax"),
    ], input_shape=(8, 8))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=40, batch_size=32, verbose=0)
    return model.evaluate(x_test, y_test)[1]


def test_digits_lstm_reaches_93_percent():
    split = digits_rows_split()
    start = time.perf_counter()
    accuracies = [digits_lstm_accuracy(seed, split) for seed in range(5)]
    print(f"test accuracies of seeds 0-4: {[round(a, 4) for a in accuracies]}, "
          f"{time.perf_counter() - start:.1f}s")
    assert np.median(accuracies) >= 0.93, accuracies


# --- captured fit --------------------------------------------------------------------------

VOCAB, STEPS = 13, 9


def padded_ids(rng, n):
    """n pre-padded id sequences of lengths 1..STEPS (0 = padding), and labels: whether the
    last real id is larger than the first (so the order of the ids matters)."""
    seqs = [rng.integers(1, VOCAB, rng.integers(1, STEPS + 1)) for _ in range(n)]
    y = np.array([int(s[-1] > s[0]) for s in seqs])
    return fn.utils.pad_sequences(seqs, maxlen=STEPS), y


def fit_losses(capture, make_layers, x, y):
    fn.manual_seed(5)
    model = fn.Sequential(make_layers(), input_shape=(STEPS,))
    model.compile(optimizer="adam",
                  loss=fn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  capture=capture)
    history = model.fit(x, y, epochs=4, batch_size=16, validation_split=0.2, verbose=0)
    return model, history.history["loss"], history.history["val_loss"]


@pytest.mark.parametrize("make_layers", [
    lambda: [layers.Embedding(VOCAB, 5, mask_zero=True), layers.LSTM(6), layers.Dense(2)],
    lambda: [layers.Embedding(VOCAB, 5), layers.LSTM(6, return_sequences=True), layers.LSTM(4),
             layers.Dense(2)],
], ids=["embedding_lstm_dense", "embedding_stacked_lstm_dense"])
def test_captured_fit_gives_the_eager_losses(make_layers):
    """The same seed, data and shuffling: the replayed (captured) training step and the eager
    one give the same losses epoch by epoch (the last batch of each epoch is smaller, so
    both batch shapes are replayed)."""
    x, y = padded_ids(np.random.default_rng(7), 90)  # 72 to train: batches 16 * 4 + 8
    captured, loss_c, val_c = fit_losses(True, make_layers, x, y)
    eager, loss_e, val_e = fit_losses(False, make_layers, x, y)
    assert len(captured._captured) >= 1 and captured._captured.refused == {}
    assert len(eager._captured) == 0
    np.testing.assert_allclose(loss_c, loss_e, rtol=1e-5)
    np.testing.assert_allclose(val_c, val_e, rtol=1e-5)
    assert loss_c[-1] < loss_c[0]
    for a, b in zip(captured.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
