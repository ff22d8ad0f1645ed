"""Keras's functional API: ``keras.Model(inputs, outputs)`` over a graph of layer calls.

    a = keras.Input(shape=(4,), name="a"); b = keras.Input(shape=(3,), name="b")
    shared = layers.Dense(8, activation="relu")
    h = layers.concatenate([shared(layers.Dense(8)(a)), shared(layers.Dense(8)(b))])
    model = keras.Model([a, b], [layers.Dense(3, name="cls")(h), layers.Dense(1, name="reg")(h)])

Calling a layer on KerasTensors records a node (symbolic.py); the model keeps the nodes its
outputs depend on, in the order they were made (a topological order), and its ``call``
replays them on real tensors: each layer is the same object wherever it is called, so a
layer called twice shares its weights, and a model called on KerasTensors is a layer of
the graph (nested models). ``layers`` lists the InputLayers first, then every layer once, in
the order of its first call. The weights are keyed by position in ``layers``
("2.kernel"), as a Sequential's are, so state moves between two models built alike.

Several inputs and outputs train with fit/evaluate/predict (structured.py): x as a list
in the order of ``inputs`` or a dict by input name, y as a list or a dict by output name;
compile takes a loss and metrics per output (a list or a dict by output name) and
``loss_weights``.
"""

from __future__ import annotations

import numpy as np

from . import _C
from . import symbolic as _symbolic
from .models import Model
from .snapshot import snapshot
from .summary import _shape_str
from .symbolic import KerasTensor, flatten, map_structure
from .tensor import Tensor, numeric_array


def _structure(who, arg, value):
    """inputs/outputs as given: a KerasTensor, a list/tuple of them, or a dict of them by
    name (string keys)."""
    if isinstance(value, KerasTensor):
        return value
    if isinstance(value, (list, tuple)) and value:
        items = list(value)
    elif isinstance(value, dict) and value:
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"{who}: the keys of {arg} as a dict must be strings, got "
                            f"{list(value)}")
        items = list(value.values())
    else:
        raise TypeError(f"{who}: expected {arg} to be a KerasTensor (from keras.Input or a "
                        "layer called on one), or a non-empty list or dict of them, got "
                        f"{_describe(value)}")
    for i, item in enumerate(items):
        if not isinstance(item, KerasTensor):
            raise TypeError(f"{who}: expected {arg} to hold KerasTensors (from keras.Input or "
                            f"a layer called on one), got {_describe(item)} at position {i}")
    return dict(value) if isinstance(value, dict) else list(value)


def _describe(value):
    if isinstance(value, (Tensor, np.ndarray)):
        return (f"a {type(value).__name__} of shape {tuple(value.shape)} (real data: the "
                "functional API needs keras.Input placeholders)")
    return f"a {type(value).__name__}" if not isinstance(value, (list, dict)) else (
        f"an empty {type(value).__name__}" if not value else type(value).__name__)


def _paths(structure):
    """(path text, tensor) per leaf: '' for one tensor, '[1]' in a list, "['cls']" in a dict."""
    if isinstance(structure, dict):
        return [(f"[{k!r}]", v) for k, v in structure.items()]
    if isinstance(structure, list):
        return [(f"[{i}]", v) for i, v in enumerate(structure)]
    return [("", structure)]


def _unique(names):
    seen, out = {}, []
    for name in names:
        n = seen.get(name, 0)
        seen[name] = n + 1
        out.append(name if n == 0 else f"{name}_{n}")
    return out


def _keras_layer_order(inputs, outputs):
    """The layers in Keras's order (keras/src/ops/function.py, map_graph): by depth from the
    outputs, deepest first (the InputLayers), and within a depth in the order a walk back
    from the outputs first meets them. So ``model.weights`` and ``get_weights()`` list the
    weights as Keras does for the same graph."""
    input_ids = {id(t) for t in inputs}
    finished, order, indices = set(), [], {}

    def visit(tensor):
        node = tensor._node
        if node.id in finished:
            return
        indices.setdefault(id(node.layer), (len(indices), node.layer))
        if not node.is_input and id(tensor) not in input_ids:
            for t in node.inbound:
                visit(t)
        finished.add(node.id)
        order.append(node)

    for t in outputs:
        visit(t)
    node_depth, layer_depth = {}, {}
    for node in reversed(order):
        depth = max(node_depth.setdefault(node.id, 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = depth
        node_depth[node.id] = depth
        if node.is_input:
            continue
        for t in node.inbound:
            node_depth[t._node.id] = max(depth + 1, node_depth.get(t._node.id, 0))
    for t in inputs:  # inputs no output depends on
        if id(t._node.layer) not in layer_depth:
            layer_depth[id(t._node.layer)] = 0
            indices[id(t._node.layer)] = (-1, t._node.layer)
    keys = sorted(indices, key=lambda k: (-layer_depth[k], indices[k][0]))
    return [indices[k][1] for k in keys]


class Functional(Model):
    """A model made by ``keras.Model(inputs, outputs)`` (see the module docstring)."""

    _graph = True

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        who = f"Model '{name}'" if name else "Model"
        in_struct = _structure(who, "inputs", inputs)
        out_struct = _structure(who, "outputs", outputs)
        in_flat, out_flat = flatten(in_struct), flatten(out_struct)
        for path, t in _paths(in_struct):
            if not t._node.is_input:
                raise ValueError(f"{who}: inputs{path} must be a keras.Input, got {t!r}, the "
                                 f"output of layer '{t._node.layer.name}'")
        if len({id(t) for t in in_flat}) != len(in_flat):
            raise ValueError(f"{who}: the same keras.Input is given twice in inputs")
        nodes = self._graph(who, in_struct, out_struct)
        dtype = next((t.dtype for t in out_flat if t.dtype in ("float32", "float64")),
                     "float32")
        Model.__init__(self, name=name, trainable=trainable, dtype=dtype, **kwargs)
        self._input_struct, self._output_struct = in_struct, out_struct
        self._input_tensors, self._output_tensors = in_flat, out_flat
        self._nodes = nodes
        self._layers = _keras_layer_order(in_flat, out_flat)
        self._input_names = (list(in_struct) if isinstance(in_struct, dict)
                             else [t._node.layer.name for t in in_flat])
        self._output_names = (list(out_struct) if isinstance(out_struct, dict)
                              else _unique([t._node.layer.name for t in out_flat]))
        # Inputs whose values are ids (an int Input, or one only Embeddings read): integer
        # arrays stay integers through fit, as for a Sequential that starts with one.
        self._ids = []
        for t in in_flat:
            readers = [n.layer for n in nodes if any(x is t for x in n.inbound)]
            self._ids.append(t.dtype.startswith("int") or (
                bool(readers) and all(layer._takes_ids() for layer in readers)))
        self._program = [(n.layer, n.args, n.kwargs, n.training, [id(o) for o in n.outputs])
                         for n in nodes]
        # Several inputs or outputs, or named ones (dicts), train through structured.py.
        self._structured = not (isinstance(in_struct, KerasTensor) or len(in_flat) == 1
                                and isinstance(in_struct, list)) or not (
            isinstance(out_struct, KerasTensor) or len(out_flat) == 1
            and isinstance(out_struct, list))
        self._built = True

    @staticmethod
    def _graph(who, in_struct, out_struct):
        """The nodes between the inputs and the outputs, in creation order; a ValueError
        for an output that depends on a keras.Input not among the inputs."""
        inputs = {id(t) for t in flatten(in_struct)}
        needed = {}
        for path, t in _paths(out_struct):
            stack, seen = [t], set()
            while stack:
                current = stack.pop()
                if id(current) in inputs or id(current) in seen:
                    continue
                seen.add(id(current))
                node = current._node
                if node.is_input:
                    names = [x._node.layer.name for x in flatten(in_struct)]
                    raise ValueError(
                        f"{who}: outputs{path} ({t!r}) is not connected to the inputs: it "
                        f"depends on keras.Input '{node.layer.name}', which is not among the "
                        f"model's inputs {names}; add it to inputs")
                needed[node.id] = node
                stack.extend(node.inbound)
        return [needed[k] for k in sorted(needed)]

    # --- what the model is --------------------------------------------------------------------

    @property
    def layers(self):
        return list(self._layers)

    def _path_of(self, attribute):
        # Layers are keyed by position in ``layers``, as a Sequential's: '2.kernel'.
        return "" if attribute == "_layers" else attribute

    @property
    def inputs(self):
        return list(self._input_tensors)

    @property
    def outputs(self):
        return list(self._output_tensors)

    @property
    def input(self):
        return self._input_struct

    @property
    def output(self):
        return self._output_struct

    @property
    def input_names(self):
        return list(self._input_names)

    @property
    def output_names(self):
        return list(self._output_names)

    @property
    def input_shape(self):
        shapes = [t.shape for t in self._input_tensors]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self._output_tensors]
        return shapes[0] if len(shapes) == 1 else shapes

    def _takes_ids(self):
        return len(self._ids) == 1 and self._ids[0]

    def build(self, input_shape=None):
        """A functional model is built when it is made."""

    def compute_output_shape(self, input_shape):
        shapes = [t.shape for t in self._output_tensors]
        return shapes[0] if len(shapes) == 1 else shapes

    # --- calling -------------------------------------------------------------------------------

    def __call__(self, inputs, training=None, **kwargs):
        if _symbolic.is_symbolic(inputs, kwargs):  # a nested model: one node of a graph
            return _symbolic.call(self, inputs, training, kwargs)
        kwargs.pop("mask", None)
        if kwargs:
            raise TypeError(f"Model '{self.name}': unexpected keyword argument(s) "
                            f"{', '.join(sorted(kwargs))}")
        return self.call(inputs, training=self.training if training is None else training)

    def call(self, inputs, training=False):
        values = {id(t): v for t, v in zip(self._input_tensors, self._bind(inputs))}

        def value(x):
            return values[id(x)] if type(x) is KerasTensor else x

        for layer, args, kwargs, node_training, out_ids in self._program:
            if kwargs:
                kwargs = {k: map_structure(value, v) for k, v in kwargs.items()}
            out = layer(map_structure(value, args),
                        training=training if node_training is None else node_training, **kwargs)
            if len(out_ids) == 1 and isinstance(out, Tensor):
                values[out_ids[0]] = out
            else:
                for key, v in zip(out_ids, flatten(out)):
                    values[key] = v
        return map_structure(value, self._output_struct)

    def _bind(self, inputs):
        """The call's inputs as tensors, in the order of ``inputs``, each checked against its
        keras.Input (rank, known sizes, dtype)."""
        who = f"Model '{self.name}'"
        names, count = self._input_names, len(self._input_tensors)
        if isinstance(inputs, dict):
            missing = [k for k in names if k not in inputs]
            unknown = [k for k in inputs if k not in names]
            if missing or unknown:
                raise ValueError(f"{who}: expected inputs by name {names}, got the keys "
                                 f"{list(inputs)} (missing {missing}, unknown {unknown})")
            given = [inputs[k] for k in names]
        elif isinstance(inputs, (list, tuple)) and (count > 1 or (
                len(inputs) == 1 and isinstance(inputs[0], (Tensor, np.ndarray)))):
            if len(inputs) != count:
                raise ValueError(f"{who}: expected {count} input(s) {names}, got a "
                                 f"{type(inputs).__name__} of {len(inputs)}")
            given = list(inputs)
        else:
            if count != 1:
                raise ValueError(f"{who}: expected {count} inputs {names} (a list in that "
                                 f"order or a dict by name), got one {type(inputs).__name__}")
            given = [inputs]
        return [self._input_value(who, i, v) for i, v in enumerate(given)]

    def _input_value(self, who, i, value):
        t = self._input_tensors[i]
        name = self._input_names[i]
        if isinstance(value, Tensor):
            if (value.dtype in ("float32", "float64") and t.dtype in ("float32", "float64")
                    and value.dtype != t.dtype):
                raise TypeError(f"{who}: input '{name}' expects {t.dtype}, got a {value.dtype} "
                                "tensor")
            out = value
        else:
            array = numeric_array(value, who, f"input '{name}'")
            if self._ids[i] and array.dtype.kind in "iub":
                from .functional import ids_tensor

                out = ids_tensor(array, who)
            else:
                dtype = t.dtype if t.dtype.startswith("float") else self.dtype
                out = (snapshot(array, dtype) if _C.is_grad_enabled()
                       else _C.from_numpy(array, dtype))
        shape = tuple(out.shape)
        if len(shape) != len(t.shape) or any(
                d is not None and d != s for d, s in zip(t.shape[1:], shape[1:])):
            raise ValueError(f"{who}: input '{name}' expects shape {_shape_str(t.shape)}, got "
                             f"{_shape_str(shape)}")
        return out

    # --- summary --------------------------------------------------------------------------------

    def _summary_output_shapes(self):
        out = []
        for layer in self._layers:
            node = self._first_node(layer)
            shapes = [o.shape for o in node.outputs] if node is not None else []
            out.append(_shape_str(shapes[0]) if len(shapes) == 1
                       else "[" + ", ".join(_shape_str(s) for s in shapes) + "]")
        return out

    def _first_node(self, layer):
        if getattr(layer, "_is_input_layer", False):
            return layer.output._node
        return next((n for n in self._nodes if n.layer is layer), None)

    def _summary_connections(self):
        cells = []
        for layer in self._layers:
            sources = [f"{t._node.layer.name}[{t._node.layer_node_index}][{t._index}]"
                       for n in self._nodes if n.layer is layer for t in n.inbound]
            cells.append(", ".join(sources) if sources else "-")
        return cells

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Keras's table with the "Connected to" column: layer[node][tensor] of each input."""
        super().summary(line_length, positions, print_fn, expand_nested, show_trainable,
                        layer_range)

    # --- saving (fastnn/saving.py) -------------------------------------------------------------

    def _graph_config(self, layer_entry):
        """The graph as JSON-ready data: the layers (``layer_entry(layer)``), then each node
        as (layer index, arguments, keyword arguments, training) with every KerasTensor a
        reference: {"keras_tensor": True, "input": layer index} for a keras.Input,
        {"keras_tensor": True, "node": k, "index": i} for output i of node k."""
        index = {id(layer): i for i, layer in enumerate(self._layers)}
        made = {}
        for t in self._input_tensors:
            made[id(t)] = {"keras_tensor": True, "input": index[id(t._node.layer)]}
        for k, node in enumerate(self._nodes):
            for i, o in enumerate(node.outputs):
                made[id(o)] = {"keras_tensor": True, "node": k, "index": i}

        def ref(x):
            return made[id(x)] if isinstance(x, KerasTensor) else x

        nodes = [{"layer": index[id(n.layer)], "args": map_structure(ref, n.args),
                  "kwargs": {k: map_structure(ref, v) for k, v in n.kwargs.items()},
                  "training": n.training} for n in self._nodes]
        return {"layers": [layer_entry(layer) for layer in self._layers], "nodes": nodes,
                "inputs": map_structure(ref, self._input_struct),
                "outputs": map_structure(ref, self._output_struct)}

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                **self._graph_config(lambda layer: {"class_name": type(layer).__name__,
                                                    "config": layer.get_config()})}

    def _config_for_saving(self):
        return {"name": self.name, "trainable": self.trainable,
                **self._graph_config(lambda layer: layer)}

    def get_build_config(self):
        return None  # built when made

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The model rebuilt from get_config() (layers given as configs of fastnn.layers
        classes) or from a saved file (layers given as layer objects): the nodes are called
        again, in order, on new keras.Inputs."""
        from . import layers as _layers
        from .layers.base import Layer

        who = "Model.from_config"
        made = []
        for entry in config["layers"]:
            if isinstance(entry, Layer):
                made.append(entry)
                continue
            kind = (custom_objects or {}).get(entry["class_name"]) or getattr(
                _layers, entry["class_name"], None)
            if kind is None and entry["class_name"] in ("Functional", "Model"):
                kind = Functional
            if not (isinstance(kind, type) and issubclass(kind, Layer)):
                raise ValueError(f"{who}: expected layers of fastnn.layers, got class "
                                 f"{entry['class_name']!r}")
            made.append(kind.from_config(entry["config"]))
        outputs = []

        def resolve(value):
            if isinstance(value, dict) and value.get("keras_tensor") is True:
                if "input" in value:
                    layer = made[value["input"]]
                    if not getattr(layer, "_is_input_layer", False):
                        raise ValueError(f"{who}: the config's input reference {value} is not "
                                         "an InputLayer")
                    return layer.output
                return outputs[value["node"]][value["index"]]
            if isinstance(value, list):
                return [resolve(v) for v in value]
            if isinstance(value, tuple):
                return tuple(resolve(v) for v in value)
            if isinstance(value, dict):
                return {k: resolve(v) for k, v in value.items()}
            return value

        for spec in config["nodes"]:
            layer = made[spec["layer"]]
            out = layer(resolve(spec["args"]), training=spec.get("training"),
                        **resolve(spec.get("kwargs") or {}))
            outputs.append(flatten(out))
        return cls(resolve(config["inputs"]), resolve(config["outputs"]),
                   name=config.get("name"), trainable=config.get("trainable", True))

    def __repr__(self):
        return (f"<Functional name={self.name!r} inputs={self._input_names} "
                f"outputs={self._output_names} layers={len(self._layers)}>")


__all__ = ["Functional"]


Model._functional = Functional  # what Model(inputs, outputs) makes
