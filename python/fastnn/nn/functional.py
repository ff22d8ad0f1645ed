"""``fastnn.nn.functional`` (``import fastnn.nn.functional as F``): PyTorch's functional
forms over fastnn's kernels, with PyTorch's layouts (NCHW) and defaults. Each lives beside
its module class (``F.conv2d`` in nn/conv.py, ``F.cross_entropy`` in nn/loss.py); a file's
``FUNCTIONAL`` list names what this namespace takes from it."""

from __future__ import annotations

import importlib

# The files of fastnn.nn, by name: fastnn.nn's __init__ imports this module, so importing
# the package from here would make a cycle.
_SOURCES = tuple(importlib.import_module(f".{name}", __package__) for name in (
    "linear", "activation", "conv", "pooling", "normalization", "dropout", "sparse", "rnn",
    "loss"))

__all__ = [name for source in _SOURCES for name in source.FUNCTIONAL]
globals().update({name: getattr(source, name) for source in _SOURCES
                  for name in source.FUNCTIONAL})
