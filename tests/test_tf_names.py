"""TensorFlow's names the seeds use with ``import fastnn as tf``: tf.nn's functions (values
against numpy in float64, and as a Dense layer's activation) and float32 matmul precision."""

import numpy as np
import pytest

import fastnn as tf
from fastnn import layers

X = np.random.default_rng(0).standard_normal((5, 7)) * 3


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("name, reference", [
    ("relu", lambda z: np.maximum(z, 0)),
    ("sigmoid", lambda z: 1 / (1 + np.exp(-z))),
    ("tanh", np.tanh),
    ("leaky_relu", lambda z: np.where(z > 0, z, 0.2 * z)),
    ("softmax", _softmax),
    ("log_softmax", lambda z: np.log(_softmax(z))),
])
def test_tf_nn_functions(name, reference):
    out = getattr(tf.nn, name)(tf.tensor(X, dtype="float64")).numpy()
    np.testing.assert_allclose(out, reference(X), rtol=1e-12, atol=1e-14)


def test_tf_nn_softmax_axis_and_gelu():
    np.testing.assert_allclose(tf.nn.softmax(tf.tensor(X, dtype="float64"), axis=1).numpy(),
                               _softmax(X), rtol=1e-12)
    with pytest.raises(ValueError, match="approximate=True"):
        tf.nn.gelu(tf.tensor(X), approximate=True)


def test_a_tf_nn_function_as_a_dense_activation_is_the_named_one():
    x = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    by_function = layers.Dense(3, activation=tf.nn.sigmoid)
    by_name = layers.Dense(3, activation="sigmoid")
    by_function(x), by_name(x)
    by_name.set_weights(by_function.get_weights())
    np.testing.assert_allclose(by_function(x).numpy(), by_name(x).numpy(), rtol=1e-6)
