"""Seed 000: a binary classifier, Dense(32, relu, input 2) -> Dense(1, sigmoid), trained with
compile/fit. The seed loads a dataset from the network; here two interleaved half-moons are
drawn with numpy, which is what the 2-input network is for.

    python examples/binary_classifier.py
"""

import numpy as np

import fastnn as fn
from fastnn import layers


def two_moons(n, noise=0.15, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, n)
    upper = rng.random(n) < 0.5
    x = np.where(upper[:, None], np.c_[np.cos(t), np.sin(t)],
                 np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
    return (x + rng.normal(0, noise, (n, 2))).astype(np.float32), (~upper).astype(np.float32)


fn.manual_seed(0)
x_train, y_train = two_moons(2000, seed=0)
x_test, y_test = two_moons(500, seed=1)

model = fn.Sequential([
    layers.Dense(32, activation="relu", input_shape=(2,)),
    layers.Dense(1, activation="sigmoid"),
])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=10, batch_size=32, validation_data=(x_test, y_test), verbose=2)
test_loss, test_acc = model.evaluate(x_test, y_test)
print(f"Test accuracy: {test_acc:.4f}")
