"""``keras.activations``: functions on tensors (the same objects fastnn's layers fuse
into their ops where they know them)."""

from .. import activations as _activations
from .. import functional as _F

relu, sigmoid, tanh, gelu = _F.relu, _F.sigmoid, _F.tanh, _F.gelu
softmax, log_softmax, linear = _F.softmax, _F.log_softmax, _F.linear


def leaky_relu(x, negative_slope=0.2):
    """x if x > 0 else negative_slope * x (Keras 3's default slope, 0.2)."""
    return _F.leaky_relu(x, negative_slope)


def get(identifier):
    """The activation function for a Keras name, a function, or None (linear)."""
    if isinstance(identifier, str) and identifier.lower() == "leaky_relu":
        return leaky_relu
    return _activations.get(identifier, "keras.activations.get")[1]


def serialize(activation):
    """The Keras name of a known activation function."""
    name, _ = _activations.get(activation, "keras.activations.serialize")
    if name is None and activation is leaky_relu:
        return "leaky_relu"
    if name is None:
        raise ValueError(f"keras.activations.serialize: {activation!r} is not one of "
                         "fastnn's activations")
    return name


def deserialize(name):
    return get(name)


__all__ = ["relu", "sigmoid", "tanh", "gelu", "softmax", "log_softmax", "linear",
           "leaky_relu", "get", "serialize", "deserialize"]
