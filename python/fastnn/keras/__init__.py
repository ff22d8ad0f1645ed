"""Keras 3's namespace over fastnn: code written for ``keras`` / ``tf.keras`` runs with its
import lines changed to ``from fastnn import keras`` (or ``import fastnn as tf`` and
``tf.keras``), ``from fastnn.keras.models import Sequential``, ``from fastnn.keras.layers
import Dense``, ``from fastnn.keras import layers, models, datasets``.

Every name here is fastnn's own object (``keras.Model`` is ``fastnn.Model``,
``keras.layers.Dense`` is ``fastnn.layers.Dense``), so models built either way are the
same models. ``keras.Model(inputs, outputs)`` is the functional API
(fastnn/functional_model.py).
"""

from .. import _C
from ..initializers import Initializer
from ..layers import Input, Layer
from ..losses import Loss
from ..metrics import Metric
from ..models import Model
from ..optimizers import Optimizer
from ..regularizers import Regularizer
from ..sequential import Sequential
from ..symbolic import KerasTensor
__version__ = _C.build_info()["version"]  # fastnn's

from . import (activations, backend, callbacks, datasets, initializers, layers, losses, metrics,
               models, optimizers, regularizers, saving, utils)

__all__ = ["Sequential", "Model", "Input", "Layer", "Loss", "Metric", "Optimizer",
           "Initializer", "Regularizer", "KerasTensor", "activations", "backend", "callbacks",
           "datasets", "initializers", "layers", "losses", "metrics", "models", "optimizers",
           "regularizers", "saving", "utils", "__version__"]
