"""fastnn.keras: Keras 3's names over fastnn's objects, importable the way the seed documents
import Keras (only the import lines change), and the function forms Keras code calls."""

from __future__ import annotations

import importlib
import os

import numpy as np
import pytest

import fastnn as fn
from fastnn import keras

os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@pytest.fixture(scope="module")
def real_keras():
    k = pytest.importorskip("keras")
    if int(k.__version__.split(".")[0]) < 3:
        pytest.skip("needs Keras 3")
    return k


# --- import paths ---------------------------------------------------------------------------------


def test_the_import_lines_of_the_seeds_work():
    # seed 000: from tensorflow.keras import layers, models; ...datasets import boston_housing;
    # ...utils import to_categorical
    from fastnn.keras import layers, models
    from fastnn.keras.datasets import boston_housing
    from fastnn.keras.utils import to_categorical
    # seed 001: from tensorflow.keras import datasets, layers, models
    from fastnn.keras import datasets
    # the issue's: from keras.models import Sequential; from keras.layers import Dense
    from fastnn.keras.layers import Dense
    from fastnn.keras.models import Sequential

    assert layers is keras.layers and models is keras.models and datasets is keras.datasets
    assert Sequential is fn.Sequential and Dense is fn.layers.Dense
    assert to_categorical is fn.utils.to_categorical
    assert callable(boston_housing.load_data) and callable(datasets.mnist.load_data)
    # seed 003: import tensorflow as tf; tf.keras.Model, tf.keras.layers.Dense,
    # tf.keras.optimizers.Adam, tf.keras.losses.SparseCategoricalCrossentropy
    import fastnn as tf

    assert tf.keras is keras and tf.keras.Model is fn.Model
    assert tf.keras.optimizers.Adam is fn.optimizers.Adam
    assert tf.keras.losses.SparseCategoricalCrossentropy is fn.losses.SparseCategoricalCrossentropy
    for module in ("fastnn.keras.optimizers.schedules", "fastnn.keras.datasets.mnist",
                   "fastnn.keras.datasets.cifar10", "fastnn.keras.datasets.fashion_mnist",
                   "fastnn.keras.callbacks", "fastnn.keras.metrics", "fastnn.keras.losses",
                   "fastnn.keras.initializers", "fastnn.keras.regularizers",
                   "fastnn.keras.activations", "fastnn.keras.backend", "fastnn.keras.saving"):
        importlib.import_module(module)


ALIASES = [
    ("Sequential", fn.Sequential), ("Model", fn.Model), ("Input", fn.layers.Input),
    ("Layer", fn.layers.Layer), ("Loss", fn.losses.Loss), ("Metric", fn.metrics.Metric),
    ("Optimizer", fn.optimizers.Optimizer),
    ("layers.Dense", fn.layers.Dense), ("layers.Conv1D", fn.layers.Conv1D),
    ("layers.Conv2D", fn.layers.Conv2D), ("layers.Convolution2D", fn.layers.Conv2D),
    ("layers.Convolution1D", fn.layers.Conv1D), ("layers.MaxPooling2D", fn.layers.MaxPool2D),
    ("layers.MaxPool2D", fn.layers.MaxPool2D), ("layers.AveragePooling2D", fn.layers.AvgPool2D),
    ("layers.AvgPool2D", fn.layers.AvgPool2D), ("layers.MaxPooling1D", fn.layers.MaxPool1D),
    ("layers.AveragePooling1D", fn.layers.AvgPool1D),
    ("layers.GlobalAveragePooling2D", fn.layers.GlobalAvgPool2D),
    ("layers.GlobalAvgPool2D", fn.layers.GlobalAvgPool2D),
    ("layers.GlobalMaxPooling2D", fn.layers.GlobalMaxPool2D),
    ("layers.GlobalAveragePooling1D", fn.layers.GlobalAvgPool1D),
    ("layers.GlobalMaxPooling1D", fn.layers.GlobalMaxPool1D),
    ("layers.Flatten", fn.layers.Flatten), ("layers.Dropout", fn.layers.Dropout),
    ("layers.SpatialDropout2D", fn.layers.SpatialDropout2D),
    ("layers.BatchNormalization", fn.layers.BatchNormalization),
    ("layers.Embedding", fn.layers.Embedding), ("layers.SimpleRNN", fn.layers.SimpleRNN),
    ("layers.LSTM", fn.layers.LSTM), ("layers.GRU", fn.layers.GRU),
    ("layers.Bidirectional", fn.layers.Bidirectional), ("layers.Activation", fn.layers.Activation),
    ("layers.ReLU", fn.layers.ReLU), ("layers.LeakyReLU", fn.layers.LeakyReLU),
    ("layers.Softmax", fn.layers.Softmax), ("layers.Reshape", fn.layers.Reshape),
    ("layers.Masking", fn.layers.Masking), ("layers.InputLayer", fn.layers.InputLayer),
    ("layers.Input", fn.layers.Input), ("layers.Layer", fn.layers.Layer),
    ("layers.Concatenate", fn.layers.Concatenate), ("layers.Add", fn.layers.Add),
    ("layers.Subtract", fn.layers.Subtract), ("layers.Multiply", fn.layers.Multiply),
    ("layers.Average", fn.layers.Average), ("layers.Lambda", fn.layers.Lambda),
    ("layers.Identity", fn.layers.Identity), ("layers.concatenate", fn.layers.concatenate),
    ("models.Sequential", fn.Sequential), ("models.Model", fn.Model),
    ("models.load_model", fn.load_model), ("saving.load_model", fn.load_model),
    ("optimizers.SGD", fn.optimizers.SGD), ("optimizers.Adam", fn.optimizers.Adam),
    ("optimizers.AdamW", fn.optimizers.AdamW), ("optimizers.RMSprop", fn.optimizers.RMSprop),
    ("optimizers.Adagrad", fn.optimizers.Adagrad),
    ("optimizers.schedules.ExponentialDecay", fn.schedules.ExponentialDecay),
    ("optimizers.schedules.CosineDecay", fn.schedules.CosineDecay),
    ("optimizers.schedules.LearningRateSchedule", fn.schedules.LearningRateSchedule),
    ("losses.MeanSquaredError", fn.losses.MeanSquaredError),
    ("losses.BinaryCrossentropy", fn.losses.BinaryCrossentropy),
    ("losses.CategoricalCrossentropy", fn.losses.CategoricalCrossentropy),
    ("losses.SparseCategoricalCrossentropy", fn.losses.SparseCategoricalCrossentropy),
    ("metrics.AUC", fn.metrics.AUC), ("metrics.Precision", fn.metrics.Precision),
    ("metrics.SparseCategoricalAccuracy", fn.metrics.SparseCategoricalAccuracy),
    ("callbacks.EarlyStopping", fn.callbacks.EarlyStopping),
    ("callbacks.ModelCheckpoint", fn.callbacks.ModelCheckpoint),
    ("callbacks.History", fn.callbacks.History), ("callbacks.Callback", fn.callbacks.Callback),
    ("utils.to_categorical", fn.utils.to_categorical),
    ("utils.set_random_seed", fn.utils.set_random_seed),
    ("utils.pad_sequences", fn.utils.pad_sequences),
    ("initializers.GlorotUniform", fn.initializers.GlorotUniform),
    ("initializers.he_normal", fn.initializers.HeNormal),
    ("regularizers.L2", fn.regularizers.L2), ("regularizers.l2", fn.regularizers.L2),
    ("activations.relu", fn.relu), ("activations.sigmoid", fn.sigmoid),
    ("activations.softmax", fn.softmax),
]


@pytest.mark.parametrize("path, expected", ALIASES, ids=[a for a, _ in ALIASES])
def test_each_keras_name_is_fastnn_s_object(path, expected):
    value = keras
    for part in path.split("."):
        value = getattr(value, part)
    assert value is expected


MODULES = ["layers", "models", "optimizers", "optimizers.schedules", "losses", "metrics",
           "callbacks", "utils", "activations", "initializers", "regularizers", "datasets",
           "backend", "saving"]


@pytest.mark.parametrize("module", MODULES)
def test_every_name_exported_is_a_keras_3_name(real_keras, module):
    ours, theirs = keras, real_keras
    for part in module.split("."):
        ours, theirs = getattr(ours, part), getattr(theirs, part)
    fastnn_only = {"Sigmoid", "Tanh"}  # fastnn's activation layers (Keras: Activation(...))
    names = set(ours.__all__)
    assert names, module
    assert names - set(dir(theirs)) - fastnn_only == set()
    for name in names:
        assert hasattr(ours, name), (module, name)
    top = set(keras.__all__) - {"__version__"}
    assert top - set(dir(real_keras)) == set()


def test_functional_activations_are_accepted_as_callables():
    # seed 003: tf.keras.layers.Dense(3, activation=tf.nn.sigmoid); fastnn.nn.sigmoid where
    # fastnn.nn exists, else fastnn's own function.
    sigmoid = getattr(getattr(fn, "nn", None), "sigmoid", fn.sigmoid)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5)).astype("f4")
    by_name = keras.layers.Dense(3, activation="sigmoid")
    by_function = fn.keras.layers.Dense(3, activation=sigmoid)
    by_name(x)
    by_function(x)
    by_function.set_weights(by_name.get_weights())
    np.testing.assert_allclose(np.asarray(by_function(x)), np.asarray(by_name(x)), rtol=1e-6)
    leaky = keras.layers.Dense(3, activation=keras.activations.leaky_relu)
    leaky(x)
    k, b = leaky.get_weights()
    z = x @ k + b
    np.testing.assert_allclose(np.asarray(leaky(x)), np.where(z > 0, z, 0.2 * z), rtol=1e-6,
                               atol=1e-7)


def test_seed_003_subclassed_tf_keras_model_trains():
    import fastnn as tf

    sigmoid = getattr(getattr(tf, "nn", None), "sigmoid", tf.sigmoid)

    class NeuralNetwork(tf.keras.Model):
        def __init__(self):
            super(NeuralNetwork, self).__init__()
            self.dense1 = tf.keras.layers.Dense(3, activation=sigmoid)
            self.dense2 = tf.keras.layers.Dense(3, activation=sigmoid)

        def call(self, x):
            return self.dense2(self.dense1(x))

    tf.manual_seed(0)
    x, y = fn.datasets.load_digits()
    keep = y < 3
    x, y = x[keep] / 16.0, y[keep]
    model = NeuralNetwork()
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    history = model.fit(x, y, epochs=8, batch_size=32, validation_split=0.2, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["val_accuracy"][-1] > 0.8


# --- function forms ---------------------------------------------------------------------------


def _cases(rng):
    probs = rng.dirichlet(np.ones(5), size=9).astype("f4")
    labels = rng.integers(0, 5, 9)
    labels[:4] = probs[:4].argmax(1)
    onehot = np.eye(5, dtype="f4")[labels]
    binary_pred = rng.uniform(size=(9, 1)).astype("f4")
    binary_true = (rng.uniform(size=(9, 1)) > 0.5).astype("f4")
    reg_pred, reg_true = rng.normal(size=(9, 3)).astype("f4"), rng.normal(size=(9, 3)).astype("f4")
    return [
        ("sparse_categorical_accuracy", (labels, probs)),
        ("categorical_accuracy", (onehot, probs)),
        ("binary_accuracy", (binary_true, binary_pred)),
        ("top_k_categorical_accuracy", (onehot, probs)),
        ("sparse_top_k_categorical_accuracy", (labels, probs)),
        ("mean_squared_error", (reg_true, reg_pred)),
        ("mean_absolute_error", (reg_true, reg_pred)),
        ("binary_crossentropy", (binary_true, binary_pred)),
        ("categorical_crossentropy", (onehot, probs)),
        ("sparse_categorical_crossentropy", (labels, probs)),
    ]


def test_metric_functions_give_keras_s_per_sample_values_as_tensors(real_keras):
    rng = np.random.default_rng(1)
    for name, (y_true, y_pred) in _cases(rng):
        ours = getattr(keras.metrics, name)(y_true, y_pred)
        assert isinstance(ours, fn.Tensor) and ours.dtype == "float32", name
        theirs = np.asarray(getattr(real_keras.metrics, name)(y_true, y_pred))
        assert tuple(ours.shape) == theirs.shape, name
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-5, atol=1e-6, err_msg=name)
    # Given fastnn tensors (seed 001 concatenates model outputs with tf.concat).
    labels = fn.tensor(np.array([0, 2, 1]))
    preds = fn.tensor(np.array([[0.9, 0.05, 0.05], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]]))
    np.testing.assert_array_equal(
        keras.metrics.sparse_categorical_accuracy(labels, preds).numpy(), [1.0, 1.0, 0.0])


def test_loss_functions_give_keras_s_per_sample_losses(real_keras):
    rng = np.random.default_rng(2)
    for name, (y_true, y_pred) in _cases(rng)[5:]:
        ours = np.asarray(getattr(keras.losses, name)(y_true, y_pred))
        theirs = np.asarray(getattr(real_keras.losses, name)(y_true, y_pred))
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6, err_msg=name)


def test_metric_classes_match_keras_over_several_batches(real_keras):
    rng = np.random.default_rng(3)
    cases = dict(_cases(rng))
    for name, key in [("MeanSquaredError", "mean_squared_error"),
                      ("MeanAbsoluteError", "mean_absolute_error"),
                      ("RootMeanSquaredError", "mean_squared_error"),
                      ("BinaryCrossentropy", "binary_crossentropy"),
                      ("CategoricalCrossentropy", "categorical_crossentropy"),
                      ("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"),
                      ("Accuracy", None)]:
        if key is None:
            y_true = rng.integers(0, 3, (9, 1)).astype("f4")
            y_pred = rng.integers(0, 3, (9, 1)).astype("f4")
        else:
            y_true, y_pred = cases[key]
        ours, theirs = getattr(keras.metrics, name)(), getattr(real_keras.metrics, name)()
        for lo, hi in ((0, 4), (4, 9)):
            ours.update_state(y_true[lo:hi], y_pred[lo:hi])
            theirs.update_state(y_true[lo:hi], y_pred[lo:hi])
        assert ours.result() == pytest.approx(float(theirs.result()), rel=1e-5), name


def test_a_metric_function_in_compile_is_the_same_metric_as_its_name():
    from fastnn.compiled_metrics import _Metric

    spec = _Metric(keras.metrics.sparse_categorical_accuracy, None)
    assert spec.native() == ("sparse_categorical_accuracy", 0.5)
    fn.manual_seed(1)
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3)])
    model.compile("sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.sparse_categorical_accuracy])
    rng = np.random.default_rng(4)
    h = model.fit(rng.normal(size=(20, 4)), rng.integers(0, 3, 20), epochs=1, verbose=0)
    assert "sparse_categorical_accuracy" in h.history


def test_activations_get_and_leaky_relu_slope_follow_keras_3(real_keras):
    x = np.linspace(-2, 2, 9).astype("f4")
    assert keras.activations.get("relu") is fn.relu
    assert keras.activations.get(None) is fn.functional.linear
    np.testing.assert_allclose(np.asarray(keras.activations.leaky_relu(x)),
                               np.asarray(real_keras.activations.leaky_relu(x)), rtol=1e-6)
    assert keras.activations.serialize(fn.sigmoid) == "sigmoid"


# --- utils, backend, models, datasets --------------------------------------------------------------


def test_utils_normalize_and_is_keras_tensor(real_keras):
    x = np.random.default_rng(5).normal(size=(4, 3))
    x[1] = 0
    np.testing.assert_allclose(keras.utils.normalize(x), np.asarray(real_keras.utils.normalize(x)),
                               rtol=1e-6)
    assert keras.utils.is_keras_tensor(keras.Input(shape=(2,)))
    assert not keras.utils.is_keras_tensor(np.zeros(2))


def test_clear_session_restarts_layer_names():
    keras.layers.Dense(2)
    keras.backend.clear_session()
    assert keras.layers.Dense(2).name == "dense"
    assert keras.layers.Dense(2).name == "dense_1"
    assert keras.backend.image_data_format() == "channels_last"
    with pytest.raises(ValueError, match="dtype='float64'"):
        keras.backend.set_floatx("float64")


def test_clone_model_makes_new_weights_for_the_same_architecture():
    fn.manual_seed(6)
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dense(2)])
    clone = keras.models.clone_model(model)
    assert [type(l) for l in clone.layers] == [type(l) for l in model.layers]
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in model.get_weights()]
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])
    with pytest.raises(ValueError, match="subclassed model"):
        keras.models.clone_model(fn.Model())


def test_datasets_read_keras_s_files_and_say_where_to_get_missing_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    rng = np.random.default_rng(7)
    arrays = {"x_train": rng.integers(0, 255, (5, 28, 28), dtype=np.uint8),
              "y_train": rng.integers(0, 10, 5, dtype=np.uint8),
              "x_test": rng.integers(0, 255, (2, 28, 28), dtype=np.uint8),
              "y_test": rng.integers(0, 10, 2, dtype=np.uint8)}
    np.savez(tmp_path / "mnist.npz", **arrays)
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data(tmp_path / "mnist.npz")
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    np.testing.assert_array_equal(y_test, arrays["y_test"])
    # Keras's cache is looked in for a bare name.
    os.makedirs(tmp_path / "home" / "datasets")
    os.replace(tmp_path / "mnist.npz", tmp_path / "home" / "datasets" / "mnist.npz")
    assert keras.datasets.mnist.load_data()[0][0].shape == (5, 28, 28)
    with pytest.raises(FileNotFoundError, match=r"fastnn downloads nothing.*cifar.*"
                                                r"load_digits_images"):
        keras.datasets.cifar10.load_data()
    x, y = rng.normal(size=(50, 13)), rng.normal(size=50)
    np.savez(tmp_path / "boston.npz", x=x, y=y)
    (xtr, ytr), (xte, yte) = keras.datasets.boston_housing.load_data(tmp_path / "boston.npz")
    order = np.arange(50)
    np.random.RandomState(113).shuffle(order)  # Keras's split
    np.testing.assert_array_equal(xtr, x[order[:40]])
    np.testing.assert_array_equal(yte, y[order[40:]])
    np.savez(tmp_path / "bad.npz", z=x)
    with pytest.raises(ValueError, match=r"lacks the arrays \['x', 'y'\]"):
        keras.datasets.boston_housing.load_data(tmp_path / "bad.npz")


def test_seed_001_cnn_written_with_keras_names_trains_on_the_bundled_digits():
    from fastnn.keras import layers, models

    fn.manual_seed(8)
    (train_images, train_labels), _ = fn.datasets.load_digits_images(28, 1)
    train_images = train_images[:256] / 255.0
    model = models.Sequential([
        layers.Conv2D(8, (3, 3), activation="relu", input_shape=(28, 28, 1)),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(32, activation="relu"),
        layers.Dense(10),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.003),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(train_images, train_labels[:256], epochs=4, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]
