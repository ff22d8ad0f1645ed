"""BatchNormalization, Dropout and SpatialDropout2D (Keras semantics)."""

from __future__ import annotations

import numbers

import numpy as np

from .. import _C
from ..tensor import Tensor, as_tensor
from ..tensor import tensor as _tensor
from .base import Layer


class BatchNormalization(Layer):
    """Normalises over the last axis (channels). Training: batch mean and biased variance,
    and moving = momentum * moving + (1 - momentum) * batch, updated in place by the kernel
    (so captured steps update them too); inference: the moving statistics. Weights in
    Keras's order: gamma, beta (trainable), moving_mean, moving_variance (not trainable).
    A frozen layer (trainable=False) always runs in inference mode, as in Keras."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        who = f"BatchNormalization '{self.name}'"
        if axis not in (-1,):
            raise ValueError(f"{who}: only axis=-1 (channels last) is supported, got {axis!r}")
        if not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
            raise ValueError(f"{who}: expected momentum in [0, 1], got {momentum!r}")
        if not isinstance(epsilon, numbers.Real) or not epsilon > 0:
            raise ValueError(f"{who}: expected epsilon > 0, got {epsilon!r}")
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.initializers = (gamma_initializer, beta_initializer, moving_mean_initializer,
                             moving_variance_initializer)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None
        self._replaying = False
        if self.input_shape_arg is not None:
            self._maybe_build(self.input_shape_arg)

    def build(self, input_shape):
        if len(input_shape) < 1 or input_shape[-1] is None:
            raise ValueError(f"BatchNormalization '{self.name}': the channel (last) dimension "
                             f"must be known, got input shape {input_shape}")
        c = (int(input_shape[-1]),)
        g_init, b_init, mm_init, mv_init = self.initializers
        if self.scale:
            self.gamma = self.add_weight("gamma", c, g_init)
        if self.center:
            self.beta = self.add_weight("beta", c, b_init)
        self.moving_mean = self.add_weight("moving_mean", c, mm_init, trainable=False)
        self.moving_variance = self.add_weight("moving_variance", c, mv_init, trainable=False)
        self.built = True

    def call(self, inputs, training=False):
        # While Layer.backward re-runs the forward, momentum 1 keeps the moving statistics
        # from being updated a second time for the same batch.
        momentum = 1.0 if self._replaying else self.momentum
        return _C.batch_norm(inputs, self.gamma, self.beta, self.moving_mean,
                             self.moving_variance, bool(training) and self.trainable,
                             momentum, self.epsilon, f"BatchNormalization '{self.name}'")

    def backward(self, grad_output):
        self._replaying = True
        try:
            return super().backward(grad_output)
        finally:
            self._replaying = False

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                **dict(zip(("gamma_initializer", "beta_initializer", "moving_mean_initializer",
                            "moving_variance_initializer"), self.initializers))}


def _check_rate(rate, who):
    if not isinstance(rate, numbers.Real) or isinstance(rate, bool) or not 0 <= rate < 1:
        raise ValueError(f"{who}: expected rate in [0, 1), got {rate!r}")
    return float(rate)


def _own_generator(seed, who):
    """A layer's own {seed, offset} generator (Keras's seed=): its masks do not depend on
    other draws. None: fastnn's global generator (fn.manual_seed)."""
    if seed is None:
        return None
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"{who}: expected seed to be a non-negative integer or None, got "
                         f"{seed!r}")
    return _tensor(np.array([int(seed) % (1 << 63), 0], dtype=np.int64), dtype="int64")


class Dropout(Layer):
    """Inverted dropout while training: each value is zeroed with probability ``rate`` and
    the others scaled by 1 / (1 - rate); the identity at inference. ``noise_shape``: the
    mask's shape (dims of the input or 1; None takes the input's)."""

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        who = f"{type(self).__name__} '{self.name}'"
        self.rate = _check_rate(rate, who)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._generator = _own_generator(seed, who)
        self._last_mask = None

    def _mask_shape(self, shape):
        if self.noise_shape is None:
            return []
        return [shape[i] if d is None else int(d) for i, d in enumerate(self.noise_shape)]

    def call(self, inputs, training=False):
        y, self._last_mask = _C.dropout(inputs, self.rate, self._mask_shape(inputs.shape),
                                        bool(training), self._generator,
                                        f"{type(self).__name__} '{self.name}'")
        return y

    def backward(self, grad_output):
        """The input gradient for the last call's mask (re-running the forward, as
        Layer.backward does, would draw a new one)."""
        if self._last_input is None:
            raise RuntimeError(f"{type(self).__name__} '{self.name}'.backward: call the layer "
                               "on an input first")
        gy = grad_output if isinstance(grad_output, Tensor) else as_tensor(
            grad_output, dtype=self._last_input.dtype)
        if tuple(gy.shape) != tuple(self._last_input.shape):
            raise ValueError(f"{type(self).__name__} '{self.name}'.backward: expected "
                             f"grad_output of shape {tuple(self._last_input.shape)}, got "
                             f"{tuple(gy.shape)}")
        return gy if self._last_mask is None else gy * self._last_mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape,
                "seed": self.seed}


class SpatialDropout2D(Dropout):
    """Drops whole channels: one mask value per (sample, channel) of (N, H, W, C) inputs."""

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"SpatialDropout2D '{self.name}': only data_format="
                             f"'channels_last' is supported, got {data_format!r}")

    def _mask_shape(self, shape):
        if len(shape) != 4:
            raise ValueError(f"SpatialDropout2D '{self.name}': expected inputs of rank 4 "
                             f"(batch, height, width, channels), got shape {tuple(shape)}")
        return [shape[0], 1, 1, shape[3]]
