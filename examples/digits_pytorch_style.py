"""Digits classifier, PyTorch style: a subclassed fn.Model with forward, a DataLoader and
an explicit optimizer loop.

Run: python examples/digits_pytorch_style.py [--epochs N] (with fastnn installed, or
PYTHONPATH=python from the source checkout). Trains in about a second on the bundled 8x8 digits.
"""

import argparse
import os

import numpy as np

import fastnn as fn
from fastnn import layers, losses, optim
from fastnn.data import DataLoader
from fastnn.datasets import load_digits, train_test_split


class DigitsMLP(fn.Model):
    def __init__(self):
        super().__init__()
        self.hidden = layers.Dense(64, activation="relu")
        self.out = layers.Dense(10)  # logits

    def forward(self, x):
        return self.out(self.hidden(x))


parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--epochs", type=int, default=None, help="default 30 (3 with --quick)")
parser.add_argument("--quick", action="store_true",
                    default=os.environ.get("FASTNN_EXAMPLE_QUICK", "0") != "0",
                    help="a short run, as the tests do (or FASTNN_EXAMPLE_QUICK=1)")
args = parser.parse_args()
epochs = int(os.environ.get("FASTNN_EXAMPLE_EPOCHS") or args.epochs or (3 if args.quick else 30))

fn.manual_seed(0)
x, y = load_digits()
x = x / 16.0
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, seed=0)
loader = DataLoader(x_train, y_train, batch_size=32, shuffle=True)  # order fixed by the seed

model = DigitsMLP()
opt = optim.Adam(model.parameters(), lr=1e-3)  # the layers build on the first batch
loss_fn = losses.CrossEntropyLoss()              # logits + integer labels, as torch.nn

for epoch in range(1, epochs + 1):
    model.train()
    total = 0.0
    for xb, yb in loader:
        out = model(xb)
        loss = loss_fn(out, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(xb)
    if epoch % 10 == 0 or epoch == epochs:
        print(f"epoch {epoch:2d}  loss {total / len(x_train):.4f}")

model.eval()
with fn.no_grad():
    predictions = np.asarray(model(x_test)).argmax(axis=1)
print(f"test accuracy {(predictions == y_test).mean():.4f}")
