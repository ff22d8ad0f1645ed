"""Digits classifier, Keras style: Sequential, compile, fit, evaluate, predict.

Run: python examples/digits_keras.py (with fastnn installed, or PYTHONPATH=python from the
source checkout). Trains in about a second on the bundled 8x8 digits.
"""

import numpy as np

import fastnn as fn
from fastnn import layers
from fastnn.datasets import load_digits, train_test_split

fn.manual_seed(0)
x, y = load_digits()
x = x / 16.0
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, seed=0)

model = fn.Sequential([
    layers.Dense(64, activation="relu"),
    layers.Dense(10, activation="softmax"),
], input_shape=(64,))
model.summary()

model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(x_train, y_train, epochs=30, batch_size=32, validation_split=0.1, verbose=2)

loss, accuracy = model.evaluate(x_test, y_test)
predictions = model.predict(x_test).argmax(axis=1)
print(f"test loss {loss:.4f}, test accuracy {accuracy:.2%}")
print("first test digits:", y_test[:10], "predicted:", predictions[:10])
assert np.isclose(accuracy, (predictions == y_test).mean())
