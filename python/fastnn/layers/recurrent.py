"""Recurrent layers over batch-first sequences (batch, timesteps, features), Keras arguments and
weight layouts."""

from __future__ import annotations

import numbers

import numpy as np

from .. import _C
from .. import initializers as _initializers
from .. import regularizers as _regularizers
from ..snapshot import snapshot
from ..tensor import Tensor, numeric_array
from .base import Layer


class LSTM(Layer):
    """Keras's LSTM: kernel (features, 4 * units), recurrent_kernel (units, 4 * units), bias
    (4 * units,), gates in the order i, f, c, o. The whole sequence runs as one op (one
    autograd node): the input projection of every step as one GEMM, then per step one
    recurrent GEMM and one fused pass for the gates and the cell.

    Only Keras's default activations (activation="tanh", recurrent_activation="sigmoid") are
    implemented; others raise NotImplementedError. ``call(inputs, initial_state=None)``
    returns the last output (N, units), or every step's (N, T, units) with
    return_sequences; with return_state, ``[output, h, c]``. initial_state: ``[h, c]``, each
    (N, units). go_backwards processes the sequence reversed and returns its outputs in
    that (reversed) order, as Keras does.
    """

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, return_sequences=False,
                 return_state=False, go_backwards=False, **kwargs):
        super().__init__(**kwargs)
        self._who = f"LSTM '{self.name}'"
        if not isinstance(units, numbers.Integral) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"{self._who}: expected units to be a positive integer, got "
                             f"{units!r}")
        if activation != "tanh":
            raise NotImplementedError(
                f"{self._who}: only activation='tanh' (Keras's default) is implemented, got "
                f"{activation!r}")
        if recurrent_activation != "sigmoid":
            raise NotImplementedError(
                f"{self._who}: only recurrent_activation='sigmoid' (Keras's default) is "
                f"implemented, got {recurrent_activation!r}")
        self.units = int(units)
        self.activation = activation
        self.recurrent_activation = recurrent_activation
        self.use_bias = bool(use_bias)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = kernel_regularizer
        self.recurrent_regularizer = recurrent_regularizer
        self.bias_regularizer = bias_regularizer
        # Resolved now so a typo fails at construction rather than at the first call.
        for arg in ("kernel_initializer", "recurrent_initializer", "bias_initializer"):
            _initializers.get(getattr(self, arg), f"{self._who} {arg}")
        for arg in ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer"):
            _regularizers.get(getattr(self, arg), f"{self._who} {arg}")
        self.kernel = self.recurrent_kernel = self.bias = None
        if self.input_shape_arg is not None:
            self._maybe_build(self.input_shape_arg)

    def _bias_init(self, shape, dtype="float32"):
        """Keras's unit_forget_bias: the forget gate's block starts at one."""
        u = self.units
        init = _initializers.get(self.bias_initializer, f"{self._who} bias_initializer")
        value = np.asarray(init((4 * u,), dtype), dtype=dtype).copy()
        value[u:2 * u] = 1.0
        return value

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"{self._who}: expected inputs of shape (batch, timesteps, "
                             f"features) with known features, got input shape "
                             f"{tuple(input_shape)}")
        features, u = int(input_shape[-1]), self.units
        self.kernel = self.add_weight("kernel", (features, 4 * u), self.kernel_initializer,
                                      self.kernel_regularizer)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (u, 4 * u),
                                                self.recurrent_initializer,
                                                self.recurrent_regularizer)
        if self.use_bias:
            init = self._bias_init if self.unit_forget_bias else self.bias_initializer
            self.bias = self.add_weight("bias", (4 * u,), init, self.bias_regularizer)
        self.built = True

    def _state(self, value, arg):
        if isinstance(value, Tensor):
            return value
        array = numeric_array(value, self._who, arg)
        return snapshot(array, self.dtype) if _C.is_grad_enabled() else _C.from_numpy(
            array, self.dtype)

    def call(self, inputs, initial_state=None):
        h0 = c0 = None
        if initial_state is not None:
            if not isinstance(initial_state, (list, tuple)) or len(initial_state) != 2:
                raise ValueError(f"{self._who}: expected initial_state to be a list [h, c] of "
                                 f"two (batch, {self.units}) arrays, got {initial_state!r}")
            h0 = self._state(initial_state[0], "initial_state h")
            c0 = self._state(initial_state[1], "initial_state c")
        h_seq, h_last, c_last = _C.lstm(inputs, self.kernel, self.recurrent_kernel, self.bias,
                                        h0, c0, self.go_backwards, self._who)
        output = h_seq if self.return_sequences else h_last
        return [output, h_last, c_last] if self.return_state else output

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError(f"{self._who}: expected an input shape of rank 3, got "
                             f"{input_shape}")
        batch = input_shape[0]
        output = ((batch, input_shape[1], self.units) if self.return_sequences
                  else (batch, self.units))
        if self.return_state:
            return [output, (batch, self.units), (batch, self.units)]
        return output

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "recurrent_activation": self.recurrent_activation, "use_bias": self.use_bias,
                "unit_forget_bias": self.unit_forget_bias,
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards}
