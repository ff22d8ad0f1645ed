"""Seed 003's digits MLP, Keras style with a subclassed model: a fn.Model whose `call` chains
Dense layers with sigmoid activations, compiled with Adam(learning_rate=0.01) and sparse
categorical cross-entropy, fit for 50 epochs in batches of 64 with 20% held out for
validation, then evaluated on a test split. (The seed's layers have 3 units each, too few for
10 classes: here the hidden layers have 32 and the output 10, a softmax.)

    python examples/digits_subclassed_keras.py [--epochs N]

Trains in a few seconds on the bundled 8x8 digits (scikit-learn's load_digits, which the seed
uses, is the same data).
"""

import argparse
import os

import fastnn as fn
from fastnn import layers
from fastnn.datasets import load_digits, train_test_split


class NeuralNetwork(fn.Model):
    def __init__(self):
        super().__init__()
        self.dense1 = layers.Dense(32, activation="sigmoid")
        self.dense2 = layers.Dense(32, activation="sigmoid")
        self.dense3 = layers.Dense(32, activation="sigmoid")
        self.dense4 = layers.Dense(10, activation="softmax")

    def call(self, x, training=False):
        x = self.dense1(x)
        x = self.dense2(x)
        x = self.dense3(x)
        return self.dense4(x)


def train_model(model, data, epochs, batch_size, learning_rate):
    model.compile(optimizer=fn.optimizers.Adam(learning_rate),
                  loss=fn.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    return model.fit(data["inputs"], data["labels"], epochs=epochs, batch_size=batch_size,
                     validation_split=0.2, verbose=2 if epochs <= 10 else 0)


parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--epochs", type=int, default=None, help="default 50 (5 with --quick)")
parser.add_argument("--quick", action="store_true",
                    default=os.environ.get("FASTNN_EXAMPLE_QUICK", "0") != "0",
                    help="a short run, as the tests do (or FASTNN_EXAMPLE_QUICK=1)")
args = parser.parse_args()
epochs = int(os.environ.get("FASTNN_EXAMPLE_EPOCHS") or args.epochs or (5 if args.quick else 50))

fn.manual_seed(0)
X, y = load_digits()
X = X.reshape((X.shape[0], -1)) / 16  # pixels 0..16 -> 0..1
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=0)

model = NeuralNetwork()
history = train_model(model, {"inputs": X_train, "labels": y_train}, epochs=epochs,
                      batch_size=64, learning_rate=0.01)
print(f"after {epochs} epochs: loss {history.history['loss'][-1]:.4f}, validation accuracy "
      f"{history.history['val_accuracy'][-1]:.4f}")

test_loss, test_acc = model.evaluate(X_test, y_test, verbose=2)
print(f"test loss {test_loss:.4f}, test accuracy {test_acc:.4f}")
