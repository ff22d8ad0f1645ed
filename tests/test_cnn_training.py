"""A small CNN learns the bundled digits: the issue's accuracy bar for the CNN layers."""

import numpy as np

import fastnn as fn
from fastnn import layers
from fastnn.datasets import load_digits, train_test_split


def digits_cnn_accuracy(seed):
    fn.manual_seed(seed)
    x, y = load_digits(return_images=True)
    x = (x / 16.0).astype(np.float32)[..., None]  # (N, 8, 8, 1)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, seed=seed)
    model = fn.Sequential([
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPool2D(),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ], input_shape=(8, 8, 1))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=20, batch_size=32, verbose=0)
    return model.evaluate(x_test, y_test)[1]


def test_digits_cnn_reaches_97_percent():
    accuracies = [digits_cnn_accuracy(seed) for seed in range(5)]
    assert np.median(accuracies) >= 0.97, accuracies
