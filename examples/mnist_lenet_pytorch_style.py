"""Seed 004's LeNet-style MNIST net, PyTorch style: a subclassed fn.Model with forward,
conv(10, 5) -> max pool -> relu -> conv(20, 5) -> max pool -> relu -> fc(50) -> fc(10),
a DataLoader and an explicit Adam loop. Images are channels-last (N, 28, 28, 1).

Real MNIST: python examples/mnist_lenet_pytorch_style.py --data /path/to/mnist (the four IDX
files, see fastnn.datasets.load_mnist; or FASTNN_MNIST=/path/to/mnist). Without the files it
trains on the bundled 8x8 digits scaled up to 28x28.
"""

import argparse
import os

import numpy as np

import fastnn as fn
from fastnn import datasets, layers, losses, optim
from fastnn.data import DataLoader


class LeNet(fn.Model):
    def __init__(self):
        super().__init__()
        self.conv1 = layers.Conv2D(10, kernel_size=5)
        self.conv2 = layers.Conv2D(20, kernel_size=5)
        self.fc1 = layers.Dense(50)
        self.fc2 = layers.Dense(10)

    def forward(self, x):
        x = fn.relu(fn.max_pool2d(self.conv1(x), 2))
        x = fn.relu(fn.max_pool2d(self.conv2(x), 2))
        x = x.view(-1, 320)  # 4 * 4 * 20
        x = fn.relu(self.fc1(x))
        return self.fc2(x)


parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--data", default=os.environ.get("FASTNN_MNIST"),
                    help="a directory with the MNIST IDX files (default: the bundled digits)")
parser.add_argument("--epochs", type=int, default=None,
                    help="default 5 on MNIST, 10 on the digits (2 with --quick)")
parser.add_argument("--quick", action="store_true",
                    default=os.environ.get("FASTNN_EXAMPLE_QUICK", "0") != "0",
                    help="a short run, as the tests do (or FASTNN_EXAMPLE_QUICK=1)")
args = parser.parse_args()

fn.manual_seed(0)
if args.data:
    (x_train, y_train), (x_test, y_test) = datasets.load_mnist(args.data)
    num_epochs = 5
else:
    (x_train, y_train), (x_test, y_test) = datasets.load_digits_images(28)
    num_epochs = 10
num_epochs = int(os.environ.get("FASTNN_EXAMPLE_EPOCHS") or args.epochs or
                 (2 if args.quick else num_epochs))
x_train = (x_train.reshape(-1, 28, 28, 1) / 255.0).astype(np.float32)
x_test = (x_test.reshape(-1, 28, 28, 1) / 255.0).astype(np.float32)
loader = DataLoader(x_train, y_train.astype(np.int64), batch_size=64, shuffle=True)

model = LeNet()
optimizer = optim.Adam(model.parameters(), lr=0.001)
criterion = losses.CrossEntropyLoss()

for epoch in range(num_epochs):
    model.train()
    total = 0.0
    for images, labels in loader:
        outputs = model(images)
        loss = criterion(outputs, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(images)
    print(f"epoch {epoch + 1}/{num_epochs}  loss {total / len(x_train):.4f}")

model.eval()
with fn.no_grad():
    predicted = np.asarray(model(x_test)).argmax(axis=1)
print(f"test accuracy {(predicted == y_test).mean():.4f}")
