"""PyTorch's ``nn.Module``, ``nn.Parameter`` and containers over fastnn's Model.

A Module is a fastnn Model with PyTorch's defaults and names: it starts in training mode,
its submodules build their weights at construction, ``model(*args)`` calls ``forward``, and
``state_dict`` keys are attribute paths ('conv1.weight', 'layers.0.bias'). Because it is a
Model, a Module also compiles and fits (a captured step) like any Keras-style model.
"""

from __future__ import annotations

import collections

import numpy as np

from .. import _C
from ..layers.base import Layer, _local_name
from ..models import Model, _walked_attribute
from ..tensor import Tensor, to_host

_FLOAT_DTYPES = ("float32", "float64")


def dtype_name(dtype, who):
    """'float32'/'float64' from None (float32: PyTorch's default), fn.float64, 'float64',
    np.float64, or torch.float64 (what a test or a port passes)."""
    if dtype is None:
        return "float32"
    name = str(dtype).replace("torch.", "")
    name = {"float": "float32", "double": "float64"}.get(name, name)
    try:
        name = np.dtype(name).name
    except TypeError:
        pass
    if name not in _FLOAT_DTYPES:
        raise TypeError(f"{who}: expected dtype float32 or float64, got {dtype!r}")
    return name


class _ParameterMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.is_leaf and bool(obj.requires_grad)


class Parameter(metaclass=_ParameterMeta):
    """``nn.Parameter(data, requires_grad=True)``: a leaf tensor that a Module assigned it
    as an attribute trains. fastnn tensors carry no subclass, so this returns a Tensor and
    ``isinstance(t, nn.Parameter)`` holds for any leaf tensor that requires grad."""

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = np.zeros((0,), np.float32)
        if isinstance(data, Tensor):
            t = data.detach()
        else:
            array = np.asarray(data)
            t = Tensor(array, array.dtype.name if array.dtype.name in _FLOAT_DTYPES
                       else "float32")
        t.requires_grad = bool(requires_grad)
        return t


class Module(Model):
    """Subclass it, create submodules and parameters in ``__init__`` and define
    ``forward(self, *inputs)``, as with ``torch.nn.Module``."""

    #: model.save refuses it (fastnn/saving.py): as in PyTorch, the class is the
    #: architecture; save_weights / state_dict hold the rest.
    _architecture_is_code = True

    def __init__(self, *args, **kwargs):
        if args:
            raise TypeError(f"{type(self).__name__}: Module.__init__ takes no positional "
                            f"arguments, got {len(args)}")
        super().__init__(**kwargs)
        self.training = True
        self._built = True

    # --- calling -------------------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        if not kwargs and len(args) == 1 and type(args[0]) is Tensor and \
                type(self).call is Module.call:
            # The call a forward makes at every step, m(x) on a tensor: what Model.__call__
            # does for it (Module.call is forward), without its checks for other inputs.
            self._last_input, self._last_training = args[0], self.training
            out = self.forward(args[0])
            self._built = True
            return out
        # fit/evaluate pass training=...; a PyTorch forward reads self.training instead.
        training = kwargs.pop("training", None)
        if training is not None and takes_training(self.forward):
            kwargs["training"] = training
            training = None
        if training is None or bool(training) == self.training:
            return self._call_forward(args, kwargs)
        previous = self.training
        self.train(bool(training))
        try:
            return self._call_forward(args, kwargs)
        finally:
            self.train(previous)

    def _call_forward(self, args, kwargs):
        if len(args) == 1 and not kwargs:  # one input: Model converts numpy and records it
            return Model.__call__(self, args[0])
        if not args and not kwargs:
            raise TypeError(f"{type(self).__name__}.forward: called without inputs")
        out = self.forward(*args, **kwargs)
        self._built = True
        return out

    def call(self, inputs, training=False):
        return self.forward(inputs)

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} must define forward(self, ...)")

    # --- structure -----------------------------------------------------------------------

    def named_children(self):
        """(attribute path, module) of the modules held directly, in assignment order."""
        return [(path, v) for path, v in self._named_tracked() if isinstance(v, Layer)]

    def children(self):
        return [m for _, m in self.named_children()]

    def named_modules(self, memo=None, prefix=""):
        """This module ('' by default) and every module below it, each once, depth first."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return []
        memo.add(id(self))
        out = [(prefix, self)]
        for name, child in self.named_children():
            path = f"{prefix}.{name}" if prefix else name
            if isinstance(child, Module):
                out += child.named_modules(memo, path)
            elif id(child) not in memo:  # a Keras layer inside a Module
                memo.add(id(child))
                out.append((path, child))
        return out

    def modules(self):
        return [m for _, m in self.named_modules()]

    def get_submodule(self, target):
        module = self
        for part in target.split(".") if target else []:
            children = dict(module.named_children()) if isinstance(module, Module) else {}
            if part not in children:
                raise AttributeError(f"{type(self).__name__}.get_submodule: no submodule "
                                     f"{target!r} ({part!r} is not a child of "
                                     f"{type(module).__name__})")
            module = children[part]
        return module

    def add_module(self, name, module):
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"{type(self).__name__}.add_module: expected a name without dots, "
                           f"got {name!r}")
        if module is not None and not isinstance(module, Layer):
            raise TypeError(f"{type(self).__name__}.add_module: expected a Module, got "
                            f"{type(module).__name__}")
        setattr(self, name, module)

    register_module = add_module

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"{type(self).__name__}.register_parameter: expected "
                            f"nn.Parameter or None for {name!r}, got {type(param).__name__}")
        setattr(self, name, param)

    def register_buffer(self, name, tensor, persistent=True):
        """A tensor that is state but not a parameter (BatchNorm's running statistics):
        in state_dict (unless persistent=False), moved by ``to``, never trained."""
        if tensor is not None:
            tensor = tensor if isinstance(tensor, Tensor) else Tensor(np.asarray(tensor))
            tensor = tensor.detach()
            tensor.requires_grad = False
            tensor._trainable = False
            tensor._local_name = name
            tensor.name = f"{self.name}/{name}"
            tensor._regularizer = None
            self._weights[:] = [w for w in self._weights if getattr(w, "_local_name", None) != name]
            if persistent:
                self._weights.append(tensor)
        object.__setattr__(self, name, tensor)

    def _own_and_children(self):
        tracked = list(self._named_tracked())
        own = [(path, v) for path, v in tracked if not isinstance(v, Layer)]
        own += [(_local_name(w, i), w) for i, w in enumerate(self._weights)]
        return own, [(path, v) for path, v in tracked if isinstance(v, Layer)]

    def _named_weights(self, prefix=""):
        """PyTorch's order: a module's own parameters, then its buffers, then each child's,
        depth first; a weight reached twice keeps its first key."""
        own, children = self._own_and_children()
        pairs = [(prefix + key, w) for key, w in own]
        for path, child in children:
            pairs += child._named_weights(f"{prefix}{path}.")
        seen, out = set(), []
        for key, w in pairs:
            if id(w) not in seen:
                seen.add(id(w))
                out.append((key, w))
        return out

    @property
    def weights(self):
        return [w for _, w in self._named_weights()]

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        own, children = self._own_and_children()
        out = [w for _, w in own if getattr(w, "_trainable", True)]
        for _, child in children:
            out += child.trainable_weights
        seen = set()
        return [w for w in out if not (id(w) in seen or seen.add(id(w)))]

    # recurse=False: this module's own parameters and buffers only, as PyTorch's.
    def _own_keyed(self, prefix):
        own, _ = self._own_and_children()
        seen = set()
        return [(prefix + key, w) for key, w in own if not (id(w) in seen or seen.add(id(w)))]

    def named_buffers(self, prefix="", recurse=True):
        trainable = {id(p) for p in self.parameters()}
        pairs = self._named_weights(prefix) if recurse else self._own_keyed(prefix)
        return [(k, w) for k, w in pairs if id(w) not in trainable]

    def buffers(self, recurse=True):
        return [w for _, w in self.named_buffers(recurse=recurse)]

    def parameters(self, recurse=True):
        if recurse:
            return super().parameters()
        return [w for _, w in self.named_parameters(recurse=False)]

    def named_parameters(self, prefix="", recurse=True):
        if recurse:
            return super().named_parameters(prefix)
        trainable = {id(p) for p in super().parameters()}
        return [(k, w) for k, w in self._own_keyed(prefix) if id(w) in trainable]

    def apply(self, fn):
        """Calls fn(module) on every submodule, then on this one (PyTorch's order)."""
        for child in self.children():
            if isinstance(child, Module):
                child.apply(fn)
            else:
                fn(child)
        fn(self)
        return self

    # --- state ---------------------------------------------------------------------------

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = _C.full(list(p.shape), 0.0, p.dtype)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad = bool(requires_grad)
        return self

    # --- dtype and device ------------------------------------------------------------------

    def float(self):
        return self._cast("float32")

    def double(self):
        return self._cast("float64")

    def type(self, dst_type):
        return self._cast(dtype_name(dst_type, f"{type(self).__name__}.type"))

    def half(self):
        raise TypeError(f"{type(self).__name__}.half: fastnn computes in float32 and float64 "
                        "only")

    bfloat16 = half

    def _cast(self, dtype):
        """Every weight of every submodule as ``dtype``, replaced in place in its module
        (an optimizer made before holds the old tensors: make it after, as in PyTorch)."""
        for module in self.modules():
            module.dtype = dtype
            for i, w in enumerate(module._weights):
                if w.dtype in _FLOAT_DTYPES and w.dtype != dtype:
                    module._weights[i] = _recast(module, w, dtype)
            for key, value in list(vars(module).items()):
                if (isinstance(value, Tensor) and value.is_leaf and value.requires_grad
                        and value.dtype in _FLOAT_DTYPES and value.dtype != dtype):
                    object.__setattr__(module, key, _recast(module, value, dtype))
        return self

    # --- printing ------------------------------------------------------------------------

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"({name}): " + repr(child).replace("\n", "\n  ")
                 for name, child in self.named_children()]
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        body = "\n  ".join(([extra] if extra else []) + lines)
        return f"{type(self).__name__}(\n  {body}\n)"


def _recast(module, w, dtype):
    """A copy of weight ``w`` as ``dtype`` that takes w's place: its attribute holder, names
    and flags carried over."""
    new = Tensor(to_host(w).astype(dtype), dtype, False)
    if w.device != "cpu":
        new = new.to_device(w.device)
    new.requires_grad = bool(w.requires_grad)
    for attribute in ("name", "_trainable", "_local_name", "_regularizer"):
        if hasattr(w, attribute):
            setattr(new, attribute, getattr(w, attribute))
    for key, value in list(vars(module).items()):
        if value is w:
            object.__setattr__(module, key, new)
    return new


def takes_training(method):
    from ..layers.base import takes_argument

    return takes_argument(method, "training")


# --- containers -------------------------------------------------------------------------------


class _ModuleSequence(Module):
    """What Sequential and ModuleList share: modules keyed '0', '1', ... (or by name), their
    count, iteration, indexing (a slice is a new container of the same class) and append.

    The children are listed once and kept until an attribute is set or deleted (the only
    ways modules come and go): a forward iterates them at every step."""

    def __setattr__(self, name, value):
        if _walked_attribute(name):
            self.__dict__.pop("_children_cache", None)
        super().__setattr__(name, value)

    def __delattr__(self, name):
        if _walked_attribute(name):
            self.__dict__.pop("_children_cache", None)
        super().__delattr__(name)

    def named_children(self):
        cached = self.__dict__.get("_children_cache")
        if cached is None:
            cached = self.__dict__["_children_cache"] = tuple(super().named_children())
        return list(cached)

    def children(self):
        return [m for _, m in self.named_children()]

    def __len__(self):
        return len(self.children())

    def __iter__(self):
        return iter(self.children())

    def __getitem__(self, index):
        children = self.named_children()
        if isinstance(index, slice):
            return self._sliced(children[index])
        return children[_index(index, len(children), type(self).__name__)][1]

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self


class Sequential(_ModuleSequence):
    """``nn.Sequential(m1, m2, ...)`` or ``nn.Sequential(OrderedDict(name=module))``: calls
    each in turn; keys '0.weight', '1.bias' (or the dict's names)."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], collections.OrderedDict):
            items = list(modules[0].items())
        else:
            items = [(str(i), m) for i, m in enumerate(modules)]
        for name, module in items:
            self.add_module(name, module)

    def forward(self, x):
        for module in self.children():
            x = module(x)
        return x

    @staticmethod
    def _sliced(pairs):  # PyTorch keeps the names
        return Sequential(collections.OrderedDict(pairs))


class ModuleList(_ModuleSequence):
    """``nn.ModuleList([...])``: a list of modules whose parameters the parent owns, keyed
    'name.0.weight', ...; it has no forward."""

    def __init__(self, modules=None):
        super().__init__()
        for module in modules or []:
            self.append(module)

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    @staticmethod
    def _sliced(pairs):  # PyTorch numbers them anew
        return ModuleList([module for _, module in pairs])

    def forward(self, *inputs):
        raise NotImplementedError("ModuleList has no forward: iterate over it in the parent's "
                                  "forward")


class ModuleDict(Module):
    """``nn.ModuleDict({name: module})``: modules by name, keyed 'name.key.weight'."""

    def __init__(self, modules=None):
        super().__init__()
        for name, module in dict(modules or {}).items():
            self.add_module(name, module)

    def __getitem__(self, key):
        return dict(self.named_children())[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __contains__(self, key):
        return key in dict(self.named_children())

    def __len__(self):
        return len(self.children())

    def __iter__(self):
        return iter(self.keys())

    def keys(self):
        return [k for k, _ in self.named_children()]

    def values(self):
        return self.children()

    def items(self):
        return self.named_children()

    def forward(self, *inputs):
        raise NotImplementedError("ModuleDict has no forward: index it in the parent's forward")


def _index(index, n, who):
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"{who}: expected an integer index or a slice, got "
                        f"{type(index).__name__}")
    if not -n <= index < n:
        raise IndexError(f"{who}: index {index} is out of range for {n} modules")
    return int(index) % n


__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict"]
