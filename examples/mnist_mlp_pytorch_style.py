"""Seed 004's MNIST MLP, PyTorch style: a subclassed fn.Model with forward, flattening each
image to 784 pixels -> fc(256) -> relu -> fc(10) logits; DataLoaders for training (shuffled)
and testing, Adam(lr=0.001) and cross-entropy, the seed's training loop (logging the loss
every `log_interval` batches) and its test loop counting correct predictions.

Real MNIST: python examples/mnist_mlp_pytorch_style.py --data /path/to/mnist (the four IDX
files, see fastnn.datasets.load_mnist; or FASTNN_MNIST=/path/to/mnist). Without the files it
trains on the bundled 8x8 digits scaled up to 28x28 (a few seconds).
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
        self.fc1 = layers.Dense(256)  # torch's nn.Linear(784, 256): the input size is inferred
        self.fc2 = layers.Dense(10)

    def forward(self, x):
        x = x.reshape(-1, 784)  # the batches are numpy arrays; fastnn tensors have .view too
        x = fn.relu(self.fc1(x))
        return self.fc2(x)


parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--data", default=os.environ.get("FASTNN_MNIST"),
                    help="a directory with the MNIST IDX files (default: the bundled digits)")
parser.add_argument("--epochs", type=int, default=None, help="default 10 (2 with --quick)")
parser.add_argument("--quick", action="store_true",
                    default=os.environ.get("FASTNN_EXAMPLE_QUICK", "0") != "0",
                    help="a short run, as the tests do (or FASTNN_EXAMPLE_QUICK=1)")
args = parser.parse_args()

# Hyperparameters, as the seed sets them.
learning_rate = 0.001
num_epochs = int(os.environ.get("FASTNN_EXAMPLE_EPOCHS") or args.epochs or
                 (2 if args.quick else 10))
batch_size = 64

fn.manual_seed(0)
if args.data:
    (x_train, y_train), (x_test, y_test) = datasets.load_mnist(args.data)
    log_interval = 100
else:
    (x_train, y_train), (x_test, y_test) = datasets.load_digits_images(28)
    log_interval = 10  # 22 batches an epoch
# transforms.ToTensor's scaling: uint8 pixels -> float32 in [0, 1]
x_train = (x_train.reshape(-1, 28, 28, 1) / 255.0).astype(np.float32)
x_test = (x_test.reshape(-1, 28, 28, 1) / 255.0).astype(np.float32)
train_loader = DataLoader(x_train, y_train.astype(np.int64), batch_size=batch_size, shuffle=True)
test_loader = DataLoader(x_test, y_test.astype(np.int64), batch_size=batch_size, shuffle=False)

model = Net()
optimizer = optim.Adam(model.parameters(), lr=learning_rate)
loss_fn = losses.CrossEntropyLoss()

for epoch in range(num_epochs):
    model.train()
    for batch_idx, (inputs, targets) in enumerate(train_loader):
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = loss_fn(outputs, targets)
        loss.backward()
        optimizer.step()
        if (batch_idx + 1) % log_interval == 0:
            print("Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}".format(
                epoch + 1, (batch_idx + 1) * len(inputs), train_loader.num_samples,
                100. * (batch_idx + 1) / len(train_loader), loss.item()))

model.eval()
correct = 0
total = 0
with fn.no_grad():
    for inputs, targets in test_loader:
        outputs = model(inputs)
        predicted = np.asarray(outputs).argmax(axis=1)
        total += len(targets)
        correct += int((predicted == targets).sum())

print(f"Accuracy of the network on the {total} test images: {100 * correct / total:.2f} %")
print(f"test accuracy {correct / total:.4f}")
