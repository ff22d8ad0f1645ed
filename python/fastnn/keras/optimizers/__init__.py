"""``keras.optimizers``: Keras's arguments and defaults (learning_rate, beta_1, ...), and
``keras.optimizers.schedules``."""

from ...optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop, get
from . import schedules

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "get", "schedules"]
