"""Seed 000's binary classifier, Keras style: Dense(32, relu) -> Dense(1, sigmoid) on
2-feature inputs, compiled with Adam and binary cross-entropy, trained with fit (10 epochs,
batches of 32, the test set as validation data) and evaluated. The seed loads a dataset from
the network into it; here two interleaved half-moons are drawn with numpy, which is what a
2-input network is for.

    python examples/binary_classifier.py [--epochs N]

Real data: --data breast_cancer trains the same network on the Wisconsin breast cancer table
(30 standardised measurements, malignant or benign; needs scikit-learn): test accuracy
about 0.94 after the seed's 10 epochs, 0.96 with --epochs 50.
"""

import argparse
import os

import numpy as np

import fastnn as fn
from fastnn import datasets, layers


def two_moons(n, noise=0.15, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, n)
    upper = rng.random(n) < 0.5
    x = np.where(upper[:, None], np.c_[np.cos(t), np.sin(t)],
                 np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
    return (x + rng.normal(0, noise, (n, 2))).astype(np.float32), (~upper).astype(np.float32)


parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--data", choices=["moons", "breast_cancer"], default="moons")
parser.add_argument("--epochs", type=int, default=None, help="default 10 (3 with --quick)")
parser.add_argument("--quick", action="store_true",
                    default=os.environ.get("FASTNN_EXAMPLE_QUICK", "0") != "0",
                    help="a short run, as the tests do (or FASTNN_EXAMPLE_QUICK=1)")
args = parser.parse_args()
epochs = int(os.environ.get("FASTNN_EXAMPLE_EPOCHS") or args.epochs or (3 if args.quick else 10))

fn.manual_seed(0)
if args.data == "breast_cancer":
    x, y = datasets.load_breast_cancer()
    x_train, x_test, y_train, y_test = datasets.train_test_split(x, y.astype(np.float32),
                                                                 test_size=0.25, seed=0)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)  # the training set's statistics
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
else:
    x_train, y_train = two_moons(2000, seed=0)
    x_test, y_test = two_moons(500, seed=1)

model = fn.Sequential([
    layers.Dense(32, activation="relu", input_shape=(x_train.shape[1],)),
    layers.Dense(1, activation="sigmoid"),
])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_data=(x_test, y_test),
          verbose=2)
test_loss, test_acc = model.evaluate(x_test, y_test)
print(f"test loss {test_loss:.4f}, test accuracy {test_acc:.4f}")
