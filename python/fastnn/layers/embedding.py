"""Embedding: rows of a weight table looked up by integer ids, Keras's layer."""

from __future__ import annotations

import numbers

import numpy as np

from .. import _C
from .. import initializers as _initializers
from .. import regularizers as _regularizers
from ..functional import ids_tensor
from ..tensor import Tensor
from .base import Layer


class Embedding(Layer):
    """Maps integer ids in [0, input_dim) to rows of ``embeddings`` (input_dim, output_dim):
    ids of shape (N,), (N, T), ... give outputs of shape ids.shape + (output_dim,).

    Ids may be int32, int64 or floats holding integers (Keras casts them); anything else
    (negative, >= input_dim, fractional) raises IndexError naming the layer and the value,
    also when a replayed (captured) fit step meets it in a later batch. The gradient adds
    the rows of repeated ids, in id order, so it is the same every run.

    ``mask_zero=True``: id 0 is padding, and ``compute_mask(ids)`` gives a float tensor (the
    layer's dtype) that is 1.0 where ids != 0 and 0.0 at padding. ``input_length`` is accepted
    and ignored, as in Keras 3.
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, mask_zero=False, input_length=None, **kwargs):
        super().__init__(**kwargs)
        self._who = f"Embedding '{self.name}'"
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{self._who}: expected {arg} to be a positive integer, got "
                                 f"{value!r}")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.mask_zero = bool(mask_zero)
        self.input_length = input_length
        self.embeddings_initializer = embeddings_initializer
        self.embeddings_regularizer = embeddings_regularizer
        _initializers.get(embeddings_initializer, f"{self._who} embeddings_initializer")
        _regularizers.get(embeddings_regularizer, f"{self._who} embeddings_regularizer")
        # The table's shape does not depend on the input: built now, so set_weights works
        # at once (as nn.Embedding's does).
        self._maybe_build(self.input_shape_arg or (None,))

    def build(self, input_shape):
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
                                          self.embeddings_initializer,
                                          self.embeddings_regularizer)
        self.built = True

    def _takes_ids(self):
        return True

    def _convert_input(self, inputs):
        return ids_tensor(inputs, self._who)

    def call(self, inputs):
        return _C.embedding(self.embeddings, inputs, self._who)

    def compute_mask(self, inputs, mask=None):
        """None without mask_zero; else a float tensor of the ids' shape (batch, timesteps),
        1.0 where ids != 0, computed by a kernel (so it replays inside a captured step)."""
        if not self.mask_zero:
            return None
        ids = inputs if isinstance(inputs, Tensor) else self._convert_input(inputs)
        shape = list(ids.shape)
        flat = ids.reshape([int(np.prod(shape, dtype=np.int64)), 1, 1])  # one id per "step"
        return _C.step_mask(flat, 0.0, self.dtype, self._who).reshape(shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def backward(self, grad_output):
        """Fills the embeddings' gradient for the last call; ids have no gradient: None."""
        if self._last_input is None:
            raise RuntimeError(f"{self._who}.backward: call the layer on an input first")
        from ..tensor import as_tensor, enable_grad

        with enable_grad():
            y = self.call(self._last_input)
        gy = grad_output if isinstance(grad_output, Tensor) else as_tensor(grad_output, y.dtype)
        if tuple(gy.shape) != tuple(y.shape):
            raise ValueError(f"{self._who}.backward: expected grad_output of shape "
                             f"{tuple(y.shape)}, got {tuple(gy.shape)}")
        if y.requires_grad:
            y.backward(gy)
        return None

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "embeddings_initializer": self.embeddings_initializer,
                "embeddings_regularizer": self.embeddings_regularizer,
                "mask_zero": self.mask_zero}
