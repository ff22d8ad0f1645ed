"""``keras.utils``."""

import numpy as np

from ..saving import (get_custom_objects, get_registered_name, get_registered_object,
                      register_keras_serializable)
from ..symbolic import KerasTensor
from ..utils import pad_sequences, set_random_seed, to_categorical
from .backend import clear_session


def normalize(x, axis=-1, order=2):
    """``x`` divided by its ``order``-norm along ``axis`` (zero rows stay zero), in numpy."""
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis)


def is_keras_tensor(x):
    """Whether ``x`` is a symbolic tensor of the functional API."""
    return isinstance(x, KerasTensor)


__all__ = ["to_categorical", "set_random_seed", "pad_sequences", "normalize", "is_keras_tensor",
           "clear_session", "register_keras_serializable", "get_custom_objects",
           "get_registered_name", "get_registered_object"]
