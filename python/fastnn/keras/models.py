"""``keras.models``: Sequential, Model (functional when given inputs and outputs),
load_model, save_model, clone_model."""

from ..functional_model import Functional
from ..models import Model
from ..saving import load_model, save_model
from ..sequential import Sequential


def clone_model(model, input_tensors=None, clone_function=None):
    """A new model with the same architecture and newly initialized weights (Keras's):
    a Sequential or functional model rebuilt from its config (fastnn.layers classes)."""
    if input_tensors is not None or clone_function is not None:
        raise ValueError("clone_model: input_tensors and clone_function are not supported by "
                         "fastnn")
    if isinstance(model, (Sequential, Functional)):
        return type(model).from_config(model.get_config())
    raise ValueError(f"clone_model: expected a Sequential or functional model, got "
                     f"{type(model).__name__} (a subclassed model: construct a new instance)")


__all__ = ["Sequential", "Model", "load_model", "save_model", "clone_model"]
