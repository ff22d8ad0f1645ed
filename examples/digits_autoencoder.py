"""Seed 000's dense autoencoder (Dense(128, relu) -> Dense(32, relu) -> Dense(128, relu) ->
Dense(n, sigmoid), MSE against the input), here on the bundled 8x8 digits (n = 64) instead
of MNIST's 784 pixels.

    python examples/digits_autoencoder.py
"""

import numpy as np

import fastnn as fn
from fastnn import layers
from fastnn.datasets import load_digits, train_test_split

fn.manual_seed(0)
x, y = load_digits()
x = x / 16.0
x_train, x_test, _, _ = train_test_split(x, y, test_size=0.25, seed=0)

autoencoder = fn.Sequential([
    layers.Dense(128, activation="relu"),
    layers.Dense(32, activation="relu"),   # the code: 32 numbers per image
    layers.Dense(128, activation="relu"),
    layers.Dense(64, activation="sigmoid"),
], input_shape=(64,))
autoencoder.compile(optimizer="adam", loss="mse")
history = autoencoder.fit(x_train, x_train, epochs=50, batch_size=64, verbose=0,
                          validation_data=(x_test, x_test))
print(f"reconstruction MSE: train {history.history['loss'][-1]:.4f}, "
      f"test {history.history['val_loss'][-1]:.4f} (predicting the mean image: "
      f"{float(np.mean((x_test - x_train.mean(0)) ** 2)):.4f})")
