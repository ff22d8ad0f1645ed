"""Seed 001's MNIST CNN, Keras style: Conv2D(32) -> MaxPooling2D -> Conv2D(64) ->
MaxPooling2D -> Flatten -> Dense(64) -> Dense(10), compiled with Adam and trained with fit.

Real MNIST: download the four IDX files (see fastnn.datasets.load_mnist) and run
    python examples/mnist_cnn_keras.py --data /path/to/mnist   (or FASTNN_MNIST=/path/to/mnist)
Without them it trains on the bundled 8x8 digits scaled up to 28x28 (a few seconds).
"""

import argparse
import os

import fastnn as fn
from fastnn import datasets, layers

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--data", default=os.environ.get("FASTNN_MNIST"),
                    help="a directory with the MNIST IDX files (default: the bundled digits)")
parser.add_argument("--epochs", type=int, default=None,
                    help="default 5 on MNIST, 8 on the digits (1 with --quick)")
parser.add_argument("--quick", action="store_true",
                    default=os.environ.get("FASTNN_EXAMPLE_QUICK", "0") != "0",
                    help="a short run, as the tests do (or FASTNN_EXAMPLE_QUICK=1)")
args = parser.parse_args()

fn.manual_seed(0)
if args.data:
    (train_images, train_labels), (test_images, test_labels) = datasets.load_mnist(args.data)
    epochs = 5
else:
    (train_images, train_labels), (test_images, test_labels) = datasets.load_digits_images(28)
    epochs = 8
epochs = int(os.environ.get("FASTNN_EXAMPLE_EPOCHS") or args.epochs or
             (1 if args.quick else epochs))
# uint8 (N, 28, 28) or (N, 28, 28, 1) -> float32 (N, 28, 28, 1) in [0, 1]
train_images = train_images.reshape(-1, 28, 28, 1) / 255.0
test_images = test_images.reshape(-1, 28, 28, 1) / 255.0

model = fn.Sequential([
    layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
    layers.MaxPooling2D((2, 2)),
    layers.Conv2D(64, (3, 3), activation="relu"),
    layers.MaxPooling2D((2, 2)),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dense(10),
])
model.summary()
model.compile(optimizer=fn.optimizers.Adam(learning_rate=0.001),
              loss=fn.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
model.fit(train_images, train_labels, epochs=epochs, batch_size=64, verbose=2)
loss, accuracy = model.evaluate(test_images, test_labels)
print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f}")
