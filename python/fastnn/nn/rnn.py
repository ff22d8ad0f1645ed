"""PyTorch's recurrent modules: ``nn.RNN``, ``nn.LSTM``, ``nn.GRU`` and their one-step cells
``nn.RNNCell``, ``nn.LSTMCell``, ``nn.GRUCell``, with PyTorch's parameters, layouts and
initialisation, over fastnn's fused recurrent op.

fastnn runs a whole sequence of one layer and direction as one op (``_C.rnn``: one GEMM for
every step's input part, then per step one recurrent GEMM and one fused gate pass) on
batch-first input with Keras's weight layouts. Each forward maps PyTorch's parameters onto
those layouts with differentiable ops on the weights (a few weight-sized copies per call, not
per step), so the gradients reach PyTorch's parameters:

    kernel (in, G*H)           = weight_ih (G*H, in) transposed
    recurrent_kernel (H, G*H)  = weight_hh (G*H, H) transposed
    bias (G*H,)                = bias_ih + bias_hh            (RNN, LSTM: the op adds one bias)
    GRU: rows r, z, n reordered to the op's z, r, h, and bias (2, 3H) = [bias_ih; bias_hh]

LSTM's gate order (i, f, g, o) is the op's (i, f, c, o). GRU is Keras's reset_after=True,
h~ = tanh(x W_h + b_h + r * (h R_h + c_h)), which is PyTorch's n = tanh(W_in x + b_in +
r * (W_hn h + b_hn)) with the recurrent bias kept apart, as here.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import _C
from ..tensor import Tensor
from ..tensor_functions import cat, stack
from .linear import positive_int, uniform_init
from .module import Module, dtype_name

# mode -> (the op's cell, gate blocks G, activation)
_MODES = {"RNN_TANH": ("simple_rnn", 1, "tanh"), "RNN_RELU": ("simple_rnn", 1, "relu"),
          "LSTM": ("lstm", 4, "tanh"), "GRU": ("gru", 3, "tanh")}
_NONLINEARITIES = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}


def _keras_weights(cell, weight_ih, weight_hh, bias_ih, bias_hh):
    """PyTorch's weight_ih (G*H, in), weight_hh (G*H, H), bias_ih/bias_hh (G*H,) or None as
    the op's kernel (in, G*H), recurrent kernel (H, G*H) and bias, by differentiable ops."""
    if cell == "gru":
        hidden = weight_hh.shape[1]

        def zrh(t):  # rows (r, z, n) -> (z, r, n)
            return cat([t[hidden:2 * hidden], t[:hidden], t[2 * hidden:]], 0)

        weight_ih, weight_hh = zrh(weight_ih), zrh(weight_hh)
        bias = None if bias_ih is None else stack([zrh(bias_ih), zrh(bias_hh)])  # (2, 3H)
    else:
        bias = None if bias_ih is None else bias_ih + bias_hh
    return weight_ih.t(), weight_hh.t(), bias


def _as_float_tensor(module, value, who, arg):
    """A tensor of the module's dtype: numpy arrays are converted (as a Module's input is);
    a tensor of another dtype is refused, as PyTorch refuses it."""
    if not isinstance(value, Tensor):
        if not isinstance(value, np.ndarray):
            raise TypeError(f"{who}: expected {arg} to be a tensor, got {type(value).__name__}")
        value = module._convert_input(value)
    if value.dtype != module.dtype:
        raise ValueError(f"{who}: {arg} must have the type {module.dtype} (the module's "
                         f"parameters'), got type {value.dtype}")
    return value


def _check_shape(value, expected, who, arg, meaning):
    if tuple(value.shape) != tuple(expected):
        raise ValueError(f"{who}: expected {arg} of shape {tuple(expected)} ({meaning}), got "
                         f"{tuple(value.shape)}")


def _check_bias(bias, who):
    if not isinstance(bias, (bool, np.bool_)):
        raise TypeError(f"{who}: expected bias to be True or False, got {bias!r}")
    return bool(bias)


# --- sequences -------------------------------------------------------------------------------


class RNNBase(Module):
    """What RNN, LSTM and GRU share (``nn.RNNBase(mode, ...)``, mode 'RNN_TANH', 'RNN_RELU',
    'LSTM' or 'GRU'): for each layer k and direction, parameters weight_ih_l{k}[_reverse]
    (G*H, in), weight_hh_l{k}[_reverse] (G*H, H), bias_ih_l{k}[_reverse] and
    bias_hh_l{k}[_reverse] (G*H,), registered in PyTorch's order and drawn from
    U(-1/sqrt(H), 1/sqrt(H)). ``forward(input, hx=None)`` returns (output, h_n) (LSTM:
    (output, (h_n, c_n))): input (T, N, in), (N, T, in) with batch_first, or unbatched
    (T, in); output (T, N, D*H) (batch_first: (N, T, D*H)); h_n (D*num_layers, N, H)."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None):
        who = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(mode, mode)
        if mode not in _MODES:
            raise ValueError(f"RNNBase: unrecognized RNN mode {mode!r}; expected one of "
                             f"{', '.join(repr(m) for m in _MODES)}")
        super().__init__(dtype=dtype_name(dtype, who))
        self._who = who
        self.mode = mode
        self.input_size = positive_int(input_size, who, "input_size")
        self.hidden_size = positive_int(hidden_size, who, "hidden_size")
        self.num_layers = positive_int(num_layers, who, "num_layers")
        self.bias = _check_bias(bias, who)
        self.batch_first = bool(batch_first)
        self.dropout = _dropout_rate(dropout, who)
        self.bidirectional = bool(bidirectional)
        self.proj_size = _proj_size(proj_size, mode, self.hidden_size, who)
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn(f"{who}: dropout adds dropout after all but the last recurrent "
                          f"layer, so a non-zero dropout expects num_layers greater than 1, "
                          f"but got dropout={self.dropout} and num_layers=1", stacklevel=3)
        self._cell, gates, self._activation = _MODES[mode]
        directions = 2 if self.bidirectional else 1
        rows, bound = gates * self.hidden_size, 1.0 / math.sqrt(self.hidden_size)
        self._flat_weights_names = []
        for layer in range(self.num_layers):
            inputs = self.input_size if layer == 0 else self.hidden_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = [("weight_ih", (rows, inputs)), ("weight_hh", (rows, self.hidden_size))]
                if self.bias:
                    shapes += [("bias_ih", (rows,)), ("bias_hh", (rows,))]
                for name, shape in shapes:
                    setattr(self, name + suffix,
                            self.add_weight(name + suffix, shape, uniform_init(bound)))
                    self._flat_weights_names.append(name + suffix)
        if device is not None:
            self.to(device)

    @property
    def _directions(self):
        return 2 if self.bidirectional else 1

    @property
    def all_weights(self):
        """The parameters of each layer and direction, as lists (PyTorch's property)."""
        per = len(self._flat_weights_names) // (self.num_layers * self._directions)
        names = self._flat_weights_names
        return [[getattr(self, n) for n in names[i:i + per]] for i in range(0, len(names), per)]

    def flatten_parameters(self):
        """PyTorch's cuDNN weight compaction; fastnn's op reads the weights as they are."""

    def forward(self, input, hx=None):  # noqa: A002 - torch's argument name
        who = self._who
        x, batched = self._sequence(input)  # (N, T, in), batch-first inside
        h0, c0 = self._initial_states(hx, x.shape[0], batched)  # (D*L, N, H) or None
        directions = self._directions
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            if layer and self.dropout and self.training:
                x = x * 0.0 if self.dropout == 1 else \
                    _C.dropout(x, self.dropout, [], True, None, who)[0]
            outputs = []
            for direction in range(directions):
                i = layer * directions + direction
                kernel, recurrent, bias = _keras_weights(self._cell, *self._weights_of(i))
                # The reverse direction runs over the reversed sequence and returns its
                # outputs in the input's order, as PyTorch's do.
                sequence, h, c = _C.rnn(
                    self._cell, x, kernel, recurrent, bias,
                    None if h0 is None else h0[i], None if c0 is None else c0[i], None,
                    self._activation, bool(direction), bool(direction), True,
                    f"{who} layer {layer}{' reverse' if direction else ''}", None)
                outputs.append(sequence)  # (N, T, H)
                h_n.append(h)             # (N, H)
                c_n.append(c)
            x = outputs[0] if directions == 1 else _C.concat(outputs, 2)  # (N, T, D*H)
        h_n = stack(h_n)  # (D*L, N, H)
        c_n = stack(c_n) if self._cell == "lstm" else None
        if not batched:
            output, h_n = x[0], h_n[:, 0]
            c_n = None if c_n is None else c_n[:, 0]
        else:
            output = x if self.batch_first else x.permute(1, 0, 2)
        return (output, (h_n, c_n)) if self._cell == "lstm" else (output, h_n)

    def _weights_of(self, i):
        """(weight_ih, weight_hh, bias_ih, bias_hh) of layer-direction i (biases None
        without bias), read from the attributes each call (``double()`` replaces them)."""
        per = 4 if self.bias else 2
        weights = [getattr(self, n) for n in self._flat_weights_names[i * per:(i + 1) * per]]
        return weights + [None] * (4 - per)

    def _sequence(self, input):  # noqa: A002
        """input as a batch-first (N, T, in) tensor, and whether it had a batch axis."""
        who = self._who
        x = _as_float_tensor(self, input, who, "input")
        if x.ndim not in (2, 3):
            raise ValueError(f"{who}: expected input to be 2-D (unbatched: sequence, "
                             f"features) or 3-D, got {x.ndim}-D input of shape "
                             f"{tuple(x.shape)}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{who}: input.size(-1) must be equal to input_size. Expected "
                             f"{self.input_size}, got {x.shape[-1]}")
        if 0 in tuple(x.shape):
            raise ValueError(f"{who}: expected a non-empty input (sequence length and batch "
                             f"larger than 0), got shape {tuple(x.shape)}")
        if x.ndim == 2:
            return x.unsqueeze(0), False
        return (x if self.batch_first else x.permute(1, 0, 2)), True

    def _initial_states(self, hx, batch, batched):
        """hx (PyTorch's h_0, or LSTM's (h_0, c_0)) as (D*L, N, H) tensors, or None."""
        who, lstm = self._who, self._cell == "lstm"
        if hx is None:
            return None, None
        if lstm and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"{who}: expected hx to be a tuple (h_0, c_0), got "
                            f"{type(hx).__name__}")
        if not lstm and isinstance(hx, (tuple, list)):
            raise TypeError(f"{who}: expected hx to be one tensor h_0, got a "
                            f"{type(hx).__name__}")
        layers = self._directions * self.num_layers
        expected = (layers, batch, self.hidden_size) if batched else (layers, self.hidden_size)
        meaning = ("D * num_layers, batch, hidden_size" if batched
                   else "D * num_layers, hidden_size, for unbatched input")
        states = []
        for state, arg in zip(hx if lstm else [hx], ("h_0", "c_0")):
            state = _as_float_tensor(self, state, who, arg)
            _check_shape(state, expected, who, arg, meaning)
            states.append(state if batched else state.unsqueeze(1))
        return states[0], (states[1] if lstm else None)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"  # PyTorch's repr, which omits nonlinearity
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


def _dropout_rate(dropout, who):
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or \
            not 0 <= dropout <= 1:
        raise ValueError(f"{who}: dropout should be a number in range [0, 1] representing the "
                         f"probability of an element being zeroed, got {dropout!r}")
    return float(dropout)


def _proj_size(proj_size, mode, hidden_size, who):
    if isinstance(proj_size, bool) or not isinstance(proj_size, numbers.Integral) or \
            proj_size < 0:
        raise ValueError(f"{who}: proj_size should be a non-negative integer, got "
                         f"{proj_size!r}")
    if proj_size and mode != "LSTM":
        raise ValueError(f"{who}: proj_size argument is only supported for LSTM, not RNN or "
                         "GRU")
    if proj_size >= hidden_size:
        raise ValueError(f"{who}: proj_size has to be smaller than hidden_size, got "
                         f"proj_size={proj_size} and hidden_size={hidden_size}")
    if proj_size:
        raise NotImplementedError(f"{who}: proj_size > 0 (LSTM with projections) is not "
                                  f"implemented in fastnn, got proj_size={proj_size}")
    return 0


class RNN(RNNBase):
    """``nn.RNN``: h_t = nonlinearity(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh), nonlinearity
    'tanh' or 'relu'. ``output, h_n = rnn(input, h_0=None)``."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None,
                 dtype=None):
        if nonlinearity not in _NONLINEARITIES:
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; select from 'tanh' "
                             "or 'relu'")
        self.nonlinearity = nonlinearity
        super().__init__(_NONLINEARITIES[nonlinearity], input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, 0, device, dtype)


class LSTM(RNNBase):
    """``nn.LSTM``: gates (i, f, g, o) in the rows of weight_ih/weight_hh (4H, .).
    ``output, (h_n, c_n) = lstm(input, (h_0, c_0) or None)``. proj_size > 0 raises
    NotImplementedError."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """``nn.GRU``: gates (r, z, n) in the rows of weight_ih/weight_hh (3H, .);
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h.
    ``output, h_n = gru(input, h_0=None)``."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype)


# --- cells -----------------------------------------------------------------------------------


class RNNCellBase(Module):
    """What the cells share: weight_ih (G*H, in), weight_hh (G*H, H), bias_ih and bias_hh
    (G*H,), drawn from U(-1/sqrt(H), 1/sqrt(H)). One step is the recurrent op over a
    sequence of one step. input (N, in) or unbatched (in,); states (N, H) or (H,)."""

    _mode = "RNN_TANH"

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        who = type(self).__name__
        super().__init__(dtype=dtype_name(dtype, who))
        self._who = who
        self.input_size = positive_int(input_size, who, "input_size")
        self.hidden_size = positive_int(hidden_size, who, "hidden_size")
        self.bias = _check_bias(bias, who)
        rows, bound = num_chunks * self.hidden_size, 1.0 / math.sqrt(self.hidden_size)
        self.weight_ih = self.add_weight("weight_ih", (rows, self.input_size),
                                         uniform_init(bound))
        self.weight_hh = self.add_weight("weight_hh", (rows, self.hidden_size),
                                         uniform_init(bound))
        self.bias_ih = self.add_weight("bias_ih", (rows,), uniform_init(bound)) if bias else None
        self.bias_hh = self.add_weight("bias_hh", (rows,), uniform_init(bound)) if bias else None
        if device is not None:
            self.to(device)

    def _step(self, input, states):  # noqa: A002
        """One step: (h', c' or None) from input and the states [h] or [h, c] (each a
        tensor, numpy array or None for zeros)."""
        who = self._who
        x = _as_float_tensor(self, input, who, "input")
        if x.ndim not in (1, 2):
            raise ValueError(f"{who}: expected input to be 1-D (unbatched) or 2-D (batch, "
                             f"input_size), got {x.ndim}-D input of shape {tuple(x.shape)}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{who}: input has inconsistent input_size: got {x.shape[-1]}, "
                             f"expected {self.input_size}")
        batched = x.ndim == 2
        x = x if batched else x.unsqueeze(0)  # (N, in)
        expected = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        meaning = "batch, hidden_size" if batched else "hidden_size, for unbatched input"
        checked = []
        for state, arg in zip(states, ("h", "c")):
            if state is not None:
                state = _as_float_tensor(self, state, who, arg)
                _check_shape(state, expected, who, arg, meaning)
                state = state if batched else state.unsqueeze(0)
            checked.append(state)
        cell, _, activation = _MODES[self._mode]
        kernel, recurrent, bias = _keras_weights(cell, self.weight_ih, self.weight_hh,
                                                 self.bias_ih, self.bias_hh)
        _, h, c = _C.rnn(cell, x.unsqueeze(1), kernel, recurrent, bias, checked[0],
                         checked[1] if len(checked) > 1 else None, None, activation, False,
                         False, False, who, None)
        if not batched:
            h, c = h[0], (None if c is None else c[0])
        return h, c

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self._mode == "RNN_RELU":
            s += ", nonlinearity=relu"
        return s


class RNNCell(RNNCellBase):
    """``nn.RNNCell``: h' = nonlinearity(x W_ih^T + b_ih + h W_hh^T + b_hh);
    ``h' = cell(input, h=None)``."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        if nonlinearity not in _NONLINEARITIES:
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; select from "
                             "'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        self._mode = _NONLINEARITIES[nonlinearity]
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)

    def forward(self, input, hx=None):  # noqa: A002
        return self._step(input, [hx])[0]


class LSTMCell(RNNCellBase):
    """``nn.LSTMCell``: ``h', c' = cell(input, (h, c) or None)``; gates (i, f, g, o)."""

    _mode = "LSTM"

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):  # noqa: A002
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"{self._who}: expected hx to be a tuple (h, c), got "
                            f"{type(hx).__name__}")
        return self._step(input, [None, None] if hx is None else list(hx))


class GRUCell(RNNCellBase):
    """``nn.GRUCell``: ``h' = cell(input, h=None)``; gates (r, z, n)."""

    _mode = "GRU"

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):  # noqa: A002
        return self._step(input, [hx])[0]


__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]
FUNCTIONAL: list = []
