"""The Keras-style front-end: Sequential, compile/fit/evaluate/predict, summary, DataLoader,
to_categorical and the Keras optimizers."""

import math

import numpy as np
import pytest

import fastnn as fn
from fastnn import layers, losses, optim, regularizers
from fastnn.data import DataLoader
from fastnn.datasets import load_digits, train_test_split
from fastnn.utils import to_categorical


def mlp(input_shape=(5,), classes=3, activation="softmax"):
    kwargs = {} if input_shape is None else {"input_shape": input_shape}
    return fn.Sequential([layers.Dense(8, activation="relu"),
                          layers.Dense(classes, activation=activation)], **kwargs)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(60, 5)).astype(np.float32), rng.integers(0, 3, 60)


@pytest.fixture
def compiled(data):
    fn.manual_seed(0)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# --- Sequential -------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["sequential", "first_layer"])
def test_input_shape_builds_at_construction_and_set_weights_works_at_once(where):
    if where == "sequential":
        model = mlp(input_shape=(5,))
    else:
        model = fn.Sequential([layers.Dense(8, activation="relu", input_shape=(5,)),
                               layers.Dense(3, activation="softmax")])
    assert model.built and model.input_shape == (None, 5) and model.output_shape == (None, 3)
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(5, 8), (8,), (8, 3), (3,)]
    new = [np.full(s, 0.5, np.float32) for s in shapes]
    model.set_weights(new)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), new))
    x = np.ones((2, 5), np.float32)
    expected = np.full((2, 3), 1 / 3)  # equal logits after equal weights
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-6)


def test_without_input_shape_builds_on_first_call_and_add_pop_index(data):
    x, _ = data
    model = fn.Sequential()
    model.add(layers.Dense(4, activation="relu"))
    model.add(layers.Dense(2))
    assert not model.built and model.get_weights() == [] and model.input_shape is None
    out = model(x[:3])
    assert out.shape == (3, 2) and model.built and model.input_shape == (None, 5)
    assert len(model) == 2 and model[0] is model.layers[0] and model[-1] is model.layers[1]
    last = model.pop()
    assert isinstance(last, layers.Dense) and len(model) == 1 and model(x[:3]).shape == (3, 4)
    model.add(layers.Dense(6))  # input shape known now: built at once
    assert model[-1].built and model.output_shape == (None, 6)


def test_summary_sequential_and_subclassed(capsys):
    model = fn.Sequential([layers.Dense(64, activation="relu", name="hidden"),
                           layers.Dense(10, activation="softmax", name="out")],
                          input_shape=(64,), name="digits")
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    for fragment in ('Model: "digits"', "Layer (type)", "Output Shape", "Param #",
                     "hidden (Dense)", "(None, 64)", "4,160", "out (Dense)", "(None, 10)", "650",
                     "Total params: 4,810", "Trainable params: 4,810", "Non-trainable params: 0"):
        assert fragment in text, fragment

    class Net(fn.Model):
        def __init__(self):
            super().__init__()
            self.a = layers.Dense(7, activation="relu")
            self.b = layers.Dense(2)

        def forward(self, x):
            return self.b(self.a(x))

    net = Net()
    net(np.zeros((4, 3), np.float32))
    net.summary()
    out = capsys.readouterr().out
    assert "(None, 7)" in out and "(None, 2)" in out and "Total params: 44" in out


# --- fit / evaluate / predict on the digits ---------------------------------------------------

def train_digits(seed, capture=True, **fit_kwargs):
    fn.manual_seed(seed)
    x, y = load_digits()
    x = x / 16.0
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, seed=seed)
    model = fn.Sequential([layers.Dense(64, activation="relu"),
                           layers.Dense(10, activation="softmax")], input_shape=(64,))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  capture=capture)
    history = model.fit(x_train, y_train, epochs=30, batch_size=32, verbose=0, **fit_kwargs)
    return model, history, (x_test, y_test)


@pytest.mark.parametrize("capture", [True, False])
def test_digits_reach_96_percent_median_over_5_seeds(capture):
    accuracies = []
    for seed in range(5):
        model, history, (x_test, y_test) = train_digits(seed, capture=capture)
        # Captured: the training step was recorded once per batch shape and replayed.
        assert (len(model._captured) > 0) == capture
        loss, acc = model.evaluate(x_test, y_test)
        predictions = model.predict(x_test)
        assert predictions.shape == (len(x_test), 10)
        assert acc == pytest.approx(float((predictions.argmax(1) == y_test).mean()))
        assert set(history.history) == {"loss", "accuracy"} and history.epoch == list(range(30))
        assert history.history["loss"][-1] < history.history["loss"][0] / 5
        accuracies.append(acc)
    assert np.median(accuracies) >= 0.96, accuracies


def test_digits_losses_identical_with_and_without_capture():
    captured, _, _ = train_digits(3, capture=True)
    eager, _, _ = train_digits(3, capture=False)
    assert captured.history.history == eager.history.history
    for a, b in zip(captured.get_weights(), eager.get_weights()):
        assert a.tobytes() == b.tobytes()


def test_capture_flag_gives_identical_results(data):
    x, y = data
    runs = []
    for capture in (True, False):
        fn.manual_seed(1)
        model = mlp()
        model.compile("adam", "sparse_categorical_crossentropy", capture=capture)
        runs.append((model.fit(x, y, epochs=2, verbose=0).history["loss"], model.get_weights()))
    assert runs[0][0] == runs[1][0]
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


def test_validation_keys_verbose_lines_and_history(compiled, data, capsys):
    x, y = data
    h = compiled.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=1)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 3 for v in h.history.values())
    assert h.params == {"verbose": 1, "epochs": 3, "steps": 3}  # 45 training samples
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("Epoch 1/3 - ")
    assert " - loss: " in lines[2] and " - val_accuracy: " in lines[2]
    # The validation samples are the last quarter, as Keras takes them.
    assert h.history["val_loss"][-1] == pytest.approx(compiled.evaluate(x[45:], y[45:])[0])
    h = compiled.fit(x, y, epochs=2, validation_data=(x[:10], y[:10]), verbose=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert compiled.fit(x, y, epochs=1, verbose=2) is compiled.history
    assert len(capsys.readouterr().out.strip().splitlines()) == 1


def test_evaluate_is_exact_over_the_dataset_and_predict_matches_call(compiled, data):
    x, y = data
    loss, acc = compiled.evaluate(x, y, batch_size=60)
    loss7, acc7 = compiled.evaluate(x, y, batch_size=7)  # last batch of 4
    assert loss7 == pytest.approx(loss, rel=1e-6) and acc7 == pytest.approx(acc)
    probs = compiled.predict(x, batch_size=7)
    with fn.no_grad():
        np.testing.assert_allclose(probs, np.asarray(compiled(x)), rtol=1e-6)
    ref = -np.log(probs[np.arange(60), y]).mean()
    assert loss == pytest.approx(ref, rel=1e-5)
    assert acc == pytest.approx((probs.argmax(1) == y).mean())
    compiled.compile("adam", "sparse_categorical_crossentropy")
    assert isinstance(compiled.evaluate(x, y), float)


def test_fit_on_dataloader_tuple_and_generator(compiled, data):
    x, y = data
    h = compiled.fit(DataLoader(x, y, batch_size=16, shuffle=True), epochs=2, verbose=0,
                     validation_data=DataLoader(x, y))
    assert h.params["steps"] == 4 and len(h.history["val_loss"]) == 2
    h = compiled.fit((x, y), epochs=2, verbose=0)
    assert len(h.history["loss"]) == 2
    pulled = []

    def batches():
        while True:
            for i in range(0, 60, 10):
                pulled.append(i)
                yield x[i:i + 10], y[i:i + 10]

    h = compiled.fit(batches(), epochs=3, steps_per_epoch=4, verbose=0)
    assert len(pulled) == 12 and h.params["steps"] == 4 and len(h.history["loss"]) == 3
    assert compiled.predict(DataLoader(x, y, batch_size=7)).shape == (60, 3)


def test_regularization_penalty_is_in_the_training_loss(data):
    x, y = data
    losses_seen = {}
    for l2 in (0.0, 0.1):
        model = fn.Sequential([layers.Dense(3, kernel_regularizer=regularizers.L2(l2))],
                              input_shape=(5,))
        kernel = np.linspace(-1, 1, 15, dtype=np.float32).reshape(5, 3)
        model.set_weights([kernel, np.zeros(3, np.float32)])
        model.compile(optim.SGD(model.parameters(), lr=0.0), losses.SparseCategoricalCrossentropy(
            from_logits=True))
        losses_seen[l2] = model.fit(x, y, batch_size=60, verbose=0).history["loss"][0]
        assert model.evaluate(x, y) == pytest.approx(losses_seen[l2], rel=1e-6)
    penalty = 0.1 * float(np.sum(kernel.astype(np.float64) ** 2))
    assert losses_seen[0.1] - losses_seen[0.0] == pytest.approx(penalty, rel=1e-5)


# --- accuracy resolution ----------------------------------------------------------------------

@pytest.mark.parametrize("loss, out, target, rule", [
    ("sparse_categorical_crossentropy", 3, "labels", "sparse"),
    ("categorical_crossentropy", 3, "onehot", "categorical"),
    ("binary_crossentropy", 3, "multilabel", "binary"),   # by the loss, not the shapes
    ("binary_crossentropy", 1, "binary", "binary"),
    ("mse", 1, "binary", "binary"),                       # other losses: Keras's shape rule
    ("custom", 3, "labels", "sparse"),
    ("mse", 3, "onehot", "categorical"),
])
def test_accuracy_resolves_like_keras(loss, out, target, rule, data):
    x, labels = data
    rng = np.random.default_rng(1)
    y = {"labels": labels, "onehot": to_categorical(labels, 3), "binary": labels % 2,
         "multilabel": rng.integers(0, 2, (60, 3))}[target]
    y = y.astype(np.int64 if target == "labels" else np.float32)
    fn.manual_seed(2)
    sigmoid = out == 1 or target == "multilabel"
    model = mlp(classes=out, activation="sigmoid" if sigmoid else "softmax")
    if loss == "custom":  # a callable loss (Keras order y_true, y_pred): the shapes decide
        loss = lambda y_true, y_pred: fn.mean(y_pred * y_pred)  # noqa: E731
    model.compile("sgd", loss, metrics=["acc"])
    _, acc = model.evaluate(x, y)
    p = model.predict(x)
    expected = {"sparse": lambda: (p.argmax(1) == y).mean(),
                "categorical": lambda: (p.argmax(1) == y.argmax(1)).mean(),
                "binary": lambda: ((p > 0.5) == y.reshape(p.shape)).mean()}[rule]()
    assert acc == pytest.approx(expected)


def test_binary_accuracy_from_logits_thresholds_at_zero(data):
    x, labels = data
    y = (labels % 2).astype(np.float32)
    model = mlp(classes=1, activation=None)
    model.compile("sgd", losses.BinaryCrossentropy(from_logits=True), metrics=["accuracy"])
    z = model.predict(x)[:, 0]
    assert model.evaluate(x, y)[1] == pytest.approx(((z > 0) == y).mean())


# --- DataLoader and to_categorical ------------------------------------------------------------

def test_dataloader_order_follows_the_seed_and_covers_every_sample():
    x, y = np.arange(23) * 10, np.arange(23)

    def order(seed):
        fn.manual_seed(seed)
        return np.concatenate([yb for _, yb in DataLoader(x, y, batch_size=5, shuffle=True)])

    a, b, c = order(4), order(4), order(5)
    assert np.array_equal(a, b) and not np.array_equal(a, c) and not np.array_equal(a, y)
    assert sorted(a.tolist()) == list(range(23))
    loader = DataLoader(x, y, batch_size=5)
    assert len(loader) == 5 and [len(yb) for _, yb in loader] == [5, 5, 5, 5, 3]
    xb, yb = next(iter(loader))
    assert np.array_equal(xb, yb * 10)
    dropped = DataLoader(x, batch_size=5, drop_last=True)
    batches = list(dropped)
    assert len(dropped) == 4 and len(batches) == 4 and all(len(xb) == 5 for xb in batches)


def test_permutation_is_uniform_and_seeded():
    """fit's and DataLoader's shuffle (Fisher-Yates on Philox): every size gives a permutation,
    the seed fixes it, and all 24 orders of 4 items come up equally often."""
    for n in [0, 1, 2, 3, 1001]:
        assert sorted(fn.data.permutation(n).tolist()) == list(range(n))
    fn.manual_seed(9)
    a = fn.data.permutation(50)
    fn.manual_seed(9)
    assert np.array_equal(a, fn.data.permutation(50))
    assert not np.array_equal(a, fn.data.permutation(50))  # the generator moved on
    draws = 24000
    counts = {}
    for _ in range(draws):
        key = tuple(fn.data.permutation(4))
        counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 24
    expected = draws / 24
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
    assert chi2 < 49.7  # 23 degrees of freedom: p = 0.001


def test_to_categorical():
    out = to_categorical([2, 0, 1])
    assert out.dtype == np.float32 and np.array_equal(out, np.eye(3)[[2, 0, 1]])
    assert to_categorical(np.array([[1], [0]]), num_classes=4).shape == (2, 4)
    assert to_categorical(np.array([[0, 1], [2, 0]])).shape == (2, 2, 3)
    assert np.array_equal(to_categorical(np.array([1.0, 0.0])), [[0, 1], [1, 0]])
    for bad, fragment in (([0, -1], "non-negative"), ([0.5, 1], "integers"),
                          ([0, 3], "num_classes=3")):
        with pytest.raises(ValueError, match=fragment):
            to_categorical(bad, num_classes=3 if fragment == "num_classes=3" else None)


# --- Keras optimizers ---------------------------------------------------------------------

def test_keras_adam_matches_keras_update_exactly():
    rng = np.random.default_rng(3)
    w0, grads = rng.normal(size=(4, 3)), [rng.normal(size=(4, 3)) * s for s in (1, 1e-4, 2)]
    w = fn.tensor(w0, dtype="float64", requires_grad=True)
    opt = fn.optimizers.Adam(learning_rate=0.01).build([w])
    ref, m, v = w0.copy(), 0.0, 0.0
    for t, g in enumerate(grads, 1):
        opt.zero_grad()
        (w * fn.tensor(g, dtype="float64")).sum().backward()
        opt.step()
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g   # Keras: epsilon outside sqrt(v)
        ref -= 0.01 * math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * m / (np.sqrt(v) + 1e-7)
    np.testing.assert_allclose(np.asarray(w), ref, rtol=1e-12, atol=1e-15)
    assert opt.iterations == 3


@pytest.mark.parametrize("name", ["adam", "sgd", "rmsprop", "adamw", "adagrad"])
def test_optimizer_names_train(name, data):
    x, y = data
    fn.manual_seed(0)
    model = mlp()
    model.compile(optimizer=name, loss="sparse_categorical_crossentropy")
    opt = model.optimizer
    assert type(opt).__name__.lower() == name and opt.built
    defaults = {"adam": 0.001, "sgd": 0.01, "rmsprop": 0.001, "adamw": 0.001, "adagrad": 0.001}
    assert opt.learning_rate == defaults[name]
    before = model.get_weights()
    model.fit(x, y, epochs=1, verbose=0)
    assert not np.array_equal(before[0], model.get_weights()[0])


# --- errors -----------------------------------------------------------------------------------

def test_fit_and_evaluate_before_compile_raise(data):
    x, y = data
    model = mlp()
    for call in (lambda: model.fit(x, y), lambda: model.evaluate(x, y)):
        with pytest.raises(RuntimeError, match="compile"):
            call()


@pytest.mark.parametrize("kwargs, error, fragment", [
    ({"optimizer": "adamm"}, ValueError, "optimizer"),
    ({"loss": "mse_loss"}, ValueError, "loss"),
    ({"metrics": ["accuracyy"]}, ValueError, "metric"),
    ({"optimizer": 3}, TypeError, "optimizer"),
])
def test_compile_validates_arguments(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        mlp().compile(**{"optimizer": "adam", "loss": "mse", **kwargs})


def test_fit_errors_name_the_argument(compiled, data):
    x, y = data
    cases = [
        (lambda: compiled.fit(x, y[:50]), ValueError, "60 in x and 50 in y"),
        (lambda: compiled.fit(x[:0], y[:0]), ValueError, "empty"),
        (lambda: compiled.fit(x), ValueError, "y is required"),
        (lambda: compiled.fit(x, y, validation_split=1.0), ValueError, "validation_split"),
        (lambda: compiled.fit(x, y, validation_split=-0.2), ValueError, "validation_split"),
        (lambda: compiled.fit(x, y, batch_size=0), ValueError, "batch_size"),
        (lambda: compiled.fit(x[:, :4], y), ValueError, "shape"),
        (lambda: compiled.fit(x, np.eye(3)[y]), ValueError, "categorical_crossentropy"),
        (lambda: compiled.fit(DataLoader(x, y), y), ValueError, "y must not be given"),
        (lambda: compiled.fit(DataLoader(x, y), validation_split=0.5), ValueError,
         "validation_data"),
        (lambda: compiled.predict(x[:0]), ValueError, "empty"),
    ]
    for call, error, fragment in cases:
        with pytest.raises(error, match=fragment):
            call()
    before = compiled.get_weights()
    bad = y.copy()
    bad[17] = 3
    for call in (lambda: compiled.fit(x, bad, verbose=0), lambda: compiled.evaluate(x, bad),
                 lambda: compiled.fit(x, y, validation_data=(x, bad), verbose=0)):
        message = r"SparseCategoricalCrossentropy.*\[0, 3\).*y\[17\] = 3"
        with pytest.raises(IndexError, match=message):
            call()
    assert all(np.array_equal(a, b) for a, b in zip(before, compiled.get_weights()))  # no step ran
    with pytest.raises(IndexError, match="batch 0"):
        compiled.fit(iter([(x[:20], bad[:20])]), verbose=0)


def test_label_errors_for_other_losses(data):
    x, labels = data
    model = mlp()
    model.compile("adam", "categorical_crossentropy")
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy|to_categorical"):
        model.fit(x, labels, verbose=0)
    binary = mlp(classes=1, activation="sigmoid")
    binary.compile("adam", "binary_crossentropy")
    target = (labels % 2).astype(np.float32)
    target[4] = 2.0
    with pytest.raises(ValueError, match=r"\[0, 1\].*y\[4\] = 2.0"):
        binary.fit(x, target, verbose=0)


def test_sequential_and_dataloader_errors():
    with pytest.raises(TypeError, match="layer"):
        fn.Sequential([3])
    with pytest.raises(ValueError, match="input_shape"):
        fn.Sequential([layers.Dense(2)], input_shape=(0,))
    with pytest.raises(ValueError, match="input_shape"):
        fn.Sequential([layers.Dense(2, input_shape=(4,))], input_shape=(5,))
    with pytest.raises(TypeError, match="no layers"):
        fn.Sequential().pop()
    with pytest.raises(IndexError, match="out of range"):
        mlp()[2]
    with pytest.raises(ValueError, match=r"expected inputs of shape \(None, 5\)"):
        mlp()(np.zeros((2, 6), np.float32))
    with pytest.raises(ValueError, match="3 in y"):
        DataLoader(np.zeros((4, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(np.zeros((4, 2)), batch_size=0)
