"""``model.parameters()`` before every layer has built its weights.

Its own module so that optim (which recognises it) does not import models, which imports
training, whose compile imports optim: no import cycle between them.
"""

from __future__ import annotations


class LazyParameters(list):
    """``model.parameters()`` of a model whose layers are not all built yet.

    Layers without an input shape create their weights on the first call (as in Keras),
    so the list can be empty when an optimizer is made before the first forward pass.
    Optimizers keep the model and read its parameters again at their first step.
    """

    def __init__(self, model):
        super().__init__(model._collect_parameters())
        self.model = model


__all__ = ["LazyParameters"]
