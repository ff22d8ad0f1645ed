"""End-to-end training: the digits MLP reaches its accuracy target, and runs are
bitwise reproducible."""

import numpy as np

import fastnn as fn
from fastnn import layers, losses, optim
from fastnn.datasets import load_digits, train_test_split


class DigitsMLP(fn.Model):
    def __init__(self):
        super().__init__()
        self.hidden = layers.Dense(64, activation="relu")
        self.out = layers.Dense(10)

    def forward(self, x):
        return self.out(self.hidden(x))


def train_digits(seed, epochs=30, batch_size=32):
    """The PyTorch-style loop of the README; returns (test accuracy, model)."""
    fn.manual_seed(seed)
    x, y = load_digits()
    x = x / 16.0
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, seed=seed)
    model = DigitsMLP()
    opt = optim.Adam(model.parameters(), lr=1e-3)  # before the first call: built lazily
    loss_fn = losses.SparseCategoricalCrossentropy(from_logits=True)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(x_train))
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            out = model(x_train[idx], training=True)
            loss = loss_fn(out, y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            assert np.isfinite(loss.item())
    with fn.no_grad():
        pred = np.asarray(model(x_test)).argmax(axis=1)
    return float((pred == y_test).mean()), model


def test_digits_mlp_reaches_96_percent_median_over_5_seeds():
    accuracies = [train_digits(seed)[0] for seed in range(5)]
    assert np.median(accuracies) >= 0.96, accuracies


def test_same_seed_gives_bitwise_identical_weights():
    _, a = train_digits(seed=3, epochs=3)
    _, b = train_digits(seed=3, epochs=3)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert wa.tobytes() == wb.tobytes()


def test_different_seeds_give_different_weights():
    _, a = train_digits(seed=1, epochs=1)
    _, b = train_digits(seed=2, epochs=1)
    assert not np.array_equal(a.get_weights()[0], b.get_weights()[0])


def test_results_do_not_depend_on_the_thread_count():
    """Reductions use fixed chunks and GEMMs fixed blocks, so 1, 2 and 3 threads give the
    same bits (a float64 graph, and a float32 autoencoder trained through fit)."""
    previous = fn.get_num_threads()
    digests = []
    try:
        for threads in (1, 2, 3):
            fn.set_num_threads(threads)
            fn.manual_seed(0)
            x = fn.randn(2048, 300, dtype="float64")  # above the serial grain: runs threaded
            x.requires_grad = True
            loss = (fn.sigmoid(x) * x).mean() + fn.sum(fn.relu(x), axis=0).sum()
            loss.backward()
            images = np.random.default_rng(0).random((200, 784), dtype=np.float32)
            model = fn.Sequential([fn.layers.Dense(128, "relu"), fn.layers.Dense(784, "sigmoid")],
                                  input_shape=(784,))
            model.compile("adam", "mse")
            history = model.fit(images, images, batch_size=64, epochs=2, verbose=0)
            digests.append((loss.item(), np.asarray(x.grad).tobytes(), history.history["loss"],
                            [w.tobytes() for w in model.get_weights()]))
    finally:
        fn.set_num_threads(previous)
    assert digests[0] == digests[1] == digests[2]


def test_layer_backward_by_hand_matches_autograd():
    """The teaching API: layer.backward(gy) fills parameter grads and returns dL/dx."""
    fn.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 5))
    dense = layers.Dense(3, activation="tanh", input_shape=(5,), dtype="float64")
    y = dense(x)
    gy = rng.normal(size=y.shape)
    gx = np.asarray(dense.backward(gy))
    gw = np.asarray(dense.kernel.grad).copy()

    dense.kernel.grad = None
    dense.bias.grad = None
    xt = fn.tensor(x, dtype="float64", requires_grad=True)
    (dense(xt) * fn.tensor(gy, dtype="float64")).sum().backward()
    np.testing.assert_allclose(gx, np.asarray(xt.grad), rtol=1e-12)
    np.testing.assert_allclose(gw, np.asarray(dense.kernel.grad), rtol=1e-12)


def _threaded_sum_in_child(queue):
    x = fn.tensor(np.arange(2048 * 300, dtype=np.float64).reshape(2048, 300), dtype="float64")
    queue.put((fn.get_num_threads(), float((x * 2.0).sum().item())))


def test_a_forked_child_can_run_threaded_kernels():
    """The pool's workers do not survive fork(); the child starts new ones instead of
    waiting forever for the old ones (DataLoader-style worker processes)."""
    import multiprocessing
    fn.tensor(np.ones((2048, 300))).sum()  # the parent's pool is running
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_threaded_sum_in_child, args=(queue,))
    child.start()
    try:
        threads, total = queue.get(timeout=60)
    finally:
        child.join(timeout=60)
        if child.is_alive():
            child.kill()
    assert threads == fn.get_num_threads()
    assert total == 2.0 * (2048 * 300 - 1) * 2048 * 300 / 2
