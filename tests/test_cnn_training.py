"""A small CNN learns the bundled digits: the issue's accuracy bar for the CNN layers."""

import numpy as np

import fastnn as fn
from fastnn import layers
from fastnn.datasets import load_digits, train_test_split


def digits_cnn_accuracy(seed):
    fn.manual_seed(seed)
    x, y = load_digits(return_images=True)
    x = (x / 16.0).astype(np.float32)[..., None]  # (N, 8, 8, 1)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, seed=seed)
    model = fn.Sequential([
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPool2D(),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ], input_shape=(8, 8, 1))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=20, batch_size=32, verbose=0)
    return model.evaluate(x_test, y_test)[1]


def test_digits_cnn_reaches_97_percent():
    accuracies = [digits_cnn_accuracy(seed) for seed in range(5)]
    assert np.median(accuracies) >= 0.97, accuracies


def test_mnist_cnn_gradients_match_pytorch():
    """The whole seed MNIST CNN (conv-pool-conv-pool-dense-dense) in float64: the loss and
    every parameter's gradient equal PyTorch's for the same weights and batch."""
    torch = __import__("pytest").importorskip("torch")
    fn.manual_seed(3)
    rng = np.random.default_rng(3)
    x = rng.random((5, 28, 28, 1))
    y = rng.integers(0, 10, 5)
    model = fn.Sequential([
        layers.Conv2D(32, 3, activation="relu", dtype="float64"),
        layers.MaxPooling2D(2, dtype="float64"),
        layers.Conv2D(64, 3, activation="relu", dtype="float64"),
        layers.MaxPooling2D(2, dtype="float64"),
        layers.Flatten(dtype="float64"),
        layers.Dense(64, activation="relu", dtype="float64"),
        layers.Dense(10, dtype="float64"),
    ], input_shape=(28, 28, 1), dtype="float64")
    loss = fn.losses.SparseCategoricalCrossentropy(from_logits=True)(model(x, training=True), y)
    loss.backward()

    conv1, _, conv2, _, _, fc1, fc2 = model.layers
    t = torch.nn
    f64 = {"dtype": torch.float64}
    net = [t.Conv2d(1, 32, 3, **f64), t.Conv2d(32, 64, 3, **f64), t.Linear(5 * 5 * 64, 64, **f64),
           t.Linear(64, 10, **f64)]
    with torch.no_grad():
        for mine, theirs in zip((conv1, conv2), net[:2]):
            kernel, bias = mine.get_weights()
            theirs.weight.copy_(torch.tensor(kernel.transpose(3, 2, 0, 1)))
            theirs.bias.copy_(torch.tensor(bias))
        for mine, theirs in zip((fc1, fc2), net[2:]):
            kernel, bias = mine.get_weights()
            theirs.weight.copy_(torch.tensor(kernel.T))
            theirs.bias.copy_(torch.tensor(bias))
    h = torch.tensor(x.transpose(0, 3, 1, 2))
    h = torch.nn.functional.max_pool2d(torch.relu(net[0](h)), 2)
    h = torch.nn.functional.max_pool2d(torch.relu(net[1](h)), 2)
    h = h.permute(0, 2, 3, 1).reshape(5, -1)  # fastnn flattens channels-last
    logits = net[3](torch.relu(net[2](h)))
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor(y))
    expected.backward()

    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
    for mine, theirs in zip((conv1, conv2), net[:2]):
        kernel, bias = mine.parameters()
        np.testing.assert_allclose(np.asarray(kernel.grad),
                                   theirs.weight.grad.numpy().transpose(2, 3, 1, 0),
                                   rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(np.asarray(bias.grad), theirs.bias.grad.numpy(),
                                   rtol=1e-9, atol=1e-12)
    for mine, theirs in zip((fc1, fc2), net[2:]):
        kernel, bias = mine.parameters()
        np.testing.assert_allclose(np.asarray(kernel.grad), theirs.weight.grad.numpy().T,
                                   rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(np.asarray(bias.grad), theirs.bias.grad.numpy(),
                                   rtol=1e-9, atol=1e-12)
