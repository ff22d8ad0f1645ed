"""TensorFlow's ``tf.nn`` functions (``tf.nn.sigmoid``, ``tf.nn.relu``, ``tf.nn.softmax``, ...
as the seeds pass them to layers: ``Dense(3, activation=tf.nn.sigmoid)`` with
``import fastnn as tf``), exported by ``fastnn.nn``."""

from __future__ import annotations

from .. import functional as _F


def relu(features, name=None):
    return _F.relu(features)


def sigmoid(x, name=None):
    return _F.sigmoid(x)


def tanh(x, name=None):
    return _F.tanh(x)


def gelu(features, approximate=False, name=None):
    if approximate:
        raise ValueError("fastnn.nn.gelu: approximate=True (the tanh form) is not supported; "
                         "fastnn's gelu is the exact erf form (approximate=False)")
    return _F.gelu(features)


def leaky_relu(features, alpha=0.2, name=None):
    """TensorFlow's default slope is 0.2 (Keras's LeakyReLU layer and torch's use others)."""
    return _F.leaky_relu(features, alpha)


def softmax(logits, axis=-1, name=None):
    return _F.softmax(logits, axis)


def log_softmax(logits, axis=-1, name=None):
    return _F.log_softmax(logits, axis)


__all__ = ["relu", "sigmoid", "tanh", "gelu", "leaky_relu", "softmax", "log_softmax"]
