"""How fastnn names what a saved model needs beyond its tensors (saving.py has the file
format): the registry of custom classes and functions (Keras's
``register_keras_serializable``), layer configs encoded to JSON (objects inside them tagged
``"__fastnn__"``) and decoded back — classes and functions found by name in fastnn's own
modules, the registry or ``custom_objects``, never imported or unpickled from a file."""

from __future__ import annotations

import inspect
import numbers
import sys
import types

import numpy as np

_TAG = "__fastnn__"

# --- the registry (keras.saving.register_keras_serializable) -----------------------------------

_CUSTOM_OBJECTS: dict = {}   # "Package>Name" -> class or function
_CUSTOM_NAMES: dict = {}     # class or function -> "Package>Name"


def register_serializable(package="Custom", name=None):
    """Registers a class or function so ``load_model`` can rebuild it by name (Keras's
    ``keras.saving.register_keras_serializable``): ``@fn.saving.register_serializable()``
    on a custom layer, a subclassed model, an activation or loss function, a schedule.

    The registered name is ``"<package>><name>"`` (``name`` defaults to the class's or
    function's ``__name__``). A class must have ``get_config()``; load_model calls
    ``cls.from_config(config)`` (by default ``cls(**config)``), so a class with constructor
    arguments returns them from get_config (Keras's rule). A subclassed model that keeps
    the default get_config (name, trainable, dtype) is rebuilt with the arguments its
    constructor accepts among those. Registering a name again replaces the earlier entry
    (re-running a notebook cell works)."""
    if not isinstance(package, str) or not package or ">" in package:
        raise ValueError(f"register_serializable: expected package to be a non-empty string "
                         f"without '>', got {package!r}")
    if name is not None and (not isinstance(name, str) or not name or ">" in name):
        raise ValueError(f"register_serializable: expected name to be None or a non-empty "
                         f"string without '>', got {name!r}")

    def decorator(arg):
        if isinstance(arg, type):
            if not hasattr(arg, "get_config"):
                raise ValueError(f"register_serializable: cannot register class "
                                 f"{arg.__name__!r}: it has no get_config() method")
        elif not callable(arg):
            raise TypeError(f"register_serializable: expected a class or a function, got "
                            f"{type(arg).__name__}")
        registered = f"{package}>{name if name is not None else arg.__name__}"
        old = _CUSTOM_OBJECTS.get(registered)
        if old is not None:
            _CUSTOM_NAMES.pop(old, None)
        _CUSTOM_OBJECTS[registered] = arg
        _CUSTOM_NAMES[arg] = registered
        return arg

    return decorator


register_keras_serializable = register_serializable


def get_registered_name(obj):
    """The name ``obj`` is registered under, else its ``__name__`` (Keras's)."""
    return _CUSTOM_NAMES.get(obj, getattr(obj, "__name__", None))


def get_registered_object(name, custom_objects=None):
    """The class or function registered (or given in ``custom_objects``) as ``name``, or
    None."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    return _CUSTOM_OBJECTS.get(name)


def get_custom_objects():
    """The registry itself: ``{"Package>Name": object}``. Changes are live; an entry added
    by plain name (``get_custom_objects()["Scale"] = Scale``, as in Keras) is found by
    load_model under that class or function name."""
    return _CUSTOM_OBJECTS


# --- errors ----------------------------------------------------------------------------------


class _Unsaveable(ValueError):
    """A value in a config that a file cannot hold."""


# --- encoding configs into JSON --------------------------------------------------------------

def _fastnn_module(obj):
    module = getattr(obj, "__module__", None) or ""
    return module == "fastnn" or module.startswith("fastnn.")


def _class_entry(cls):
    return {"class_name": cls.__name__, "registered_name": _CUSTOM_NAMES.get(cls),
            "module": cls.__module__}


def _encode(value, where):
    """``value`` as JSON data, objects tagged (see the module docstring)."""
    from .layers.base import Layer

    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (numbers.Integral, np.bool_)):
        return bool(value) if isinstance(value, np.bool_) else int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, tuple):
        return {_TAG: "tuple", "items": [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or k == _TAG:
                raise _Unsaveable(f"{where} has the key {k!r}; config dicts need string keys "
                                  f"other than {_TAG!r}")
            out[k] = _encode(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, Layer):
        return _layer_spec(value, where)
    if isinstance(value, type):
        return {_TAG: "type", **_class_entry(value)}
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType)):
        registered = _CUSTOM_NAMES.get(value)
        if registered is None and not _fastnn_module(value) and (
                value.__name__ == "<lambda>" or "<locals>" in value.__qualname__):
            raise _Unsaveable(f"{where} is the function {value.__qualname__!r}, which cannot "
                              "be found again by name; use a module-level function "
                              "decorated with @fn.saving.register_serializable()")
        return {_TAG: "function", "name": value.__name__, "registered_name": registered,
                "module": value.__module__}
    if hasattr(value, "get_config"):
        cls = type(value)
        try:
            config = value.get_config()
        except NotImplementedError as e:
            raise _Unsaveable(f"{where}: {cls.__name__}.get_config() is not implemented ({e})")
        return {_TAG: "object", **_class_entry(cls), "config": _encode(config, where)}
    raise _Unsaveable(f"{where} is a {type(value).__name__}, which a file cannot hold (give "
                      "it a get_config() and register its class with "
                      "@fn.saving.register_serializable())")


def _is_model(obj):
    """Whether ``obj`` is a fastnn Model (fastnn.models imports this module, so the class is
    recognised by the training front-end every Model has)."""
    from .training import TrainingMixin

    return isinstance(obj, TrainingMixin)


def _layer_spec(layer, where):
    """{"__fastnn__": "layer", class, registered name, module, config} of a layer or model
    (a Sequential's config lists its layers themselves, encoded here in turn)."""
    cls = type(layer)
    try:
        config = layer._config_for_saving()
    except NotImplementedError as e:
        raise _Unsaveable(f"{where}: {cls.__name__}.get_config() is not implemented ({e})")
    return {_TAG: "layer", **_class_entry(cls),
            "config": _encode(config, f"{where} ({cls.__name__} '{layer.name}')")}


class _Decoder:
    """Turns encoded configs back into values, finding classes and functions in fastnn's
    own modules, the registry or ``custom_objects``; never imports anything."""

    def __init__(self, who, custom_objects):
        if custom_objects is not None and not isinstance(custom_objects, dict):
            raise TypeError(f"{who}: expected custom_objects to be a dict of name -> class or "
                            f"function, got {type(custom_objects).__name__}")
        self.who = who
        self.custom = dict(custom_objects or {})

    def __call__(self, value):
        if isinstance(value, list):
            return [self(v) for v in value]
        if not isinstance(value, dict):
            return value
        tag = value.get(_TAG)
        if tag is None:
            return {k: self(v) for k, v in value.items()}
        if tag == "tuple":
            return tuple(self(v) for v in _typed(self.who, value, "items", list))
        if tag == "type":
            return self.find(value, "class")
        if tag == "function":
            return self.find(value, "function")
        if tag == "layer":
            return self.layer(value)
        if tag == "object":
            cls = self.find(value, "class")
            return _construct(self.who, cls, self(_typed(self.who, value, "config", dict)))
        raise ValueError(f"{self.who}: unknown {_TAG} tag {tag!r} in the file's metadata")

    def find(self, entry, kind):
        name = entry.get("class_name" if kind == "class" else "name")
        registered, module = entry.get("registered_name"), entry.get("module")
        if not isinstance(name, str) or not isinstance(module, str) or not (
                registered is None or isinstance(registered, str)):
            raise ValueError(f"{self.who}: a {kind} entry of the file's metadata is damaged: "
                             f"{entry!r}")
        for key in (registered, name):
            if key is not None and key in self.custom:
                return self.custom[key]
        for key in (registered, name):  # registered, or put in by plain name (Keras's way)
            if key is not None and key in _CUSTOM_OBJECTS:
                return _CUSTOM_OBJECTS[key]
        if module == "fastnn" or module.startswith("fastnn."):
            found = getattr(sys.modules.get(module), name, None)
            if _builtin_ok(found, kind):
                return found
            raise ValueError(f"{self.who}: the file names the {kind} {module}.{name}, which "
                             f"this version of fastnn does not have")
        label = f"{name!r} (module {module!r}" + (
            f", registered as {registered!r})" if registered else ")")
        raise ValueError(
            f"{self.who}: the file names the {kind} {label}, which is not registered: decorate "
            f"it with @fn.saving.register_serializable() in code that runs before loading, or "
            f"pass custom_objects={{{(registered or name)!r}: {name}}}"
            + (". A model you construct yourself can take the weights with "
               "model.load_weights(path)" if kind == "class" else ""))

    def layer(self, entry):
        from .layers.base import Layer

        cls = self.find(entry, "class")
        if not (isinstance(cls, type) and issubclass(cls, Layer)):
            raise ValueError(f"{self.who}: the file's architecture names {cls!r}, which is not "
                             "a fastnn layer or model class")
        config = self(_typed(self.who, entry, "config", dict))
        return _construct(self.who, cls, config)


def _builtin_ok(found, kind):
    if kind == "function":
        return callable(found) and not isinstance(found, type) and _fastnn_module(found)
    if not isinstance(found, type) or not _fastnn_module(found):
        return False
    from . import initializers, losses, optim, optimizers, regularizers
    from .layers.base import Layer

    bases = (Layer, losses.Loss, regularizers.Regularizer, initializers.Initializer,
             optimizers.Optimizer, optim.Optimizer)
    return issubclass(found, bases) or hasattr(found, "get_config")


def _construct(who, cls, config):
    """``cls`` from its config: a class that keeps Layer's default get_config with the
    arguments its constructor takes (Keras's auto-config rule); else
    ``cls.from_config(config)``, or ``cls(**config)`` for a class without one."""
    from .layers.base import Layer

    config = dict(config)
    is_layer = isinstance(cls, type) and issubclass(cls, Layer)
    try:
        if is_layer and cls.get_config is Layer.get_config:
            accepted = _accepted(cls, config)
            rest = {k: v for k, v in config.items() if k not in accepted}
            made = cls(**accepted)
            for key in ("name", "trainable"):
                if key in rest:
                    setattr(made, key, rest[key])
            return made
        if not isinstance(cls, type):
            raise TypeError(f"expected a class, got {cls!r}")
        if hasattr(cls, "from_config") and not issubclass(cls, _plain_constructed()):
            return cls.from_config(config)
        return cls(**_accepted(cls, config))
    except (TypeError, ValueError, NotImplementedError) as e:
        hint = ("; a subclassed model or custom layer is rebuilt from its get_config(): "
                "define get_config() returning its constructor's arguments (and from_config "
                "when they are not plain values), as Keras requires" if is_layer else "")
        name = getattr(cls, "__name__", repr(cls))
        raise ValueError(f"{who}: could not rebuild {name} from its saved config "
                         f"{config!r}: {type(e).__name__}: {e}{hint}") from e


def _plain_constructed():
    """Classes whose saved configs may hold keys their constructor does not take (a loss's
    from_logits is fixed by MeanSquaredError's class): built from the accepted keys."""
    from . import initializers, losses, regularizers

    return (losses.Loss, regularizers.Regularizer, initializers.Initializer)


def _accepted(cls, config):
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return dict(config)
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return dict(config)
    return {k: v for k, v in config.items() if k in params}


def _typed(who, mapping, key, kind):
    value = mapping.get(key) if isinstance(mapping, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ValueError(f"{who}: the file's fastnn metadata is damaged or from another "
                         f"program: expected {key!r} to be a {kind.__name__}, got "
                         f"{type(value).__name__}")
    return value
