"""Digits read row by row with an LSTM, Keras style: each 8x8 image is a sequence of 8
timesteps of 8 pixels, LSTM(64) reads the rows top to bottom and Dense(10) classifies its
last output.

Run: python examples/digits_lstm.py [--epochs N] (with fastnn installed, or PYTHONPATH=python
from the source checkout). Trains 40 epochs on the bundled 8x8 digits (FASTNN_EXAMPLE_EPOCHS
overrides the count).
"""

import argparse
import os

import numpy as np

import fastnn as fn
from fastnn import layers
from fastnn.datasets import load_digits, train_test_split

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--epochs", type=int, default=None, help="default 40 (5 with --quick)")
parser.add_argument("--quick", action="store_true",
                    default=os.environ.get("FASTNN_EXAMPLE_QUICK", "0") != "0",
                    help="a short run, as the tests do (or FASTNN_EXAMPLE_QUICK=1)")
args = parser.parse_args()
epochs = int(os.environ.get("FASTNN_EXAMPLE_EPOCHS") or args.epochs or (5 if args.quick else 40))

fn.manual_seed(0)
x, y = load_digits(return_images=True)
x = x / 16.0  # (N, 8, 8): 8 timesteps (the rows) of 8 features (a row's pixels)
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, seed=0)

model = fn.Sequential([
    layers.LSTM(64),
    layers.Dense(10, activation="softmax"),
], input_shape=(8, 8))
model.summary()

model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=2)

loss, accuracy = model.evaluate(x_test, y_test)
predictions = model.predict(x_test).argmax(axis=1)
print("first test digits:", y_test[:10], "predicted:", predictions[:10])
print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f}")
assert np.isclose(accuracy, (predictions == y_test).mean())
