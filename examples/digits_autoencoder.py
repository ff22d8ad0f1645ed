"""Seed 000's dense autoencoder (Dense(128, relu) -> Dense(32, relu) -> Dense(128, relu) ->
Dense(n, sigmoid), MSE against the input), here on the bundled 8x8 digits (n = 64) instead
of MNIST's 784 pixels. The 32-number code in the middle is all the decoder sees, so the
network must learn a compressed description of a digit. The test reconstruction error is
compared with predicting the training set's mean image for every digit.

    python examples/digits_autoencoder.py [--epochs N] [--out reconstructions.png]

With matplotlib installed it saves test digits above their reconstructions as a PNG
(default digits_autoencoder.png in the current directory); without it, it skips the picture.
"""

import argparse
import os

import numpy as np

import fastnn as fn
from fastnn import layers
from fastnn.datasets import load_digits, train_test_split


def save_reconstructions(path, originals, reconstructions, n=10):
    """Saves n originals (top row) above their reconstructions (bottom row) as a PNG; returns
    False, saving nothing, when matplotlib is not installed."""
    try:
        from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state
    except ImportError:
        return False
    fig = Figure(figsize=(n, 2.2))
    axes = fig.subplots(2, n)
    for i in range(n):
        for row, images in enumerate((originals, reconstructions)):
            axes[row, i].imshow(images[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
            axes[row, i].set_axis_off()
    axes[0, 0].set_title("input", loc="left", fontsize=9)
    axes[1, 0].set_title("reconstruction", loc="left", fontsize=9)
    fig.savefig(path, dpi=80)
    return True


parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--epochs", type=int, default=None, help="default 50 (5 with --quick)")
parser.add_argument("--out", default="digits_autoencoder.png",
                    help="where to save the PNG of reconstructions (needs matplotlib)")
parser.add_argument("--quick", action="store_true",
                    default=os.environ.get("FASTNN_EXAMPLE_QUICK", "0") != "0",
                    help="a short run, as the tests do (or FASTNN_EXAMPLE_QUICK=1)")
args = parser.parse_args()
epochs = int(os.environ.get("FASTNN_EXAMPLE_EPOCHS") or args.epochs or (5 if args.quick else 50))

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
history = autoencoder.fit(x_train, x_train, epochs=epochs, batch_size=64,
                          verbose=2 if epochs <= 10 else 0, validation_data=(x_test, x_test))

reconstructions = autoencoder.predict(x_test)
mse = float(np.mean((reconstructions - x_test) ** 2))
baseline = float(np.mean((x_test - x_train.mean(axis=0)) ** 2))  # the mean image for all
if save_reconstructions(args.out, x_test, reconstructions):
    print(f"saved test digits and their reconstructions to {args.out}")
else:
    print("matplotlib is not installed (pip install matplotlib): no picture saved")
print(f"reconstruction mse: train {history.history['loss'][-1]:.4f}, "
      f"test {history.history['val_loss'][-1]:.4f}")
print(f"test mse {mse:.4f} (baseline {baseline:.4f})")
