"""Sequential: a plain stack of layers, each feeding the next (Keras's ``keras.Sequential``).

    model = fn.Sequential([
        layers.Dense(64, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ], input_shape=(64,))           # or Dense(64, ..., input_shape=(64,)) on the first layer
    model.summary()

With a known input shape every layer builds its weights at construction (and each layer
added later at ``add``), so ``set_weights`` works at once; without one the layers build on
the first call, from the shape of that input. Output shapes are inferred through the chain
with each layer's ``compute_output_shape``.
"""

from __future__ import annotations

import numbers

from .layers.base import Layer
from .models import Model
from .symbolic import KerasTensor
from .tensor import Tensor


def _normalized_shape(who, shape):
    """(None, *dims) from a per-sample shape given without the batch axis."""
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"{who}: expected input_shape to be a tuple of sizes, got "
                        f"{type(shape).__name__}") from None
    if not all(d is None or (isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0)
               for d in shape):
        raise ValueError(f"{who}: input_shape must hold positive sizes (or None), got {shape!r}")
    return (None,) + tuple(None if d is None else int(d) for d in shape)


class Sequential(Model):
    """A stack of layers: ``add``, ``pop``, ``layers``, ``model[i]``, ``len(model)``."""

    _takes_structures = False  # one input

    def __init__(self, layers=None, input_shape=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        who = f"Sequential '{self.name}'"
        self._layers = []
        # The input shape given (to Sequential or to the first layer) and the one seen at the
        # first call, both with the batch axis as None.
        self._declared_shape = None if input_shape is None else _normalized_shape(who, input_shape)
        self._called_shape = None
        if layers is not None:
            if isinstance(layers, Layer) or not hasattr(layers, "__iter__"):
                raise TypeError(f"{who}: expected a list of layers, got {type(layers).__name__}")
            for layer in layers:
                self.add(layer)
        if self._declared_shape is not None and not self._layers:
            self.built = True

    # --- the stack -------------------------------------------------------------------------

    def add(self, layer):
        """Appends a layer; with a known input shape it is built at once."""
        who = f"Sequential '{self.name}'.add"
        if isinstance(layer, KerasTensor) and layer._node.is_input:  # keras.Input(shape=...)
            layer = layer._node.layer
        if getattr(layer, "_is_input_layer", False):
            # Keras 3: an Input (or InputLayer) first declares the input shape; it is no layer
            # of the stack.
            if self._layers:
                raise ValueError(f"{who}: an Input / InputLayer must come first, before "
                                 f"{len(self._layers)} layer(s)")
            declared = layer.input_shape_arg
            if self._declared_shape is not None and tuple(self._declared_shape) != declared:
                raise ValueError(f"{who}: the model's input_shape {self._declared_shape[1:]} "
                                 f"differs from the Input's shape {declared[1:]}")
            self._declared_shape = declared
            self.built = True
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"{who}: expected a fastnn layer, got {type(layer).__name__}")
        if layer is self or any(layer is other for other in self._layers):
            raise ValueError(f"{who}: layer '{layer.name}' is already in the model")
        if any(other.name == layer.name for other in self._layers):
            raise ValueError(f"{who}: all layers of a Sequential model need unique names; "
                             f"'{layer.name}' is already used")
        declared = getattr(layer, "input_shape_arg", None)
        if not self._layers and declared is not None:
            if self._declared_shape is None:
                self._declared_shape = tuple(declared)
            elif tuple(self._declared_shape[1:]) != tuple(declared[1:]):
                raise ValueError(f"{who}: the model's input_shape {self._declared_shape[1:]} "
                                 f"differs from the first layer's input_shape {declared[1:]}")
        self._layers.append(layer)
        shape = self._input_shape()
        if shape is not None:
            try:
                self._build_chain(shape)
            except Exception:
                self._layers.pop()
                raise
            self.built = True

    def pop(self):
        """Removes and returns the last layer."""
        if not self._layers:
            raise TypeError(f"Sequential '{self.name}'.pop: there are no layers in the model")
        return self._layers.pop()

    @property
    def layers(self):
        return list(self._layers)

    def _path_of(self, attribute):
        # Layers are keyed by position, as in torch.nn.Sequential: '0.kernel', '1.bias'.
        return "" if attribute == "_layers" else attribute

    def __len__(self):
        return len(self._layers)

    def __iter__(self):
        return iter(list(self._layers))

    def __getitem__(self, index):
        if isinstance(index, slice):
            part = self._layers[index]
            start = index.indices(len(self._layers))[0]
            shape = self._input_shape() if start == 0 else None
            return Sequential(part, input_shape=None if shape is None else shape[1:])
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"Sequential '{self.name}': indices must be integers or slices, "
                            f"got {type(index).__name__}")
        n = len(self._layers)
        if not -n <= index < n:
            raise IndexError(f"Sequential '{self.name}': layer index {index} is out of range "
                             f"for a model of {n} layers")
        return self._layers[index]

    # --- shapes and building ----------------------------------------------------------------

    def _input_shape(self):
        return self._declared_shape or self._called_shape

    @property
    def input_shape(self):
        """(None, *dims), or None while unknown (no input_shape given and never called)."""
        return self._input_shape()

    @property
    def output_shape(self):
        shape = self._input_shape()
        if shape is None or not self._layers:
            return shape
        return self._output_shapes(shape)[-1]

    def _output_shapes(self, shape):
        out = []
        for layer in self._layers:
            shape = tuple(layer.compute_output_shape(shape))
            shape = (None,) + shape[1:]
            out.append(shape)
        return out

    def _build_chain(self, shape):
        """Builds every unbuilt layer from the shape flowing into it."""
        for layer in self._layers:
            if not layer.built:
                layer._maybe_build(shape)
            shape = (None,) + tuple(layer.compute_output_shape(shape))[1:]
        return shape

    def build(self, input_shape=None):
        """Builds every layer for inputs of ``input_shape`` (with the batch axis, as Keras's
        ``model.build((None, 64))``); without it, from the declared input shape."""
        who = f"Sequential '{self.name}'.build"
        if input_shape is None:
            input_shape = self._input_shape()
            if input_shape is None:
                raise ValueError(f"{who}: the input shape is unknown; pass input_shape")
        else:
            input_shape = _normalized_shape(who, tuple(input_shape)[1:])
            if self._declared_shape is None:
                self._called_shape = input_shape
        if not self._layers:
            raise ValueError(f"{who}: the model has no layers; call model.add(layer) first")
        self._build_chain(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        if not self._layers:
            return tuple(input_shape)
        shape = _normalized_shape(f"Sequential '{self.name}'", tuple(input_shape)[1:])
        self._build_chain(shape)
        return self._output_shapes(shape)[-1]

    def _check_input_shape(self, who, shape):
        declared = self._declared_shape
        if declared is not None and (len(shape) != len(declared) or any(
                d is not None and d != g for d, g in zip(declared[1:], shape[1:]))):
            raise ValueError(f"{who}: expected x of shape {_shape_text(declared)} (the input_shape "
                             f"of Sequential '{self.name}'), got x of shape {_shape_text(shape)}")

    def _summary_output_shapes(self):
        shape = self._input_shape()
        if shape is None or not all(layer.built for layer in self._layers):
            return super()._summary_output_shapes()
        try:
            return self._output_shapes(shape)
        except Exception:  # noqa: BLE001 - the summary falls back to what the layers saw
            return super()._summary_output_shapes()

    # --- calling ------------------------------------------------------------------------------

    def call(self, inputs, training=False):
        if not self._layers:
            raise ValueError(f"Sequential '{self.name}' has no layers; call model.add(layer) "
                             "first")
        declared = self._declared_shape
        if declared is not None and isinstance(inputs, Tensor):
            got = tuple(inputs.shape)
            if len(got) != len(declared) or any(
                    d is not None and d != g for d, g in zip(declared[1:], got[1:])):
                raise ValueError(f"Sequential '{self.name}': expected inputs of shape "
                                 f"{_shape_text(declared)}, got {_shape_text(got)}")
        x = inputs
        for layer in self._layers:
            x = layer(x, training=training)
        if self._input_shape() is None and isinstance(inputs, Tensor):
            self._called_shape = (None,) + tuple(inputs.shape[1:])
        return x

    def get_config(self):
        return {**super().get_config(),
                "input_shape": (None if self._declared_shape is None
                                else list(self._declared_shape[1:])),
                "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()}
                           for layer in self._layers]}

    def _config_for_saving(self):
        return {**self.get_config(), "layers": self.layers}

    def get_build_config(self):
        shape = self._input_shape()
        return None if shape is None else {"input_shape": list(shape), "input_dtype": self.dtype}

    def build_from_config(self, config):
        if not self.built:
            self.build(tuple(config["input_shape"]))

    @classmethod
    def from_config(cls, config):
        """A new Sequential from ``get_config()``'s dict, each layer made by its class's
        from_config (fastnn.layers classes only), or given as a layer itself (as
        fastnn.saving gives custom layers)."""
        from . import layers as _layers

        config = dict(config)
        made = []
        for spec in config.pop("layers", []):
            if isinstance(spec, Layer):
                made.append(spec)
                continue
            kind = getattr(_layers, spec["class_name"], None)
            if not (isinstance(kind, type) and issubclass(kind, Layer)):
                raise ValueError(f"Sequential.from_config: expected layers of fastnn.layers, "
                                 f"got class {spec['class_name']!r}")
            made.append(kind.from_config(spec["config"]))
        return cls(made, **config)

    def __repr__(self):
        return f"<Sequential name={self.name!r} layers={len(self._layers)} built={self.built}>"


def _shape_text(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (
        ",)" if len(shape) == 1 else ")")


__all__ = ["Sequential"]
