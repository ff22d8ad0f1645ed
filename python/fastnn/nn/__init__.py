"""``fastnn.nn``: PyTorch's ``torch.nn`` (``import fastnn.nn as nn``: Module, Linear, Conv2d
on NCHW batches, LSTM with PyTorch's gate order, CrossEntropyLoss, ``nn.functional``,
``nn.init``) over fastnn's kernels, and TensorFlow's ``tf.nn`` functions (``tf.nn.sigmoid``,
``tf.nn.relu``, ``tf.nn.softmax`` as the seeds pass them to layers, with
``import fastnn as tf``)."""

from __future__ import annotations

from . import activation, conv, dropout, linear, loss, module, normalization, pooling, rnn
from . import sparse
from ._tf import gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh  # noqa: F401
from . import functional, init  # noqa: F401

_SOURCES = (module, linear, activation, conv, pooling, normalization, dropout, sparse, rnn,
            loss)
globals().update({name: getattr(source, name) for source in _SOURCES
                  for name in source.__all__})

__all__ = (["relu", "sigmoid", "tanh", "gelu", "leaky_relu", "softmax", "log_softmax",
            "functional", "init"] + [name for source in _SOURCES for name in source.__all__])
