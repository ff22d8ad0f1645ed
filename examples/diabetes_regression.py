"""Regression, Keras style (seed 000 loads Boston housing, which scikit-learn no longer ships;
this uses scikit-learn's diabetes data: 442 patients, 10 features, a disease-progression score
one year later): standardised features -> Dense(64, relu) -> Dropout -> Dense(64, relu) ->
Dropout -> Dense(1), trained with mean squared error and reporting the mean absolute error.
The test MAE (about 44, what a linear fit gets too: the data is small and noisy; without the
dropout the net overfits it within 30 epochs) is compared with predicting the training
targets' mean for everyone (about 66).

    python examples/diabetes_regression.py [--epochs N]

Needs scikit-learn (pip install scikit-learn) unless --data is given. Your own table, e.g.
a Boston housing CSV: a header line, then numbers, the target in the last column:
    python examples/diabetes_regression.py --data BostonHousing.csv
"""

import argparse
import os

import numpy as np

import fastnn as fn
from fastnn import layers
from fastnn.datasets import load_diabetes, train_test_split


def read_csv(path):
    """(x, y) from a CSV of numbers (a header line is skipped), the target last."""
    with open(path, encoding="utf-8") as f:
        first = f.readline().replace('"', "").split(",")
    try:
        [float(v) for v in first]
        skip = 0
    except ValueError:
        skip = 1  # the column names
    table = np.loadtxt(path, delimiter=",", skiprows=skip, dtype=np.float32, ndmin=2)
    return table[:, :-1], table[:, -1]


parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--data", help="a CSV, target in the last column (default: diabetes)")
parser.add_argument("--epochs", type=int, default=None, help="default 20 (5 with --quick)")
parser.add_argument("--quick", action="store_true",
                    default=os.environ.get("FASTNN_EXAMPLE_QUICK", "0") != "0",
                    help="a short run, as the tests do (or FASTNN_EXAMPLE_QUICK=1)")
args = parser.parse_args()
epochs = int(os.environ.get("FASTNN_EXAMPLE_EPOCHS") or args.epochs or
             (5 if args.quick else 20))

fn.manual_seed(0)
x, y = read_csv(args.data) if args.data else load_diabetes()
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, seed=0)

# Standardise with the training set's statistics only (the test set stands for new data).
# The target is standardised too, so the network's outputs are of order 1; predictions are
# scaled back to the target's units.
mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-8
x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
y_mean, y_std = float(y_train.mean()), float(y_train.std())
print(f"{len(x_train)} training and {len(x_test)} test samples, {x.shape[1]} features, "
      f"target mean {y_mean:.1f}, std {y_std:.1f}")

model = fn.Sequential([
    layers.Dense(64, activation="relu"),
    layers.Dropout(0.3),
    layers.Dense(64, activation="relu"),
    layers.Dropout(0.3),
    layers.Dense(1),
], input_shape=(x.shape[1],))
model.summary()
model.compile(optimizer="adam", loss="mse", metrics=["mae"])
model.fit(x_train, (y_train - y_mean) / y_std, epochs=epochs, batch_size=16,
          validation_split=0.2, verbose=2)

predictions = model.predict(x_test)[:, 0] * y_std + y_mean
mae = float(np.abs(predictions - y_test).mean())
baseline = float(np.abs(y_mean - y_test).mean())  # everyone gets the training mean
print("first test targets:", np.round(y_test[:5], 1), "predicted:", np.round(predictions[:5], 1))
print(f"test mae {mae:.2f} (baseline {baseline:.2f})")
