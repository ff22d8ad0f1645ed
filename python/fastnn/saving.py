"""Saving and loading models in the safetensors format (no pickle anywhere).

    model.save("model.fastnn")                 # architecture, weights, compile state
    model = fn.load_model("model.fastnn")      # predicts identically; fit continues
    model.save_weights("model.safetensors")    # weights alone
    model.load_weights("model.safetensors")    # into a model you built, in place

    @fn.saving.register_serializable()         # custom layers and subclassed models
    class Net(fn.Model): ...

Every file is a plain safetensors file (any safetensors reader opens it). Files are written
to a temporary file in the same directory and renamed over the target (``os.replace``), so
a failure or an interrupt while saving leaves the previous file as it was. Suffixes are a
convention only: ``.fastnn`` for whole models, ``.safetensors`` for weights alone (Keras 3
uses ``.keras`` and ``.weights.h5``); any path is accepted.

File layout
-----------
Tensors of a model file (``model.save``):

* ``weights/<key>``: each weight by its ``state_dict()`` key ("0.kernel", "d1.bias", ...);
* ``optimizer/<i>/<slot>``: the optimizer's state of its parameter ``i`` ("exp_avg", ...);
* ``generator/<layer path>``: the int64 {seed, offset} generator of a layer that has its own
  (``Dropout(seed=...)``, an RNN's ``dropout`` with ``seed=``).

A weights file (``save_weights``) holds each weight under its bare ``state_dict()`` key.

The safetensors metadata (strings) holds ``"format": "fastnn"``, ``"fastnn"``: a JSON
document, and ``"fastnn_sha256"``: the hex SHA-256 of the document's UTF-8 bytes followed,
for each tensor in sorted-name order, by ``f"{name}\\0{dtype}\\0{json.dumps(list(shape))}\\0"``
(UTF-8; dtype as numpy names it, "float32"; the shape as "[7, 16]") and the tensor's
little-endian C-order bytes. The document::

    {"format_version": 1, "kind": "model" | "weights", "fastnn_version": "0.1.0",
     "weights": [state_dict keys, in the model's order],
     "model": the model as a "layer" object (below),      # model files; weights files
                                                         # name the class: "model_class"
     "build": {"input_shape": [null, ...], "input_dtype": "float32"} | null,
     "compile": {"optimizer": {"api": "keras" | "torch", "class", "config"},
                 "loss", "metrics", "capture"} | null,
     "compile_skipped": why compile is null although the model was compiled (if so),
     "optimizer_state": {"params": [state_dict key of parameter i], "steps": [...],
                         "iterations": int | null} | null,
     "generators": [layer paths]}

Objects inside configs (regularizers, custom activations, schedules, nested layers) are
JSON objects tagged ``"__fastnn__"``: ``"layer"``/``"object"`` (class name, registered
name, module, config), ``"type"`` (a class), ``"function"`` (a name) and ``"tuple"``. A
loaded file never names code to import: classes and functions come from fastnn's own
(already imported) modules, from the registry (``register_serializable``) or from
``custom_objects``.

Resuming training
-----------------
A loaded model continues training exactly where the saved one stopped — same weights,
optimizer moments, step counts, ``iterations`` and learning rate, layers' own generators —
provided the same random numbers come next. Shuffling in ``fit`` and dropout without
``seed=`` draw from fastnn's global generator, which is the program's, not the model's
(as in PyTorch and Keras, a checkpoint leaves it alone). ``load_model`` itself draws
nothing from it (weights it rebuilds start as zeros, then are read from the file), so:

* in the same process, continuing after ``load_model`` draws what the saved model would
  have drawn next: the N + M epochs match a straight run bit for bit;
* in a new process, keep ``fn.get_rng_state()`` from the moment of saving and give it to
  ``fn.set_rng_state`` after loading (or call ``fn.manual_seed(s)`` at that point in both
  runs) to get the same numbers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import numbers
import os
import secrets
import stat
import warnings

import numpy as np

from .serialization import (_TAG, _Decoder, _Unsaveable, _encode, _is_model,
                            _layer_spec, _typed, get_custom_objects, get_registered_name,
                            get_registered_object, register_keras_serializable,
                            register_serializable)
from .tensor import host_copy, to_host, write_host

FORMAT_VERSION = 1

# --- what a model holds ----------------------------------------------------------------------

def _weights(model, who):
    """{key: array} in the model's order: views of the weights (read before anything else
    runs), so saving does not hold a second copy of the model."""
    try:
        pairs = model._keyed_weights(who)
    except ValueError as e:
        raise ValueError(f"{who}: {e}") from None
    return {key: np.asarray(to_host(w), order="C") for key, w in pairs}  # (0-d stays 0-d)


def _layer_paths(model):
    """(path, layer) for every layer inside ``model`` (not the model itself): attribute
    paths as in state_dict keys."""
    from .layers.base import Layer

    out, seen = [], {id(model)}

    def children(layer):
        if _is_model(layer):
            return [(p, v) for p, v in layer._named_tracked() if isinstance(v, Layer)]
        found = []
        for attr, value in vars(layer).items():
            if attr.startswith("_"):
                continue
            if isinstance(value, Layer):
                found.append((attr, value))
            elif isinstance(value, (list, tuple)):
                found += [(f"{attr}.{i}", v) for i, v in enumerate(value) if isinstance(v, Layer)]
        return found

    def walk(layer, prefix):
        for path, child in children(layer):
            if id(child) in seen:
                continue
            seen.add(id(child))
            full = f"{prefix}{path}"
            out.append((full, child))
            walk(child, full + ".")

    walk(model, "")
    return out


def _own_generator(layer):
    """A layer's own {seed, offset} generator tensor (Dropout(seed=...), an RNN's dropout
    with seed=), or None when it draws from the global generator."""
    from .tensor import Tensor

    for attribute in ("_generator", "_dropout_generator"):
        g = vars(layer).get(attribute)
        if isinstance(g, Tensor):
            return g
    return None


def _build(model, build, who):
    """Builds an unbuilt model for the input its file records (``build_from_config``)."""
    if build is None or model.built:
        return
    shape = build.get("input_shape") if isinstance(build, dict) else None
    dtype = build.get("input_dtype", "float32") if isinstance(build, dict) else None
    if not isinstance(shape, list) or not all(d is None or isinstance(d, int) for d in shape) \
            or not isinstance(dtype, str):
        raise ValueError(f"{who}: the file's build entry is damaged: {build!r}")
    try:
        model.build_from_config(build)
    except Exception as e:  # noqa: BLE001 - reported with its cause
        raise ValueError(f"{who}: could not build {type(model).__name__} '{model.name}' for the "
                         f"saved input shape {tuple(shape)} ({dtype}): {type(e).__name__}: "
                         f"{e}") from e


# --- compile settings ------------------------------------------------------------------------

def _compile_spec(model):
    """(spec, None) or (None, why it cannot be saved)."""
    from . import optim, optimizers

    if not getattr(model, "_compiled", False):
        return None, None
    args = getattr(model, "_compile_args", {})
    opt = model.optimizer
    try:
        if isinstance(opt, optimizers.Optimizer):
            config = opt.get_config()
            config["learning_rate"] = opt._learning_rate  # a number or a schedule object
            optimizer = {"api": "keras", "class": _encode(type(opt), "the optimizer's class"),
                         "config": _encode(config, "the optimizer's config")}
        elif isinstance(opt, optim.Optimizer):
            if len(opt.param_groups) > 1:
                raise _Unsaveable(f"the optimizer has {len(opt.param_groups)} parameter groups "
                                  "(a saved compile state holds one); save "
                                  "optimizer.state_dict() beside the model instead")
            group = {k: v for k, v in opt.param_groups[0].items() if k != "params"}
            if isinstance(opt, optim.Adagrad):
                group["initial_accumulator_value"] = opt._initial_accumulator_value
            optimizer = {"api": "torch", "class": _encode(type(opt), "the optimizer's class"),
                         "config": _encode(group, "the optimizer's hyperparameters")}
        else:
            raise _Unsaveable(f"the optimizer is a {type(opt).__name__}")
        spec = {"optimizer": optimizer, "loss": _encode(args.get("loss"), "the loss"),
                "metrics": [_encode(m, f"metrics[{i}]")
                            for i, m in enumerate(args.get("metrics", []))],
                "capture": bool(args.get("capture", True))}
        # A model with several outputs: the weight of each output's loss.
        if args.get("loss_weights") is not None:
            spec["loss_weights"] = _encode(args["loss_weights"], "loss_weights")
        if args.get("weighted_metrics"):
            spec["weighted_metrics"] = _encode(args["weighted_metrics"], "weighted_metrics")
    except _Unsaveable as e:
        return None, str(e)
    return spec, None


def _optimizer_tensors(model, who):
    """(metadata, {name: array}) of the compiled optimizer's state, or (None, {}) when it
    has none yet (never stepped)."""
    from . import optim, optimizers

    opt = model.optimizer
    inner = opt._optim if isinstance(opt, optimizers.Optimizer) else opt
    if not isinstance(inner, optim.Optimizer) or inner._native is None:
        return None, {}
    native = inner._native
    named = model._named_weights()
    keys = []
    for i, p in enumerate(native.params):
        key = next((k for k, w in named if p._same_storage(w)), None)
        if key is None:
            raise ValueError(f"{who}: the optimizer's parameter {i} ({p.name!r}) is not one of "
                             "the model's weights, so its state cannot be saved with the "
                             "model; pass include_optimizer=False")
        keys.append(key)
    tensors, steps = {}, []
    for i in range(len(native.params)):
        steps.append(int(native.steps(i)))
        for slot, t in native.state(i):
            tensors[f"optimizer/{i}/{slot}"] = np.ascontiguousarray(host_copy(t))
    iterations = opt.iterations if isinstance(opt, optimizers.Optimizer) else None
    return {"params": keys, "steps": steps, "iterations": iterations}, tensors


def _restore_compile(model, spec, state_meta, tensors, decode, who):
    from . import optim, optimizers

    opt_spec = _typed(who, spec, "optimizer", dict)
    api = opt_spec.get("api")
    cls = decode(opt_spec.get("class"))
    config = decode(_typed(who, opt_spec, "config", dict))
    loss = decode(spec.get("loss"))
    metrics = decode(_typed(who, spec, "metrics", list))
    capture = spec.get("capture", True)
    weights = dict(model._named_weights())
    keys = None
    if state_meta is not None:
        keys = _typed(who, state_meta, "params", list)
        if not all(isinstance(k, str) for k in keys):
            raise ValueError(f"{who}: the optimizer's parameter list is damaged: {keys!r}")
        missing = [k for k in keys if k not in weights]
        if missing:
            raise ValueError(f"{who}: the optimizer state names parameters the model does not "
                             f"have: {missing}")
    try:
        if api == "keras" and isinstance(cls, type) and issubclass(cls, optimizers.Optimizer):
            opt = cls.from_config(config)
        elif api == "torch" and isinstance(cls, type) and issubclass(cls, optim.Optimizer):
            params = [weights[k] for k in keys] if keys is not None else model.parameters()
            opt = cls(params, **config)
        else:
            raise ValueError(f"the optimizer entry {opt_spec!r} is not one fastnn writes")
        extra = {key: decode(spec[key]) for key in ("loss_weights", "weighted_metrics")
                 if key in spec}
        model.compile(optimizer=opt, loss=loss, metrics=metrics, capture=capture, **extra)
    except (TypeError, ValueError, NotImplementedError) as e:
        raise ValueError(f"{who}: could not restore the compile settings ({type(e).__name__}: "
                         f"{e}); load_model(path, compile=False) loads the model without "
                         "them") from e
    if state_meta is not None:
        _restore_optimizer_state(model, opt, keys, state_meta, tensors, who)


def _restore_optimizer_state(model, opt, keys, meta, tensors, who):
    from . import optimizers

    inner = opt._optim if isinstance(opt, optimizers.Optimizer) else opt
    native = inner._ensure_native()
    named = model._named_weights()
    mine = [next((k for k, w in named if p._same_storage(w)), None) for p in native.params]
    if mine != keys:
        raise ValueError(f"{who}: the saved optimizer updated the parameters {keys}, the "
                         f"restored one updates {mine}")
    steps = _typed(who, meta, "steps", list)
    if len(steps) != len(keys) or not all(isinstance(s, int) and s >= 0 for s in steps):
        raise ValueError(f"{who}: the optimizer's step counts are damaged: {steps!r}")
    state = {i: {"step": steps[i]} for i in range(len(keys))}
    for rest, value in tensors.items():  # "<i>/<slot>" of "optimizer/<i>/<slot>"
        name = f"optimizer/{rest}"
        index, _, slot = rest.partition("/")
        if not index.isdigit() or int(index) >= len(keys) or not slot:
            raise ValueError(f"{who}: the file holds the tensor {name!r} for an optimizer "
                             f"parameter it does not list")
        param = native.params[int(index)]
        if value.dtype != np.dtype(param.dtype):
            raise ValueError(f"{who}: expected the optimizer state {name!r} to be "
                             f"{param.dtype} like parameter {keys[int(index)]!r}, got "
                             f"{value.dtype}")
        state[int(index)][slot] = value
    saved = opt.state_dict()
    saved["state"] = state
    if isinstance(opt, optimizers.Optimizer):
        iterations = meta.get("iterations")
        if not isinstance(iterations, int) or isinstance(iterations, bool) or iterations < 0:
            raise ValueError(f"{who}: the optimizer's iterations are damaged: {iterations!r}")
        saved["iterations"] = iterations
    try:
        opt.load_state_dict(saved)
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{who}: the optimizer state in the file does not fit the restored "
                         f"{type(opt).__name__}: {e}") from e


# --- files: writing --------------------------------------------------------------------------

def _checksum(document, tensors):
    h = hashlib.sha256(document.encode("utf-8"))
    for name in sorted(tensors):
        a = np.asarray(tensors[name])
        h.update(f"{name}\0{a.dtype.name}\0{json.dumps(list(a.shape))}\0".encode("utf-8"))
        h.update(np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes())
    return h.hexdigest()


def _file_bytes(document, tensors):
    from safetensors.numpy import save

    text = json.dumps(document, separators=(",", ":"), allow_nan=True)
    metadata = {"format": "fastnn", "fastnn": text, "fastnn_sha256": _checksum(text, tensors)}
    return save(tensors, metadata=metadata)


def _write_atomically(path, data, overwrite, who):
    """Writes ``data`` to a new file next to ``path``, flushed to disk, then renames it over
    ``path``: a failure or interrupt at any point leaves ``path`` as it was and removes the
    temporary file."""
    path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"{who}: expected a str path, got {type(path).__name__}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{who}: '{path}' is a directory; expected a file path")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{who}: '{path}' exists and overwrite=False")
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            with contextlib.suppress(OSError):  # a replaced file keeps its permissions
                os.fchmod(f.fileno(), stat.S_IMODE(os.stat(path).st_mode))
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # the rename itself, on filesystems that allow it
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _version():
    from . import __version__

    return __version__


def save_model(model, filepath, overwrite=True, include_optimizer=True):
    """Saves ``model`` to ``filepath`` (see the module docstring for what a file holds):
    its architecture (get_config; a subclassed model or custom layer by its registered
    class name), every weight, and when compiled the compile settings and (with
    ``include_optimizer``) the optimizer's state. Compile settings that cannot be written
    (an unregistered loss object, a lambda) are left out with a warning; the model still
    saves. Nothing is written unless everything could be serialised."""
    who = "save"
    if not _is_model(model):
        raise TypeError(f"{who}: expected a fastnn Model (Sequential or a subclass of "
                        f"fn.Model), got {type(model).__name__}")
    if getattr(type(model), "_architecture_is_code", False):  # a fastnn.nn Module
        raise ValueError(f"{who}: a fastnn.nn Module's architecture is its Python code, as in "
                         "PyTorch: save its weights with model.save_weights(path) (or "
                         "state_dict()) and load them into a new instance with "
                         "load_weights(path) (or load_state_dict)")
    weights = _weights(model, who)
    try:
        spec = _layer_spec(model, "the model")
    except _Unsaveable as e:
        raise ValueError(f"{who}: cannot save the architecture: {e}") from None
    tensors = {f"weights/{k}": v for k, v in weights.items()}
    generators = []
    for path, layer in _layer_paths(model):
        g = _own_generator(layer)
        if g is not None:
            generators.append(path)
            tensors[f"generator/{path}"] = host_copy(g)
    compile_spec, skipped = _compile_spec(model)
    state_meta = None
    if compile_spec is not None and include_optimizer:
        state_meta, state = _optimizer_tensors(model, who)
        tensors.update(state)
    if skipped:
        warnings.warn(f"{who}: the model's compile settings are not saved because {skipped}; "
                      "load_model will return an uncompiled model", stacklevel=3)
    document = {"format_version": FORMAT_VERSION, "kind": "model",
                "fastnn_version": _version(), "weights": list(weights), "model": spec,
                "build": model.get_build_config(), "compile": compile_spec,
                "optimizer_state": state_meta, "generators": generators}
    if skipped:
        document["compile_skipped"] = skipped
    _write_atomically(filepath, _file_bytes(document, tensors), overwrite, who)


def save_weights(model, filepath, overwrite=True):
    """Saves the weights alone, each under its state_dict() key (a plain safetensors
    state dict, plus fastnn's metadata)."""
    who = "save_weights"
    weights = _weights(model, who)
    document = {"format_version": FORMAT_VERSION, "kind": "weights",
                "fastnn_version": _version(), "weights": list(weights),
                "model_class": type(model).__name__,
                "build": model.get_build_config() if _is_model(model) else None}
    _write_atomically(filepath, _file_bytes(document, weights), overwrite, who)


# --- files: reading --------------------------------------------------------------------------

def _read(filepath, who):
    """(metadata, tensors) of a safetensors file, every defect a ValueError."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    path = os.fspath(filepath)
    with open(path, "rb") as f:
        data = f.read()
    where = f"{who}: '{path}'"
    if len(data) < 8:
        raise ValueError(f"{where} is not a safetensors file: it holds {len(data)} bytes, fewer "
                         "than the 8 of a safetensors header length")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise ValueError(f"{where} is truncated or not a safetensors file: its first 8 bytes "
                         f"announce a header of {n} bytes, but {len(data) - 8} bytes follow")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{where} is damaged or not a safetensors file: its header is not "
                         f"valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{where} is damaged or not a safetensors file: its header is a JSON "
                         f"{type(header).__name__}, not an object")
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError(f"{where} is damaged: its __metadata__ is not a map of strings")
    try:
        tensors = load(data)
    except SafetensorError as e:
        raise ValueError(f"{where} is damaged or truncated: {e}") from None
    return metadata, tensors


def _document(metadata, tensors, filepath, who):
    """The fastnn document of a file fastnn wrote (checked against its checksum), or None
    for a safetensors file without fastnn metadata."""
    where = f"{who}: '{os.fspath(filepath)}'"
    if metadata.get("format") != "fastnn":
        if "fastnn" not in metadata and "fastnn_sha256" not in metadata:
            return None  # another program's file
        raise ValueError(f"{where} is damaged: its metadata holds fastnn entries, but its "
                         f"format entry is {metadata.get('format')!r}, not 'fastnn'")
    text = metadata.get("fastnn")
    if not isinstance(text, str) or metadata.get("fastnn_sha256") != _checksum(text, tensors):
        raise ValueError(f"{where} is damaged: its contents do not match the checksum fastnn "
                         "wrote with them (changed or truncated since)")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where} is damaged: its fastnn metadata is not valid JSON ({e})") \
            from None
    if not isinstance(document, dict):
        raise ValueError(f"{where} is damaged: its fastnn metadata is a JSON "
                         f"{type(document).__name__}, not an object")
    version = document.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{where} is damaged: its format_version is {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(f"{where} was written by a newer fastnn ({document.get('fastnn_version')},"
                         f" file format {version}); this one ({_version()}) reads format "
                         f"{FORMAT_VERSION}")
    keys = _typed(where, document, "weights", list)
    if not all(isinstance(k, str) for k in keys):
        raise ValueError(f"{where} is damaged: its weight list holds non-strings")
    return document


def _check_weights(model, arrays, where):
    """Every key, shape and dtype of ``arrays`` against the model's weights."""
    mine = dict(model._keyed_weights("load"))
    missing = [k for k in mine if k not in arrays]
    unexpected = [k for k in arrays if k not in mine]
    if missing or unexpected:
        hint = ("; the model is not built yet (layers without input_shape create their "
                "weights on the first call): call it on an input first"
                if not model.built and not mine else "")
        raise ValueError(f"{where}: the file's weights do not match the model's: missing keys "
                         f"{missing}, unexpected keys {unexpected}{hint}")
    for key, w in mine.items():
        value = arrays[key]
        if tuple(value.shape) != tuple(w.shape):
            raise ValueError(f"{where}: expected {key!r} of shape {tuple(w.shape)} (the "
                             f"model's), the file has {tuple(value.shape)}")
        if value.dtype != np.dtype(w.dtype):
            raise ValueError(f"{where}: expected {key!r} of dtype {w.dtype} (the model's), "
                             f"the file has {value.dtype}")


@contextlib.contextmanager
def _weights_from_file():
    """Layers made inside start their weights as zeros instead of drawing them: the file's
    values replace them, and the global generator is left where it was."""
    from .layers import base

    state = base._building_from_file
    before = getattr(state, "active", False)
    state.active = True
    try:
        yield
    finally:
        state.active = before


def load_model(filepath, custom_objects=None, compile=True):
    """The model saved at ``filepath`` by ``model.save``: rebuilt from its architecture
    (custom classes through the registry or ``custom_objects={name: class}``), with its
    weights, its layers' own generators and — when ``compile`` and the file has them — its
    compile settings and optimizer state. Nothing is unpickled. Damaged, truncated or
    foreign files and weights that do not fit the architecture raise ValueError naming the
    problem."""
    who = "load_model"
    where = f"{who}: '{os.fspath(filepath)}'"
    metadata, tensors = _read(filepath, who)
    document = _document(metadata, tensors, filepath, who)
    if document is None:
        raise ValueError(f"{where} is a safetensors file but not a fastnn model: its metadata "
                         f"has no fastnn entry (keys: {sorted(metadata)}); for weights alone "
                         "build the model and call model.load_weights(path)")
    if document.get("kind") != "model":
        raise ValueError(f"{where} holds {document.get('kind')!r}, not a model (written by "
                         "save_weights?): build the model and call model.load_weights(path)")
    decode = _Decoder(where, custom_objects)
    spec = _typed(where, document, "model", dict)
    if spec.get(_TAG) != "layer":
        raise ValueError(f"{where} is damaged: its architecture entry is not a layer")
    with _weights_from_file():
        model = decode.layer(spec)
        if not _is_model(model):
            raise ValueError(f"{where}: the architecture is a {type(model).__name__}, not a "
                             "model")
        _build(model, document.get("build"), where)

    groups = {"weights": {}, "optimizer": {}, "generator": {}}
    for name, value in tensors.items():
        kind, _, rest = name.partition("/")
        if kind not in groups or not rest:
            raise ValueError(f"{where} holds the tensor {name!r}, which a fastnn model file "
                             "does not have")
        groups[kind][rest] = value
    if set(groups["weights"]) != set(document["weights"]):
        raise ValueError(f"{where} is damaged: its weight tensors differ from the weights its "
                         "metadata lists")
    _check_weights(model, groups["weights"], where)

    generators = {}
    listed = _typed(where, document, "generators", list)
    if not all(isinstance(p, str) for p in listed):
        raise ValueError(f"{where} is damaged: its generator list holds non-strings")
    layers_by_path = dict(_layer_paths(model))
    if set(listed) != set(groups["generator"]):
        raise ValueError(f"{where} is damaged: its generator tensors differ from the list in "
                         "its metadata")
    for path in listed:
        layer = layers_by_path.get(path)
        g = None if layer is None else _own_generator(layer)
        value = groups["generator"][path]
        if g is None or value.shape != (2,) or value.dtype != np.int64:
            raise ValueError(f"{where}: the file holds a generator for {path!r}, which the "
                             "rebuilt model has no seeded layer at (or of another shape)")
        generators[path] = (g, value)

    # Everything checked: write the values in place.
    model.load_state_dict(groups["weights"])
    for g, value in generators.values():
        write_host(g, value)

    compile_spec = document.get("compile")
    if compile and compile_spec is not None:
        state_meta = document.get("optimizer_state")
        if state_meta is None and groups["optimizer"]:
            raise ValueError(f"{where} is damaged: it holds optimizer tensors but no optimizer "
                             "state entry")
        _restore_compile(model, compile_spec, state_meta, groups["optimizer"], decode, where)
    elif compile and document.get("compile_skipped"):
        warnings.warn(f"{where}: the model was saved compiled, but its compile settings could "
                      f"not be written ({document['compile_skipped']}); it loads uncompiled",
                      stacklevel=2)
    return model


def load_weights(model, filepath):
    """Reads weights saved by ``save_weights`` (or a model file's, or any safetensors file
    keyed like ``model.state_dict()``) into ``model``, in place: every key, shape and dtype
    is checked before any weight changes. An unbuilt model is first built for the input
    shape the file records, when it records one."""
    who = "load_weights"
    where = f"{who}: '{os.fspath(filepath)}'"
    metadata, tensors = _read(filepath, who)
    document = _document(metadata, tensors, filepath, who)
    if document is not None and document.get("kind") == "model":
        tensors = {k[len("weights/"):]: v for k, v in tensors.items() if k.startswith("weights/")}
    elif document is not None and document.get("kind") != "weights":
        raise ValueError(f"{where} holds {document.get('kind')!r}, not weights")
    if document is not None and not model.built and _is_model(model):
        _build(model, document.get("build"), where)
    _check_weights(model, tensors, where)
    model.load_state_dict(tensors)


__all__ = ["save_model", "load_model", "save_weights", "load_weights", "register_serializable",
           "register_keras_serializable", "get_registered_name", "get_registered_object",
           "get_custom_objects"]
