"""Model: a layer made of layers, subclassed Keras-style (``call``) or PyTorch-style
(``forward``)."""

from __future__ import annotations

import numpy as np

from . import symbolic as _symbolic
from .layers.base import Layer, _local_name, takes_argument
from .lazy_parameters import LazyParameters
from .tensor import Tensor
from .structured import StructuredTraining
from .training import TrainingMixin


class Model(StructuredTraining, TrainingMixin, Layer):
    """Subclass it and define ``call(self, x, training=False)`` or ``forward(self, x)``.

    Layers, parameters, and lists/tuples/dicts of them assigned as attributes are tracked
    in assignment order. ``training`` is passed to call/forward only when it takes it; when
    not given it follows ``train()``/``eval()``: PyTorch-style models (``forward``) start in
    training mode as in PyTorch, Keras-style ones (``call``) in inference mode as in Keras.
    """

    def __new__(cls, *args, **kwargs):
        # Keras's functional form: Model(inputs, outputs) makes a Functional model, the
        # graph of layer calls recorded from keras.Input (fastnn/functional_model.py).
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            return super().__new__(Model._functional)
        return super().__new__(cls)

    #: The class of Model(inputs, outputs): functional_model.Functional (set as it loads;
    #: fastnn's __init__ loads it).
    _functional = None

    def __init__(self, *args, name=None, **kwargs):
        # A subclass handing inputs and outputs to Model.__init__ (Keras's "functional
        # subclass") would otherwise build an empty model that fails only when called.
        if args or "inputs" in kwargs or "outputs" in kwargs:
            given = [f"{len(args)} positional argument(s)"] if args else []
            given += [f"{k}=" for k in ("inputs", "outputs") if k in kwargs]
            raise NotImplementedError(
                f"{type(self).__name__}.__init__: a subclass of Model cannot pass inputs and "
                f"outputs to Model.__init__ (got {', '.join(given)}); build the graph and "
                "call keras.Model(inputs, outputs), or define call(self, x) in the subclass")
        super().__init__(name=name, **kwargs)
        self.training = type(self).call is Model.call and type(self).forward is not Model.forward

    # --- tracking ------------------------------------------------------------------------

    def _tracked(self):
        """Sub-layers and directly held parameters, in attribute order, without repeats."""
        seen = set()

        def walk(value):
            if isinstance(value, Layer) or isinstance(value, Tensor):
                if id(value) not in seen:
                    seen.add(id(value))
                    yield value
            elif isinstance(value, (list, tuple)):
                for v in value:
                    yield from walk(v)
            elif isinstance(value, dict):
                for v in value.values():
                    yield from walk(v)

        for key, value in vars(self).items():  # _holds_weights, inline: this runs per step
            if key.startswith("_") and key != "_layers":
                continue
            if isinstance(value, Tensor) and not (value.requires_grad and value.is_leaf):
                continue
            yield from walk(value)

    def _named_tracked(self):
        """What _tracked yields, in its order, with attribute paths: 'd1', 'blocks.0',
        'heads.cls' (a dict's key), 'scale'. Kept apart from _tracked, which runs at every
        eager step (model.losses) and so builds no strings."""
        seen = set()

        def walk(path, value):
            if isinstance(value, Layer) or isinstance(value, Tensor):
                if id(value) not in seen:
                    seen.add(id(value))
                    yield path, value
            elif isinstance(value, (list, tuple)):
                for i, v in enumerate(value):
                    yield from walk(f"{path}.{i}" if path else str(i), v)
            elif isinstance(value, dict):
                for k, v in value.items():
                    yield from walk(f"{path}.{k}" if path else str(k), v)

        for key, value in vars(self).items():
            if _holds_weights(key, value):
                yield from walk(self._path_of(key), value)

    def _path_of(self, attribute):
        """The key prefix of what an attribute holds ('' puts a list's items at the top)."""
        return attribute

    @property
    def layers(self):
        return [v for v in self._tracked() if isinstance(v, Layer)]

    def get_layer(self, name=None, index=None):
        """A layer of ``layers`` by name or by index (Keras's)."""
        layers = self.layers
        if index is not None:
            if name is not None:
                raise ValueError(f"{type(self).__name__} '{self.name}'.get_layer: give a name "
                                 "or an index, not both")
            if isinstance(index, bool) or not isinstance(index, int):
                raise TypeError(f"{type(self).__name__} '{self.name}'.get_layer: expected index "
                                f"to be an integer, got {type(index).__name__}")
            if not -len(layers) <= index < len(layers):
                raise IndexError(f"{type(self).__name__} '{self.name}'.get_layer: index "
                                 f"{index} is out of range for a model of {len(layers)} "
                                 "layers")
            return layers[index]
        if name is None:
            raise ValueError(f"{type(self).__name__} '{self.name}'.get_layer: give a layer "
                             "name or index")
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"{type(self).__name__} '{self.name}'.get_layer: no layer named "
                         f"{name!r}; the layers are {[layer.name for layer in layers]}")

    def _takes_ids(self):
        # The first layer assigned stands for the one the input meets first.
        layers = self.layers
        return bool(layers) and layers[0]._takes_ids()

    @property
    def weights(self):
        out, seen = [], set()
        for v in self._tracked():
            for w in (v.weights if isinstance(v, Layer) else [v]):
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out + [w for w in self._weights if id(w) not in seen]

    def _named_weights(self, prefix=""):
        """(key, weight) in ``weights`` order (the same walk, with names): a layer's weights
        under its attribute path ('d1.kernel', 'encoder.d1.bias'), a parameter held directly
        by its path, the model's own add_weight weights by their names. A weight reached
        twice keeps its first key."""
        out, seen = [], set()
        for path, v in self._named_tracked():
            pairs = v._named_weights(f"{prefix}{path}.") if isinstance(v, Layer) else [
                (prefix + path, v)]
            for key, w in pairs:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append((key, w))
        return out + [(prefix + _local_name(w, i), w) for i, w in enumerate(self._weights)
                      if id(w) not in seen]

    @property
    def trainable_weights(self):
        out = []
        for v in self._tracked():
            if isinstance(v, Layer):
                out += v.trainable_weights if self.trainable else []
            elif self.trainable:
                out.append(v)
        return _unique(out + [w for w in self._weights if w._trainable and self.trainable])

    @property
    def non_trainable_weights(self):
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    def _collect_parameters(self):
        return self.trainable_weights

    def parameters(self):
        if all(layer.built for layer in self.layers):
            return self._collect_parameters()
        return LazyParameters(self)

    @property
    def losses(self):
        out = []
        for v in self._tracked():
            if isinstance(v, Layer):
                out += v.losses
        return out + [w._regularizer(w) for w in self._weights if w._regularizer is not None]

    # --- calling -------------------------------------------------------------------------

    @property
    def built(self):
        return self._built and all(layer.built for layer in self.layers)

    @built.setter
    def built(self, value):
        self._built = value

    def build(self, input_shape):
        """Builds every layer by running a batch of zeros through the model."""
        shape = tuple(1 if d is None else int(d) for d in input_shape)
        from .tensor import no_grad

        with no_grad():
            self(np.zeros(shape, dtype=self.dtype))

    def call(self, inputs, training=False):
        if type(self).forward is not Model.forward:
            return self.forward(inputs)
        raise NotImplementedError(f"{type(self).__name__} must define call(self, x) or forward(self, x)")

    def forward(self, inputs):
        raise NotImplementedError(f"{type(self).__name__} must define call(self, x) or forward(self, x)")

    def __call__(self, inputs, training=None, **kwargs):
        if _symbolic.is_symbolic(inputs, kwargs):  # a model used as a layer of a graph
            return _symbolic.call(self, inputs, training, kwargs)
        if training is None:
            training = self.training
        if isinstance(inputs, dict) or (isinstance(inputs, (list, tuple)) and len(inputs) > 1
                                        and all(isinstance(v, (np.ndarray, Tensor))
                                                for v in inputs)):
            # Several inputs (Keras's call(self, inputs) with a list or dict): each converted.
            convert = lambda v: v if isinstance(v, Tensor) else self._convert_input(v)  # noqa: E731
            inputs = ({k: convert(v) for k, v in inputs.items()} if isinstance(inputs, dict)
                      else type(inputs)(convert(v) for v in inputs))
        elif not isinstance(inputs, Tensor):
            inputs = self._convert_input(inputs)
        self._last_input, self._last_training = inputs, training
        method = self.call if type(self).call is not Model.call else self.forward
        if takes_argument(method, "training"):
            out = method(inputs, training=training, **kwargs)
        else:
            out = method(inputs, **kwargs)
        self._built = True
        return out

    def train(self, mode: bool = True):
        self.training = bool(mode)
        for layer in self.layers:
            layer.train(mode)
        return self

    def count_params(self) -> int:
        return int(sum(int(np.prod(w.shape)) for w in self.weights))

    # --- saving (fastnn/saving.py) -----------------------------------------------------------

    def get_build_config(self):
        """The input the model was built for (Keras's get_build_config): {"input_shape":
        [None, ...], "input_dtype": ...} of the last call, or None while unbuilt."""
        last = self._last_input
        if not isinstance(last, Tensor) or not self.built:  # none yet, or several inputs
            return None
        return {"input_shape": [None] + [int(d) for d in tuple(last.shape)[1:]],
                "input_dtype": str(last.dtype)}

    def build_from_config(self, config):
        """Builds the model for get_build_config()'s input: one call on zeros of that shape
        (1 for unknown sizes), under no_grad and with training=False."""
        from .tensor import no_grad

        shape = tuple(1 if d is None else int(d) for d in config["input_shape"])
        with no_grad():
            self(np.zeros(shape, dtype=np.dtype(config.get("input_dtype", self.dtype))),
                 training=False)

    def save(self, filepath, overwrite=True, include_optimizer=True):
        """Saves the model to one safetensors file: architecture, weights, and when compiled
        the compile settings and optimizer state; ``fn.load_model(filepath)`` restores it.
        Written to a temporary file and renamed, so a failure keeps the previous file."""
        from .saving import save_model

        save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def save_weights(self, filepath, overwrite=True):
        """Saves the weights alone (safetensors, keyed as state_dict(); by convention
        ``*.safetensors``)."""
        from .saving import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        """Loads weights saved by save_weights (or a model file's) in place, after checking
        every key, shape and dtype."""
        from .saving import load_weights

        load_weights(self, filepath)


def _walked_attribute(attribute):
    """Whether a model's attribute of this name can hold layers and parameters: private
    ones (a call's recorded input, _built) cannot."""
    return not attribute.startswith("_") or attribute == "_layers"


def _holds_weights(attribute, value):
    """Whether a model's attribute is walked for layers and parameters."""
    if not _walked_attribute(attribute):
        return False
    return not isinstance(value, Tensor) or (value.requires_grad and value.is_leaf)


def _unique(items):
    seen, out = set(), []
    for x in items:
        if id(x) not in seen:
            seen.add(id(x))
            out.append(x)
    return out
