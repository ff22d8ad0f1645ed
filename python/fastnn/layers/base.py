"""The Layer base class: weights, lazy building, Keras weight I/O and backprop by hand."""

from __future__ import annotations

import collections
import inspect
import re
import threading
import types

import numpy as np

from .. import _C
from .. import initializers as _initializers
from .. import regularizers as _regularizers
from .. import symbolic as _symbolic
from ..snapshot import snapshot
from ..tensor import Tensor, enable_grad, host_copy, numeric_array, to_host, write_host

_name_counts: collections.Counter = collections.Counter()

# Set (per thread) by fastnn.saving while it rebuilds a saved model: add_weight then makes
# zeros, since the file's values replace them, and draws nothing from the generator.
_building_from_file = threading.local()


def _snake_case(name: str) -> str:
    """Keras's layer names: Dense -> dense, LeakyReLU -> leaky_re_lu, Conv2D -> conv2d."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base: str) -> str:
    """Keras-style layer names: dense, dense_1, dense_2, ..."""
    n = _name_counts[base]
    _name_counts[base] += 1
    return base if n == 0 else f"{base}_{n}"


# (function, argument name) -> bool. inspect.signature costs ~14 us, most of a small
# layer's call, and a method's parameters do not change: ask once per function.
_takes_argument_cache: dict = {}


def takes_argument(method, name: str) -> bool:
    """Whether ``method`` accepts the keyword ``name`` (or **kwargs)."""
    # A bound method is made anew on every attribute access; its function is the class's.
    function = getattr(method, "__func__", None)
    key = (function, name)
    known = _takes_argument_cache.get(key)
    if known is not None:
        return known
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    answer = name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
    if isinstance(function, types.FunctionType):
        # Only methods defined on a class, which live as long as it does; a function set
        # on an instance (layer.call = lambda ...) may be made anew per call, and caching
        # it would keep every one (and what it closes over) alive.
        _takes_argument_cache[key] = answer
    return answer


def _local_name(weight, index):
    """A weight's key within its layer: its add_weight name, else (a tensor appended some
    other way) the last part of its name, else its position."""
    name = getattr(weight, "_local_name", None)
    if name:
        return name
    name = getattr(weight, "name", "") or ""
    return name.rsplit("/", 1)[-1] if name else str(index)


def _layers_within(layer):
    """The layer and every layer it holds, each once (a model's tracked layers; a
    wrapper's inner layer)."""
    seen, out, stack = set(), [], [layer]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        out.append(current)
        for value in vars(current).values():
            values = value if isinstance(value, (list, tuple)) else (
                value.values() if isinstance(value, dict) else (value,))
            stack.extend(v for v in values if isinstance(v, Layer))
    return out


#: What load_state_dict returns (PyTorch's): the keys the state lacked and those it had extra.
IncompatibleKeys = collections.namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Layer:
    """Base of every layer and model.

    A layer owns its weights (``add_weight``), builds them on its first call from the input
    shape (or at construction when ``input_shape``/``input_dim`` is given, as in Keras), and
    computes with fastnn ops in ``call``.
    """

    def __init__(self, name=None, input_shape=None, input_dim=None, dtype="float32",
                 trainable=True, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) "
                            f"{', '.join(sorted(kwargs))}")
        if dtype not in ("float32", "float64"):
            raise TypeError(f"{type(self).__name__}: expected dtype float32 or float64, got {dtype!r}")
        object.__setattr__(self, "_weights", [])
        self.name = name or unique_name(_snake_case(type(self).__name__))
        self.dtype = dtype
        self.trainable = trainable
        self.built = False
        self.training = False
        self._last_input = None
        self._last_training = False
        if input_dim is not None:
            input_shape = (input_dim,)
        self.input_shape_arg = None
        if input_shape is not None:
            if isinstance(input_shape, int):
                input_shape = (input_shape,)
            shape = tuple(input_shape)
            if not all(isinstance(d, (int, np.integer)) and d > 0 for d in shape if d is not None):
                raise ValueError(f"{type(self).__name__} '{self.name}': input_shape must hold "
                                 f"positive sizes, got {input_shape!r}")
            self.input_shape_arg = (None,) + tuple(shape)

    # --- weights -------------------------------------------------------------------------

    def add_weight(self, name, shape, initializer="glorot_uniform", regularizer=None,
                   trainable=True, dtype=None):
        """Creates a parameter, named '<layer>/<name>' like Keras; ``name`` is its key in
        the layer's state_dict."""
        who = f"{type(self).__name__} '{self.name}'.add_weight"
        if not isinstance(name, str) or not name:
            raise TypeError(f"{who}: expected name to be a non-empty string, got {name!r}")
        if any(_local_name(w, i) == name for i, w in enumerate(self._weights)):
            raise ValueError(f"{who}: expected a new weight name, got {name!r}, which this "
                             "layer already has (state_dict keys must be unique)")
        dtype = dtype or self.dtype
        init = _initializers.get(initializer, f"{type(self).__name__} '{self.name}'")
        if getattr(_building_from_file, "active", False):
            value = np.zeros(tuple(shape), dtype=dtype)
        else:
            value = np.asarray(init(tuple(shape), dtype), dtype=dtype)
        if value.shape != tuple(shape):
            raise ValueError(f"{self.name}/{name}: initializer returned shape {value.shape}, "
                             f"expected {tuple(shape)}")
        weight = Tensor(value, dtype, trainable and self.trainable)
        if self._device != "cpu":  # a layer moved before it was built (model.to)
            weight._move_to_(self._device)
        weight.name = f"{self.name}/{name}"
        weight._regularizer = _regularizers.get(regularizer, f"{self.name}/{name}")
        weight._trainable = trainable
        weight._local_name = name
        self._weights.append(weight)
        return weight

    @property
    def weights(self):
        return list(self._weights)

    @property
    def trainable_weights(self):
        return [w for w in self.weights if w._trainable and self.trainable]

    @property
    def non_trainable_weights(self):
        return [w for w in self.weights if not (w._trainable and self.trainable)]

    # TensorFlow's names for the same lists (tf.keras: model.trainable_variables).
    @property
    def trainable_variables(self):
        return self.trainable_weights

    @property
    def non_trainable_variables(self):
        return self.non_trainable_weights

    @property
    def variables(self):
        return self.weights

    def parameters(self):
        """The trainable parameters, in get_weights order."""
        return self.trainable_weights

    def named_parameters(self, prefix=""):
        """(name, parameter) pairs in parameters() order, named as in state_dict() (each
        key after ``prefix``, PyTorch's argument)."""
        names = {id(w): key for key, w in self._named_weights(prefix)}
        return [(names.get(id(w), w.name), w) for w in self.parameters()]

    # --- state dict (PyTorch's names: the structure, not the Keras layer names) -------------

    def _named_weights(self, prefix=""):
        """(key, weight) for every weight, in ``weights`` order. A layer's own weights are
        keyed by their add_weight names; models prefix their layers' attribute paths."""
        return [(prefix + _local_name(w, i), w) for i, w in enumerate(self.weights)]

    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """Weights by structural key, as numpy copies: 'kernel' for a layer, 'd1.kernel' or
        'blocks.0.bias' in a model, '0.kernel' in a Sequential. The keys do not depend on
        the Keras names (dense_3/kernel), so they match between instances of a class.
        PyTorch's arguments: into ``destination``, keys after ``prefix``, and with
        ``keep_vars`` the tensors themselves instead of copies."""
        out = collections.OrderedDict() if destination is None else destination
        for key, w in self._keyed_weights("state_dict"):
            out[prefix + key] = w if keep_vars else host_copy(w)
        return out

    def load_state_dict(self, state, strict=True, assign=False):
        """Copies ``state`` (key -> numpy array or tensor, as state_dict() gives; PyTorch's
        tensors too) into the weights, in place. Every key, dtype and shape is checked
        before any weight changes. ``strict=False`` loads the keys both sides have and
        reports the others; returns (missing_keys, unexpected_keys), as PyTorch does."""
        who = f"{type(self).__name__} '{self.name}'.load_state_dict"
        if not hasattr(state, "keys") or not hasattr(state, "__getitem__"):
            raise TypeError(f"{who}: expected a dict of arrays (as state_dict() returns), got "
                            f"{type(state).__name__}")
        if assign:
            raise NotImplementedError(f"{who}: assign=True (replacing the parameters by the "
                                      "given tensors) is not supported; the values are copied "
                                      "into the existing weights")
        mine = dict(self._keyed_weights("load_state_dict"))
        missing = [k for k in mine if k not in state]
        unexpected = [k for k in state if k not in mine]
        if not strict:
            mine = {k: w for k, w in mine.items() if k in state}
        elif missing or unexpected:
            hint = ("; the model is not built yet (layers without input_shape create their "
                    "weights on the first call): call it on an input first"
                    if not self.built else "")
            raise KeyError(f"{who}: expected the keys of its state_dict(), got missing keys "
                           f"{missing} and unexpected keys {unexpected}{hint}")
        arrays = []
        for key, w in mine.items():
            value = to_host(state[key])
            if value.dtype.kind not in "fiub":
                raise TypeError(f"{who}: expected real numbers for {key!r}, got an array of "
                                f"dtype {value.dtype}")
            if value.shape != tuple(w.shape):
                raise ValueError(f"{who}: expected {key!r} of shape {tuple(w.shape)}, got "
                                 f"{value.shape}")
            arrays.append(value)
        # Checked first, so a bad entry leaves every weight as it was. In place, so
        # optimizers and captured steps holding these tensors see the new values.
        for w, value in zip(mine.values(), arrays):
            write_host(w, value)
        return IncompatibleKeys(missing, unexpected)

    def _keyed_weights(self, method):
        pairs = self._named_weights()
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            repeated = sorted({k for k in keys if keys.count(k) > 1})
            raise ValueError(f"{type(self).__name__} '{self.name}'.{method}: expected unique "
                             f"weight keys, got {repeated} more than once (an attribute path "
                             "equal to a weight's name?)")
        return pairs

    def count_params(self) -> int:
        return int(sum(int(np.prod(w.shape)) for w in self.weights))

    def get_weights(self):
        """Copies of the weights as numpy arrays, in Keras layouts."""
        return [host_copy(w) for w in self.weights]

    def set_weights(self, weights):
        mine = self.weights
        weights = list(weights)
        if len(weights) != len(mine):
            raise ValueError(f"{type(self).__name__} '{self.name}'.set_weights: expected "
                             f"{len(mine)} arrays ({', '.join(w.name for w in mine)}), "
                             f"got {len(weights)}")
        arrays = []
        for w, value in zip(mine, weights):
            value = np.asarray(value)
            if value.dtype.kind not in "fiub":
                raise TypeError(f"{type(self).__name__} '{self.name}'.set_weights: expected "
                                f"real numbers for {w.name}, got an array of dtype {value.dtype}")
            if value.shape != w.shape:
                raise ValueError(f"{type(self).__name__} '{self.name}'.set_weights: expected "
                                 f"{w.name} of shape {w.shape}, got {value.shape}")
            arrays.append(value)
        # All shapes and dtypes checked first, so a failure leaves every weight as it was.
        for w, value in zip(mine, arrays):
            write_host(w, value)

    @property
    def losses(self):
        """Regularization penalties of this layer's weights (scalar tensors, differentiable)."""
        return [w._regularizer(w) for w in self.weights if w._regularizer is not None]

    def _configure_kernel_and_bias(self, who, activation, use_bias, kernel_initializer,
                                   bias_initializer, kernel_regularizer, bias_regularizer):
        """The arguments Dense and Conv share: the activation (fused into the op when it
        knows it), the bias, and the weights' initializers and regularizers, resolved now so
        a typo fails at construction rather than at the first call."""
        from .. import activations, initializers, regularizers

        self.activation_name, self.activation = activations.get(activation, who)
        # Keras's leaky_relu activation slopes 0.2; fastnn.leaky_relu (PyTorch's) 0.01.
        self._alpha = 0.2 if isinstance(activation, str) else 0.01
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        initializers.get(kernel_initializer, f"{who} kernel_initializer")
        initializers.get(bias_initializer, f"{who} bias_initializer")
        regularizers.get(kernel_regularizer, f"{who} kernel_regularizer")
        regularizers.get(bias_regularizer, f"{who} bias_regularizer")
        self.kernel = self.bias = None

    def _kernel_and_bias_config(self):
        """What _configure_kernel_and_bias took, for get_config: the activation by its Keras
        name, or the callable where the name would not rebuild it (a custom function;
        fastnn.leaky_relu, whose slope differs from the "leaky_relu" string's), then the
        initializers and regularizers."""
        name = self.activation_name
        if name is None or (name == "leaky_relu" and self._alpha != 0.2):
            name = self.activation
        return {"activation": name, "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer,
                "kernel_regularizer": self.kernel_regularizer,
                "bias_regularizer": self.bias_regularizer}

    # --- building and calling --------------------------------------------------------------

    def build(self, input_shape):
        self.built = True

    def _maybe_build(self, input_shape):
        if not self.built:
            self.build(tuple(input_shape))
            self.built = True

    def call(self, inputs, training=False):
        raise NotImplementedError(f"{type(self).__name__} must implement call(inputs)")

    def compute_output_shape(self, input_shape):
        """The output shape for an input shape (batch axis None), found by a dry run."""
        from ..tensor import no_grad

        shape = tuple(1 if d is None else d for d in input_shape)
        with no_grad():
            out = self(np.zeros(shape, dtype=self.dtype))
        return (None,) + tuple(out.shape[1:])

    def _takes_ids(self):
        """Whether this layer's input is integer ids (an Embedding, or a model whose first
        layer is one): integer arrays then reach it as integers, not cast to its dtype."""
        return False

    def _convert_input(self, inputs):
        """Numpy inputs become tensors of the layer's dtype (as Keras casts them)."""
        if isinstance(inputs, np.ndarray) and inputs.dtype.kind in "iu" and self._takes_ids():
            from ..functional import ids_tensor

            ids = ids_tensor(inputs)
            return ids if self._device == "cpu" else ids.to_device(self._device)
        if isinstance(inputs, Tensor):
            if inputs.dtype in ("float32", "float64") and inputs.dtype != self.dtype:
                # Keras casts a layer's float inputs to its dtype (autocast), as it does numpy
                # inputs; the cast is differentiable.
                return _C.to_dtype(inputs, self.dtype)
            return inputs
        array = numeric_array(inputs, f"{type(self).__name__} '{self.name}'", "inputs")
        if self._device != "cpu":  # a copy to the layer's device
            return _C.from_numpy(array, self.dtype).to_device(self._device)
        if _C.is_grad_enabled():
            # The graph keeps the input for backward: a borrowed array changed before then
            # would change the gradients. Without a graph, borrowing is free and safe.
            return snapshot(array, self.dtype)
        return _C.from_numpy(array, self.dtype)

    # --- masks (Keras's: a tensor's mask rides on it as ``_keras_mask``) --------------------

    #: Where the layer's weights live ('cpu' until ``to`` moves them).
    _device = "cpu"

    #: Whether a mask reaching this layer passes on to its output unchanged (layers that
    #: work per timestep); other layers that do not consume a mask drop it.
    supports_masking = False

    def compute_mask(self, inputs, mask=None):
        """The mask of this layer's output for ``inputs`` and their ``mask``: the input's
        where the layer supports masking, else None."""
        return mask if self.supports_masking else None

    def __call__(self, inputs, training=None, **kwargs):
        if _symbolic.is_symbolic(inputs, kwargs):  # keras.Input's functional API: a node
            return _symbolic.call(self, inputs, training, kwargs)
        mask = kwargs.pop("mask", None)
        if mask is None:
            mask = getattr(inputs, "_keras_mask", None)
        inputs = self._convert_input(inputs)
        if training is None:
            training = self.training
        if not self.built:
            self._maybe_build(inputs.shape)
        self._last_input, self._last_training = inputs, training
        if mask is not None and takes_argument(self.call, "mask"):
            kwargs["mask"] = mask
        if takes_argument(self.call, "training"):
            outputs = self.call(inputs, training=training, **kwargs)
        else:
            outputs = self.call(inputs, **kwargs)
        output_mask = self.compute_mask(inputs, mask)
        if output_mask is not None:
            first = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
            if isinstance(first, Tensor):
                first._keras_mask = output_mask
        return outputs

    # --- backprop by hand (teaching API) ----------------------------------------------------

    def backward(self, grad_output):
        """Backpropagates ``grad_output`` through the last call of this layer.

        Fills (accumulates into) the ``.grad`` of this layer's parameters and returns the
        gradient with respect to the layer's input. The forward pass is re-run on the saved
        input, so nothing of the graph is kept between calls.
        """
        if self._last_input is None:
            raise RuntimeError(f"{type(self).__name__} '{self.name}'.backward: call the layer "
                               "on an input first")
        x = self._last_input.detach()
        if x.dtype not in ("float32", "float64"):
            raise TypeError(f"{type(self).__name__} '{self.name}'.backward: the input is "
                            f"{x.dtype}, which has no gradient")
        x.requires_grad = True
        with enable_grad():
            if takes_argument(self.call, "training"):
                y = self.call(x, training=self._last_training)
            else:
                y = self.call(x)
        from ..tensor import as_tensor

        gy = as_tensor(grad_output, dtype=y.dtype) if not isinstance(grad_output, Tensor) else grad_output
        if tuple(gy.shape) != tuple(y.shape):
            raise ValueError(f"{type(self).__name__} '{self.name}'.backward: expected "
                             f"grad_output of shape {tuple(y.shape)}, got {tuple(gy.shape)}")
        if y.requires_grad:
            y.backward(gy)
        return x.grad if x.grad is not None else _C.full(list(x.shape), 0.0, x.dtype)

    # --- modes ---------------------------------------------------------------------------

    def to(self, device):
        """Moves every weight of this layer (its sublayers' too) and its own random
        generator to ``device`` ('cpu', 'cuda', 'cuda:N') in place, as PyTorch's
        ``module.to`` does; returns the layer. Weights built later (a lazy layer's first
        call) are made on the device of their first input. An optimizer keeps the device its
        parameters had when it was made: make it after moving the model."""
        from ..tensor import _check_device

        device = _check_device(device)
        for layer in _layers_within(self):
            for w in layer._weights:
                w._move_to_(device)
            for attribute in ("_generator", "_dropout_generator"):
                g = vars(layer).get(attribute)
                if isinstance(g, Tensor):
                    g._move_to_(device)
            object.__setattr__(layer, "_device", device)
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=0):
        return self.to(device if isinstance(device, str) else f"cuda:{device}")

    def train(self, mode: bool = True):
        self.training = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}

    def _config_for_saving(self):
        """The config fastnn.saving writes (get_config(); Sequential lists its layers
        themselves, so each is written with its class's registered name)."""
        return self.get_config()

    @classmethod
    def from_config(cls, config):
        """A new layer from ``get_config()``'s dict (Keras's default: ``cls(**config)``)."""
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"
