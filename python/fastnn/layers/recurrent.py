"""Recurrent layers over batch-first sequences (batch, timesteps, features), with Keras's
arguments, weight layouts and masking; the Bidirectional wrapper and Masking.

Each recurrent layer runs the whole sequence as one op (one autograd node): the input
projection of every step as one GEMM, then per step one recurrent GEMM and one fused pass for
the gates (csrc/ops/rnn.cpp). A mask (N, T) — from ``Embedding(mask_zero=True)``, ``Masking``
or the ``mask=`` argument — skips padded steps: the state carries through them and, with
return_sequences, the output there is zero, as in Keras.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import _C
from .. import activations as _activations
from .. import initializers as _initializers
from .. import regularizers as _regularizers
from ..snapshot import snapshot
from ..tensor import Tensor, numeric_array
from .base import Layer
from .norm import _check_rate

_SIMPLE_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")


class _RNN(Layer):
    """What SimpleRNN, LSTM and GRU share: weights kernel (features, G), recurrent_kernel
    (units, G), bias; ``call(inputs, mask=None, training=False, initial_state=None)``
    returns the last output (N, units), or every step's (N, T, units) with
    return_sequences; with return_state, ``[output, *states]``. go_backwards processes the
    sequence reversed and returns its outputs in that (reversed) order, as Keras does.
    ``dropout``: the rate of a dropout mask on the inputs, drawn once per batch and shared
    by every step (Keras's); ``recurrent_dropout``: the rate of a mask on the state before
    the recurrent kernel, one per sample and unit, the same at every step and for every
    gate (Gal and Ghahramani's variational dropout, which Keras's argument implements; Keras
    3 draws its per-gate masks differently). Both apply in training only."""

    _cell = ""             # the op's cell name
    _gates = 1             # gate blocks of `units` in the kernel's columns
    _states = ("h",)       # names of the states initial_state and return_state carry

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        self._who = f"{type(self).__name__} '{self.name}'"
        if not isinstance(units, numbers.Integral) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"{self._who}: expected units to be a positive integer, got "
                             f"{units!r}")
        if stateful:
            raise NotImplementedError(f"{self._who}: stateful=True is not implemented; pass "
                                      "the last states as initial_state instead")
        self.units = int(units)
        self.activation = (activation if isinstance(activation, str)
                           else _activations.get(activation, f"{self._who} activation")[0])
        self.use_bias = bool(use_bias)
        self.dropout = _check_rate(dropout, f"{self._who} dropout")
        self.recurrent_dropout = _check_rate(recurrent_dropout, f"{self._who} recurrent_dropout")
        self.seed = seed
        self._generator()  # made now: made inside a captured step, it would refuse the plan
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.unroll = bool(unroll)  # the same math either way: steps never run in Python
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
        # Bidirectional's backward layer returns its sequence in the input's order.
        self._sequence_in_input_order = False

    def _build_if_shaped(self):
        """Builds now when input_shape was given (called at the end of each subclass's
        __init__, once its own arguments are set)."""
        if self.input_shape_arg is not None:
            self._maybe_build(self.input_shape_arg)

    def _check_activation(self, arg, value, allowed):
        if value in allowed:
            return
        if len(allowed) == 1:
            raise NotImplementedError(f"{self._who}: only {arg}={allowed[0]!r} (Keras's default) "
                                      f"is implemented, got {value!r}")
        raise NotImplementedError(f"{self._who}: expected {arg} to be one of "
                                  f"{', '.join(repr(a) for a in allowed)}, got {value!r}")

    def _check_recurrent_activation(self, recurrent_activation):
        name = recurrent_activation
        if not isinstance(name, str):
            name = _activations.get(name, f"{self._who} recurrent_activation")[0]
        self._check_activation("recurrent_activation", name, ("sigmoid",))
        self.recurrent_activation = name

    # --- weights -----------------------------------------------------------------------------

    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_initial_value(self, shape, dtype):
        init = _initializers.get(self.bias_initializer, f"{self._who} bias_initializer")
        return np.asarray(init(shape, dtype), dtype=dtype).copy()

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"{self._who}: expected inputs of shape (batch, timesteps, "
                             f"features) with known features, got input shape "
                             f"{tuple(input_shape)}")
        features, columns = int(input_shape[-1]), self._gates * self.units
        self.kernel = self.add_weight("kernel", (features, columns), self.kernel_initializer,
                                      self.kernel_regularizer)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, columns),
                                                self.recurrent_initializer,
                                                self.recurrent_regularizer)
        if self.use_bias:
            self.bias = self.add_weight("bias", self._bias_shape(), self._bias_initial_value,
                                        self.bias_regularizer)
        self.built = True

    # --- calling -----------------------------------------------------------------------------

    def _as_tensor(self, value, arg, dtype=None):
        if isinstance(value, Tensor):
            return value
        array = numeric_array(value, self._who, arg)
        if array.dtype == np.bool_:
            array = array.astype(self.dtype)
        dtype = dtype or self.dtype
        return snapshot(array, dtype) if _C.is_grad_enabled() else _C.from_numpy(array, dtype)

    def _initial_states(self, initial_state):
        if initial_state is None:
            return [None] * len(self._states)
        if isinstance(initial_state, (Tensor, np.ndarray)) and len(self._states) == 1:
            initial_state = [initial_state]
        if not isinstance(initial_state, (list, tuple)) or len(initial_state) != len(self._states):
            names = ", ".join(self._states)
            raise ValueError(f"{self._who}: expected initial_state to be a list [{names}] of "
                             f"{len(self._states)} (batch, {self.units}) arrays, got "
                             f"{initial_state!r}")
        return [self._as_tensor(s, f"initial_state {name}")
                for s, name in zip(initial_state, self._states)]

    def _mask(self, mask, inputs):
        if mask is None:
            return None
        mask = self._as_tensor(mask, "mask")
        if mask.dtype != inputs.dtype:
            mask = _C.to_dtype(mask, inputs.dtype)
        return mask

    def call(self, inputs, mask=None, training=False, initial_state=None):
        states = self._initial_states(initial_state)
        mask = self._mask(mask, inputs)
        if self.dropout and training:
            # One mask per sequence and feature, the same at every step (Keras's).
            n, _, features = inputs.shape
            inputs, _ = _C.dropout(inputs, self.dropout, [n, 1, features], True,
                                   self._generator(), self._who)
        recurrent_mask = None
        if self.recurrent_dropout and training:
            ones = _C.full([inputs.shape[0], self.units], 1.0, inputs.dtype)
            recurrent_mask, _ = _C.dropout(ones, self.recurrent_dropout, [], True,
                                           self._generator(), self._who)
        h0 = states[0]
        c0 = states[1] if len(states) > 1 else None
        sequence, h_last, c_last = _C.rnn(
            self._cell, inputs, self.kernel, self.recurrent_kernel, self.bias, h0, c0, mask,
            self._op_activation(), self.go_backwards, self._sequence_in_input_order,
            self.return_sequences, self._who, recurrent_mask)
        output = sequence if self.return_sequences else h_last
        if not self.return_state:
            return output
        return [output, h_last] + ([c_last] if c_last is not None else [])

    def _op_activation(self):
        return self.activation

    def _generator(self):
        if not hasattr(self, "_dropout_generator"):
            from .norm import _own_generator

            self._dropout_generator = _own_generator(self.seed, self._who)
        return self._dropout_generator

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError(f"{self._who}: expected an input shape of rank 3, got "
                             f"{input_shape}")
        batch = input_shape[0]
        output = ((batch, input_shape[1], self.units) if self.return_sequences
                  else (batch, self.units))
        if self.return_state:
            return [output] + [(batch, self.units)] * len(self._states)
        return output

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias, "kernel_initializer": self.kernel_initializer,
                "recurrent_initializer": self.recurrent_initializer,
                "bias_initializer": self.bias_initializer,
                "kernel_regularizer": self.kernel_regularizer,
                "recurrent_regularizer": self.recurrent_regularizer,
                "bias_regularizer": self.bias_regularizer, "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout,
                "seed": self.seed, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards}


class SimpleRNN(_RNN):
    """Keras's SimpleRNN: h_t = activation(x_t W + h_(t-1) R + b); kernel (features, units),
    recurrent_kernel (units, units), bias (units,). Activations: tanh (default), relu,
    sigmoid, linear."""

    _cell = "simple_rnn"

    def __init__(self, units, activation="tanh", **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self._check_activation("activation", self.activation, _SIMPLE_ACTIVATIONS)
        self._build_if_shaped()


class LSTM(_RNN):
    """Keras's LSTM: kernel (features, 4 * units), recurrent_kernel (units, 4 * units), bias
    (4 * units,), gates in the order i, f, c, o; unit_forget_bias starts the forget gate's
    bias at one. Only Keras's default activations (tanh, sigmoid recurrent activation) are
    implemented. States: [h, c]."""

    _cell = "lstm"
    _gates = 4
    _states = ("h", "c")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 unit_forget_bias=True, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self._check_activation("activation", self.activation, ("tanh",))
        self._check_recurrent_activation(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self._build_if_shaped()

    def _bias_initial_value(self, shape, dtype):
        value = super()._bias_initial_value(shape, dtype)
        if self.unit_forget_bias:
            value[self.units:2 * self.units] = 1.0
        return value

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation,
                "unit_forget_bias": self.unit_forget_bias}


class GRU(_RNN):
    """Keras's GRU with reset_after=True (its default, and PyTorch's formula): kernel
    (features, 3 * units), recurrent_kernel (units, 3 * units), bias (2, 3 * units) — the
    input bias, then the recurrent one — gates in the order z, r, h:
    z = sigmoid(x W_z + b_z + h R_z + c_z), r likewise, g = tanh(x W_h + b_h + r * (h R_h +
    c_h)), h_t = z * h + (1 - z) * g. Only the default activations are implemented."""

    _cell = "gru"
    _gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 reset_after=True, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self._check_activation("activation", self.activation, ("tanh",))
        self._check_recurrent_activation(recurrent_activation)
        if not reset_after:
            raise NotImplementedError(
                f"{self._who}: only reset_after=True (Keras's default since TF 2, PyTorch's "
                "formula) is implemented")
        self.reset_after = True
        self._build_if_shaped()

    def _bias_shape(self):
        return (2, 3 * self.units)

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation,
                "reset_after": self.reset_after}


class Masking(Layer):
    """Keras's Masking: steps whose features all equal ``mask_value`` are masked (the
    recurrent layers after it skip them) and zeroed in the output."""

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(mask_value, numbers.Real) or isinstance(mask_value, bool):
            raise ValueError(f"Masking '{self.name}': expected mask_value to be a number, got "
                             f"{mask_value!r}")
        self.mask_value = float(mask_value)

    def compute_mask(self, inputs, mask=None):
        if not isinstance(inputs, Tensor):
            inputs = self._convert_input(inputs)
        if getattr(self, "_mask_of", None) is not inputs:  # not the call's own input
            self._mask_of = inputs
            self._mask = _C.step_mask(inputs, self.mask_value, inputs.dtype,
                                      f"Masking '{self.name}'")
        return self._mask

    def call(self, inputs):
        if len(inputs.shape) < 3:
            raise ValueError(f"Masking '{self.name}': expected inputs of shape (batch, "
                             f"timesteps, features), got shape {tuple(inputs.shape)}")
        keep = self.compute_mask(inputs)
        return inputs * keep.reshape(list(keep.shape) + [1] * (len(inputs.shape) - 2))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


class Bidirectional(Layer):
    """Keras's Bidirectional: runs ``layer`` over the sequence and a copy of it (or
    ``backward_layer``) over the reversed sequence, and merges their outputs: merge_mode
    "concat" (default), "sum", "mul", "ave", or None for the list of both. With
    return_sequences the backward outputs are put back in the input's order first. Weights:
    the forward layer's, then the backward layer's. With return_state the output is
    ``[output, *forward_states, *backward_states]``."""

    _MERGE_MODES = ("concat", "sum", "mul", "ave", None)

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        who = "Bidirectional"
        if not isinstance(layer, _RNN):
            raise TypeError(f"{who}: expected a recurrent layer (SimpleRNN, LSTM, GRU), got "
                            f"{type(layer).__name__}")
        if merge_mode not in self._MERGE_MODES:
            raise ValueError(f"{who}: expected merge_mode to be one of 'concat', 'sum', "
                             f"'mul', 'ave' or None, got {merge_mode!r}")
        kwargs.setdefault("dtype", layer.dtype)
        kwargs.setdefault("name", f"bidirectional_{layer.name}")
        super().__init__(**kwargs)
        self._who = f"Bidirectional '{self.name}'"
        if backward_layer is None:
            config = {**layer.get_config(), "name": f"backward_{layer.name}",
                      "go_backwards": not layer.go_backwards}
            backward_layer = type(layer).from_config(config)
        elif not isinstance(backward_layer, _RNN):
            raise TypeError(f"{self._who}: expected backward_layer to be a recurrent layer, "
                            f"got {type(backward_layer).__name__}")
        for attr in ("return_sequences", "return_state"):
            if getattr(backward_layer, attr) != getattr(layer, attr):
                raise ValueError(f"{self._who}: the forward and backward layers must agree on "
                                 f"{attr}")
        self.forward_layer, self.backward_layer = layer, backward_layer
        backward_layer._sequence_in_input_order = True
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        if self.input_shape_arg is not None:
            self._maybe_build(self.input_shape_arg)

    @property
    def weights(self):
        return self.forward_layer.weights + self.backward_layer.weights

    def _named_weights(self, prefix=""):
        return (self.forward_layer._named_weights(prefix + "forward_layer.")
                + self.backward_layer._named_weights(prefix + "backward_layer."))

    def build(self, input_shape):
        self.forward_layer._maybe_build(input_shape)
        self.backward_layer._maybe_build(input_shape)
        self.built = True

    def train(self, mode: bool = True):
        self.forward_layer.train(mode)
        self.backward_layer.train(mode)
        return super().train(mode)

    def call(self, inputs, mask=None, training=False, initial_state=None):
        forward_state = backward_state = None
        if initial_state is not None:
            if not isinstance(initial_state, (list, tuple)) or len(initial_state) % 2:
                raise ValueError(f"{self._who}: expected initial_state to hold the forward "
                                 f"layer's states then the backward layer's, got "
                                 f"{initial_state!r}")
            half = len(initial_state) // 2
            forward_state, backward_state = list(initial_state[:half]), list(initial_state[half:])
        y = self.forward_layer(inputs, mask=mask, training=training,
                               initial_state=forward_state)
        y_reversed = self.backward_layer(inputs, mask=mask, training=training,
                                         initial_state=backward_state)
        states = []
        if self.return_state:
            states = y[1:] + y_reversed[1:]
            y, y_reversed = y[0], y_reversed[0]
        if self.merge_mode == "concat":
            output = _C.concat([y, y_reversed], y.dim() - 1)
        elif self.merge_mode == "sum":
            output = y + y_reversed
        elif self.merge_mode == "mul":
            output = y * y_reversed
        elif self.merge_mode == "ave":
            output = (y + y_reversed) * 0.5
        else:
            output = [y, y_reversed]
        if self.return_state:
            return (output if isinstance(output, list) else [output]) + states
        return output

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def compute_output_shape(self, input_shape):
        forward = self.forward_layer.compute_output_shape(input_shape)
        backward = self.backward_layer.compute_output_shape(input_shape)
        if self.return_state:
            forward, states = forward[0], forward[1:] + backward[1:]
            backward = backward[0]
        if self.merge_mode == "concat":
            output = tuple(forward[:-1]) + (forward[-1] + backward[-1],)
        elif self.merge_mode is None:
            output = [tuple(forward), tuple(backward)]
        else:
            output = tuple(forward)
        if self.return_state:
            return (output if isinstance(output, list) else [output]) + states
        return output

    def get_config(self):
        config = {**super().get_config(), "merge_mode": self.merge_mode,
                  "layer": {"class_name": type(self.forward_layer).__name__,
                            "config": self.forward_layer.get_config()},
                  "backward_layer": {"class_name": type(self.backward_layer).__name__,
                                     "config": self.backward_layer.get_config()}}
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)

        def made(spec):
            kind = {c.__name__: c for c in (SimpleRNN, LSTM, GRU)}.get(spec["class_name"])
            if kind is None:
                raise ValueError(f"Bidirectional.from_config: expected a recurrent layer of "
                                 f"fastnn.layers, got class {spec['class_name']!r}")
            return kind.from_config(spec["config"])

        layer = made(config.pop("layer"))
        backward = config.pop("backward_layer", None)
        return cls(layer, backward_layer=made(backward) if backward else None, **config)
