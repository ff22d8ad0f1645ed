"""Symbolic tensors for Keras's functional API: ``keras.Input`` gives a KerasTensor, and a
layer (or model) called on KerasTensors records a :class:`Node` instead of computing, and
returns new KerasTensors. ``keras.Model(inputs, outputs)`` (functional_model.py) walks the
recorded nodes back from its outputs and replays them on real tensors.

A symbolic call still runs the layer once, on zeros with a batch of one and training=False
(under no_grad), as Keras traces ``compute_output_spec``: that builds the layer's weights
(so ``set_weights`` and ``summary`` work at once), checks the call (a shape mismatch fails
at the line that made the graph) and gives the output shapes, dtypes and masks. An axis
given as None (a sequence's length) is tried at two sizes, ``PROBES``; an output axis that
follows it is None too. Nothing here draws random numbers (dropout is off at
training=False), so building a graph moves fastnn's generator exactly as creating the
layers' weights does.
"""

from __future__ import annotations

import itertools

import numpy as np

from . import _C

# Stand-in lengths for axes given as None other than the batch axis: two sizes that stay
# apart under the usual strides and poolings, so an output axis that depends on them is seen
# to change (and becomes None), and large enough for a few valid convolutions and poolings.
PROBES = (32, 48)

_node_ids = itertools.count()


class KerasTensor:
    """A symbolic tensor: the shape (batch axis None), dtype and origin of a value a
    functional model will compute. It holds no values; arithmetic with ``+ - * /`` records
    an operation like a layer call (Keras 3's ops on KerasTensors)."""

    __slots__ = ("shape", "dtype", "name", "_node", "_index", "_masks", "__weakref__")

    def __init__(self, shape, dtype, node=None, index=0, masks=(None,), name=None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.name = name
        self._node = node
        self._index = index
        # One example mask per probe run (None: the tensor has no mask), so the layers after
        # a masking layer see the mask during their own symbolic call.
        self._masks = tuple(masks)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def _keras_history(self):
        """(layer, node index within the layer, tensor index), as Keras names it."""
        node = self._node
        return node.layer, node.layer_node_index, self._index

    def _example(self, run):
        """Zeros standing for this tensor in probe run ``run`` (batch 1, None axes at the
        run's probe size), carrying the run's example mask."""
        shape = [1] + [PROBES[run] if d is None else int(d) for d in self.shape[1:]]
        t = _C.from_numpy(np.zeros(shape, dtype=self.dtype), self.dtype)
        mask = self._masks[min(run, len(self._masks) - 1)]
        if mask is not None:
            t._keras_mask = mask
        return t

    def __repr__(self):
        shape = "(" + ", ".join("None" if d is None else str(d) for d in self.shape) + (
            ",)" if len(self.shape) == 1 else ")")
        return f"<KerasTensor shape={shape}, dtype={self.dtype}, name={self.name}>"

    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"{self!r} is symbolic (a placeholder of keras.Input's functional "
                        "API): it has no values. Build a model with keras.Model(inputs, "
                        "outputs) and call it, or its predict, on data")

    def __bool__(self):
        raise TypeError(f"{self!r} is symbolic: it has no truth value (Python branching on a "
                        "functional-API tensor cannot be recorded; subclass keras.Model "
                        "and write call instead)")

    # --- operations recorded as nodes -----------------------------------------------------

    def _op(self, name, function, other=None, reverse=False):
        layer = operation_layer  # Lambda (layers/lambda_layer.py sets it as it loads)
        if other is None:
            return layer(function, name)(self)
        if isinstance(other, KerasTensor):
            pair = [other, self] if reverse else [self, other]
            return layer(lambda ab: function(ab[0], ab[1]), name)(pair)
        if reverse:
            return layer(lambda a: function(other, a), name)(self)
        return layer(lambda a: function(a, other), name)(self)

    def __add__(self, other):
        return self._op("add", lambda a, b: a + b, other)

    def __radd__(self, other):
        return self._op("add", lambda a, b: a + b, other, reverse=True)

    def __sub__(self, other):
        return self._op("subtract", lambda a, b: a - b, other)

    def __rsub__(self, other):
        return self._op("subtract", lambda a, b: a - b, other, reverse=True)

    def __mul__(self, other):
        return self._op("multiply", lambda a, b: a * b, other)

    def __rmul__(self, other):
        return self._op("multiply", lambda a, b: a * b, other, reverse=True)

    def __truediv__(self, other):
        return self._op("divide", lambda a, b: a / b, other)

    def __rtruediv__(self, other):
        return self._op("divide", lambda a, b: a / b, other, reverse=True)

    def __neg__(self):
        return self._op("negative", lambda a: -a)


# operation_layer(function, name) -> a layer computing function, named like Keras's op
# layers ("add", "add_1", ...); set by fastnn.layers.lambda_layer, which this module's
# callers always load first (fastnn.layers imports it).
operation_layer = None


class Node:
    """One call of a layer on KerasTensors: what it was called with (``args``: the first
    argument's structure; ``kwargs``), an explicit ``training`` or None, and the
    KerasTensors it made (``outputs``, flat; ``structure`` rebuilds the call's result)."""

    __slots__ = ("id", "layer", "args", "kwargs", "training", "outputs", "structure",
                 "inbound", "layer_node_index")

    def __init__(self, layer, args, kwargs, training):
        self.id = next(_node_ids)  # creation order: a topological order of any graph
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.training = training
        self.outputs = []
        self.structure = None
        self.inbound = [t for t in flatten((args, kwargs)) if isinstance(t, KerasTensor)]
        nodes = layer.__dict__.setdefault("_inbound_nodes", [])
        self.layer_node_index = len(nodes)
        nodes.append(self)

    @property
    def is_input(self):
        return not self.inbound and getattr(self.layer, "_is_input_layer", False)


# --- structures (a call's arguments and results: tensors in lists, tuples and dicts) -------

def flatten(structure):
    """The leaves of nested lists, tuples and dicts (dict values in insertion order)."""
    if isinstance(structure, (list, tuple)):
        out = []
        for item in structure:
            out.extend(flatten(item))
        return out
    if isinstance(structure, dict):
        out = []
        for item in structure.values():
            out.extend(flatten(item))
        return out
    return [structure]


def map_structure(function, structure):
    """The structure rebuilt with ``function`` applied to each leaf."""
    if isinstance(structure, list):
        return [map_structure(function, item) for item in structure]
    if isinstance(structure, tuple):
        return tuple(map_structure(function, item) for item in structure)
    if isinstance(structure, dict):
        return {key: map_structure(function, item) for key, item in structure.items()}
    return function(structure)


def _has_symbolic(value):
    if type(value) is KerasTensor:
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_symbolic(v) for v in value)
    if isinstance(value, dict):
        return any(_has_symbolic(v) for v in value.values())
    return False


def is_symbolic(inputs, kwargs):
    """Whether a layer call gets KerasTensors (in its input or keyword arguments). Cheap for
    the eager case: a tensor input and no keyword arguments."""
    if type(inputs) is KerasTensor:
        return True
    if isinstance(inputs, (list, tuple, dict)) and _has_symbolic(inputs):
        return True
    return bool(kwargs) and any(_has_symbolic(v) for v in kwargs.values())


def _shape_text(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (
        ",)" if len(shape) == 1 else ")")


def call(layer, inputs, training, kwargs):
    """``layer(inputs, training=training, **kwargs)`` with KerasTensors among the arguments:
    records a Node and returns the output KerasTensors, in the structure the layer returns."""
    from .tensor import Tensor, no_grad

    who = f"{type(layer).__name__} '{layer.name}'"
    if training is not None and not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"{who}: expected training to be True, False or None in a functional "
                        f"graph, got {type(training).__name__}")
    symbols = [t for t in flatten((inputs, kwargs)) if isinstance(t, KerasTensor)]
    runs = max(len(t._masks) for t in symbols)
    results = []
    saved = (layer._last_input, layer._last_training)
    try:
        for run in range(runs):
            def example(value, run=run):
                return value._example(run) if isinstance(value, KerasTensor) else value

            args = map_structure(example, inputs)
            keywords = {k: map_structure(example, v) for k, v in kwargs.items()}
            with no_grad():
                try:
                    results.append(layer(args, training=False, **keywords))
                except Exception as e:  # noqa: BLE001 - re-raised with the graph's shapes
                    shapes = ", ".join(_shape_text(t.shape) for t in symbols)
                    raise _with_context(e, f"{who}: calling it on the functional-API inputs "
                                           f"of shape {shapes} failed: {e}") from e
    finally:
        layer._last_input, layer._last_training = saved
    flat_runs = [flatten(r) for r in results]
    for value in flat_runs[0]:
        if not isinstance(value, Tensor):
            raise TypeError(f"{who}: a layer in a functional graph must return tensors (or "
                            f"lists or dicts of them), got {type(value).__name__}")
    node = Node(layer, inputs, dict(kwargs), None if training is None else bool(training))
    outputs = []
    for index, values in enumerate(zip(*flat_runs)):
        first = values[0]
        shape = [None] + [d if all(v.shape[i] == d for v in values) else None
                          for i, d in enumerate(tuple(first.shape)) if i > 0]
        masks = tuple(getattr(v, "_keras_mask", None) for v in values)
        if all(m is None for m in masks):
            masks = (None,) * len(values)
        name = layer.name if len(flat_runs[0]) == 1 else f"{layer.name}_{index}"
        outputs.append(KerasTensor(shape, first.dtype, node, index, masks, name))
    node.outputs = outputs
    node.structure = results[0]
    leaves = iter(outputs)
    return map_structure(lambda _: next(leaves), results[0])


def _with_context(error, message):
    """``error``'s type with ``message`` (the original when that type takes no message)."""
    try:
        return type(error)(message)
    except Exception:  # noqa: BLE001 - an exception class with another signature
        return error


__all__ = ["KerasTensor", "Node", "PROBES", "flatten", "map_structure", "is_symbolic", "call"]
