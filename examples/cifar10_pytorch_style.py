"""Seed 002's CIFAR-10 CNN, PyTorch style: conv(64, 3, same) -> relu -> max pool ->
conv(128, 3, same) -> relu -> max pool -> fc(512) -> fc(10), a DataLoader and an Adam loop.
Images are channels-last (N, 32, 32, 3).

Real CIFAR-10 (the binary version, see fastnn.datasets.load_cifar10):
    python examples/cifar10_pytorch_style.py --data /path/to/cifar-10-batches-bin
    (or FASTNN_CIFAR10=/path/to/cifar-10-batches-bin)
Without the files it trains on the bundled 8x8 digits scaled up to 32x32x3 (each epoch takes
several seconds on two cores; --quick trains one epoch on the first 640 images).
"""

import argparse
import os

import numpy as np

import fastnn as fn
from fastnn import datasets, layers, losses, optim
from fastnn.data import DataLoader


class Net(fn.Model):
    def __init__(self):
        super().__init__()
        self.conv1 = layers.Conv2D(64, kernel_size=3, padding="same")
        self.conv2 = layers.Conv2D(128, kernel_size=3, padding="same")
        self.fc1 = layers.Dense(512)
        self.fc2 = layers.Dense(10)

    def forward(self, x):
        x = fn.max_pool2d(fn.relu(self.conv1(x)), 2)
        x = fn.max_pool2d(fn.relu(self.conv2(x)), 2)
        x = x.view(-1, 128 * 8 * 8)
        x = fn.relu(self.fc1(x))
        return self.fc2(x)


parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--data", default=os.environ.get("FASTNN_CIFAR10"),
                    help="a directory with CIFAR-10's .bin files (default: the bundled digits)")
parser.add_argument("--epochs", type=int, default=None,
                    help="default 10 on CIFAR-10, 3 on the digits (1 with --quick)")
parser.add_argument("--quick", action="store_true",
                    default=os.environ.get("FASTNN_EXAMPLE_QUICK", "0") != "0",
                    help="a short run, as the tests do (or FASTNN_EXAMPLE_QUICK=1): one "
                         "epoch on the first 640 training images")
args = parser.parse_args()

fn.manual_seed(0)
if args.data:
    (x_train, y_train), (x_test, y_test) = datasets.load_cifar10(args.data)
    epochs = 10
else:
    (x_train, y_train), (x_test, y_test) = datasets.load_digits_images(32, channels=3)
    epochs = 3
if args.quick:
    x_train, y_train = x_train[:640], y_train[:640]
epochs = int(os.environ.get("FASTNN_EXAMPLE_EPOCHS") or args.epochs or
             (1 if args.quick else epochs))
x_train, x_test = x_train.astype(np.float32) / 255.0, x_test.astype(np.float32) / 255.0
y_train, y_test = y_train.reshape(-1).astype(np.int64), y_test.reshape(-1)
trainloader = DataLoader(x_train, y_train, batch_size=64, shuffle=True)

model = Net()
criterion = losses.CrossEntropyLoss()
optimizer = optim.Adam(model.parameters(), lr=0.001)

for epoch in range(epochs):
    running_loss = 0.0
    for inputs, labels in trainloader:
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item() * len(inputs)
    print(f"epoch {epoch + 1}/{epochs}  loss {running_loss / len(x_train):.4f}")

with fn.no_grad():
    predicted = np.concatenate([np.asarray(model(x_test[i:i + 256])).argmax(axis=1)
                                for i in range(0, len(x_test), 256)])
print(f"test accuracy {(predicted == y_test).mean():.4f}")
