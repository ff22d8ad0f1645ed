"""Activation lookup: Keras names, fastnn functions, or any callable on tensors."""

from __future__ import annotations

from . import functional as F

# Activations Dense applies inside its own op (one pass with the bias add).
FUSED = ("linear", "relu", "leaky_relu", "sigmoid", "tanh", "gelu")

_BY_NAME = {
    "linear": F.linear, "relu": F.relu, "leaky_relu": F.leaky_relu, "sigmoid": F.sigmoid,
    "tanh": F.tanh, "gelu": F.gelu, "softmax": F.softmax, "log_softmax": F.log_softmax,
}
_NAME_OF = {fn: name for name, fn in _BY_NAME.items()}


def get(identifier, who="activation"):
    """(name, function): name is the Keras name when the activation is a known one."""
    if identifier is None:
        return "linear", F.linear
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            raise ValueError(f"{who}: unknown activation {identifier!r}; expected one of "
                             f"{', '.join(sorted(_BY_NAME))} or a callable")
        return key, _BY_NAME[key]
    if callable(identifier):
        return _NAME_OF.get(identifier), identifier
    raise TypeError(f"{who}: expected an activation name or callable, got {type(identifier).__name__}")


relu, leaky_relu, sigmoid, tanh, gelu = F.relu, F.leaky_relu, F.sigmoid, F.tanh, F.gelu
softmax, log_softmax, linear = F.softmax, F.log_softmax, F.linear
