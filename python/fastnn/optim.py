"""Optimizers with torch.optim's names, arguments and defaults.

``opt = optim.Adam(model.parameters(), lr=1e-3)``; ``opt.zero_grad(); loss.backward();
opt.step()``. Every parameter is updated in one C++ call per step, one fused pass per
tensor. The learning rate (and the other hyperparameters) can be changed between steps
through ``opt.lr`` or ``opt.param_groups[i]["lr"]``, or by a scheduler of
``fastnn.optim.lr_scheduler`` (StepLR, CosineAnnealingLR, OneCycleLR, ...).

Parameter groups as torch's: ``params`` is an iterable of tensors, of (name, tensor) pairs
(``model.named_parameters()``), or of dicts ``{"params": [...], "lr": 1e-4, ...}`` whose
missing options take the constructor's; ``add_param_group`` adds one later. Each group has
its own C++ optimizer (its own config), so one group costs what it always did.
"""

from __future__ import annotations

import numpy as np

from . import _C
from . import lr_scheduler  # torch.optim.lr_scheduler's schedulers (fastnn/lr_scheduler.py)
from .lazy_parameters import LazyParameters
from .tensor import Tensor, host_copy, write_host

# torch's group options that fastnn does not have, with the values that mean "as fastnn
# does" (foreach, fused and capturable only choose torch's implementation: any value is fine).
_TORCH_ONLY = {"maximize": False, "differentiable": False}


class Optimizer:
    _native_class = None
    _config_class = None
    # torch argument name -> field of the C++ config
    _fields: dict = {}

    def __init__(self, params, defaults):
        self._lazy_source = None
        self.defaults = dict(defaults)
        self._validate(self.defaults)
        self.param_groups = []
        self._natives = None  # one C++ optimizer per group (None for an empty group)
        # What fit's captured step and saving.py see: the C++ optimizer of the only group,
        # or every group's as one (parameters indexed across groups); None until made.
        self._native = None
        self._synced = []  # per group: the options last pushed into its C++ config
        groups = self._initial_groups(params)
        for group in groups:
            self.add_param_group(group)
        if self._lazy_source is None:
            self._create_natives()
        # else: created at the first step, once every layer has built its weights

    def _initial_groups(self, params):
        who = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{who}: params should be an iterable of tensors, got a single Tensor")
        if isinstance(params, LazyParameters):
            self._lazy_source = params.model
            return [{"params": list(params)}]
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{who}: params should be an ordered collection (a list), got a "
                            "set, whose order changes between runs")
        params = list(params)
        if not params:
            raise ValueError(f"{who}: got an empty parameter list")
        if not isinstance(params[0], dict):
            return [{"params": params}]
        kinds = [i for i, g in enumerate(params) if not isinstance(g, dict)]
        if kinds:
            raise TypeError(f"{who}: params mixes parameter groups (dicts) with other items: "
                            f"item {kinds[0]} is a {type(params[kinds[0]]).__name__}")
        return params

    def add_param_group(self, param_group):
        """Adds a group (a dict with "params" and any options; the others take the
        constructor's defaults), as torch's: to train more parameters from the next step,
        e.g. layers unfrozen while fine-tuning."""
        who = f"{type(self).__name__}.add_param_group"
        index = len(self.param_groups)
        if not isinstance(param_group, dict):
            raise TypeError(f"{who}: param_group must be a dict, got {_describe(param_group)}")
        if "params" not in param_group:
            raise KeyError(f"{who}: parameter group {index} has no 'params' (got the keys "
                           f"{sorted(param_group)})")
        if self._natives is None and self._lazy_source is not None and self.param_groups:
            raise ValueError(f"{who}: the model's layers have no weights yet; call it on an "
                             "input (or make its first step) before adding parameter groups")
        group = dict(param_group)
        group["params"], names = self._group_params(group["params"], index)
        if names is not None:
            group["param_names"] = names
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
        if self.param_groups and (("param_names" in group)
                                  != ("param_names" in self.param_groups[0])):
            raise ValueError(f"{who}: all parameter groups should be with or without names; "
                             "cannot mix (name, tensor) pairs with plain tensors")
        self._check_group(who, group, index)
        for p in group["params"]:
            if any(p._same_storage(q) for g in self.param_groups for q in g["params"]):
                raise ValueError(f"{who}: some parameters appear in more than one parameter "
                                 f"group ({_label(p, index)} is already in an earlier one)")
        self.param_groups.append(group)
        self._synced.append(None)
        if self._natives is not None:
            try:
                native = self._group_native(index)
            except (TypeError, ValueError):  # refused by the C++ optimizer: not added
                del self.param_groups[index], self._synced[index]
                raise
            self._natives.append(native)
            self._refresh_native()

    def _group_params(self, params, index):
        """([tensor], [name] or None): a group's parameters, checked."""
        who = type(self).__name__
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{who}: parameter group {index}'s params should be an ordered "
                            "collection (a list), got a set, whose order changes between runs")
        elif isinstance(params, LazyParameters):
            raise ValueError(f"{who}: some layers of the model have no weights yet; call it "
                             "on an input before putting its parameters in a parameter group")
        params = list(params)
        pairs = [isinstance(p, tuple) for p in params]
        names = None
        if any(pairs):
            if not all(pairs) or not all(len(p) == 2 and isinstance(p[0], str) for p in params):
                raise ValueError(f"{who}: all parameters should be with or without names: "
                                 "give (name, tensor) pairs for all or for none")
            names, params = [p[0] for p in params], [p[1] for p in params]
        in_group = f" of parameter group {index}" if index else ""
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{who}: parameter {i}{in_group} is a {type(p).__name__}, "
                                "expected a fastnn Tensor")
            if not p.is_leaf:
                raise ValueError(f"{who}: parameter {i}{in_group} is not a leaf tensor (the "
                                 "result of an op): an optimizer can't optimize a non-leaf "
                                 "Tensor; pass the tensor it was computed from")
            # One that does not require grad (frozen by requires_grad_(False)) is kept, as
            # torch keeps it: it gets no gradient, and a step skips a parameter without one.
        return params, names

    def _check_group(self, who, group, index):
        """Refuses torch options fastnn cannot honour, then checks the values."""
        for name, value in _TORCH_ONLY.items():
            if group.get(name, value) != value:
                raise NotImplementedError(f"{who}: {name}={group[name]!r} (parameter group "
                                          f"{index}) is not supported by fastnn")
        self._validate(group)

    def _validate(self, options):
        """Builds a throwaway config so bad values fail here, where they were given."""
        self._config(options)

    # Switches for Keras's variants of the algorithms (decoupled_weight_decay, epsilon_hat,
    # eps_inside_sqrt), set by fastnn.optimizers on the optimizer it wraps.
    _flags: dict = {}

    def _config(self, options):
        config = self._config_class()
        for flag, value in self._flags.items():
            setattr(config, flag, value)
        for name, field in self._fields.items():
            value = options[name]
            if name == "betas":
                if not isinstance(value, (tuple, list)) or len(value) != 2:
                    raise ValueError(f"{type(self).__name__}: expected betas to be a pair "
                                     f"(beta1, beta2), got {value!r}")
                beta1, beta2 = value
                for label, b in (("betas[0]", beta1), ("betas[1]", beta2)):
                    if not 0.0 <= b < 1.0:
                        raise ValueError(f"{type(self).__name__}: expected {label} in [0, 1), got {b}")
                config.beta1, config.beta2 = float(beta1), float(beta2)
                continue
            if isinstance(value, bool):
                setattr(config, field, value)
            else:
                value = float(value)
                if value < 0:
                    raise ValueError(f"{type(self).__name__}: expected {name} >= 0, got {value}")
                setattr(config, field, value)
        return config

    # --- the C++ optimizers -------------------------------------------------------------------

    def _create_natives(self):
        self._natives = [self._group_native(i) for i in range(len(self.param_groups))]
        self._refresh_native()

    def _group_native(self, index):
        group = self.param_groups[index]
        self._synced[index] = None  # its config is pushed at the first step (with _flags)
        if not group["params"]:
            return None
        try:
            return self._make_native(group["params"], self._config(group))
        except (TypeError, ValueError) as e:
            if len(self.param_groups) == 1:
                raise
            raise type(e)(f"{e} (in parameter group {index})") from e

    def _make_native(self, params, config):
        return self._native_class(params, config)

    def _refresh_native(self):
        if len(self._natives) == 1:
            self._native = self._natives[0]
        else:
            # A new object that keeps the one it replaces alive: fit's captured plans compare
            # id(_native), which must not be reused while this optimizer lives.
            self._native = _GroupedNatives(self._natives, self._native)

    def _ensure_native(self):
        if self._natives is None:
            params = self._lazy_source.parameters() if self._lazy_source else []
            if isinstance(params, LazyParameters):
                raise ValueError(f"{type(self).__name__}: some layers of the model have no "
                                 "weights yet; call the model on an input before the first "
                                 "step (layers without input_shape build on their first call)")
            if not params:
                raise ValueError(f"{type(self).__name__}: the model has no parameters yet; "
                                 "call it on an input before the first step (its layers "
                                 "build their weights on the first call)")
            self.param_groups[0]["params"] = list(params)
            self._create_natives()
        return self._native

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        self._sync()
        for native in self._natives:
            if native is not None:
                native.step()
        return loss

    def _replay_steps(self, count):
        """Prepares ``count`` replayed steps at once (fit's C++ epoch loop) and returns
        ``count``: nothing changes between them here, so the hyperparameters are pushed once."""
        self._sync()
        return count

    def _sync(self):
        """Pushes each group's hyperparameters into its C++ optimizer when they changed
        (a captured training step replays the C++ steps, which read them live)."""
        native = self._native if self._natives is not None else self._ensure_native()
        synced = self._synced
        for i, group in enumerate(self.param_groups):
            key = tuple((k, v) for k, v in group.items() if k != "params")
            if key != synced[i]:
                self._push_config(i, group)
                synced[i] = key
        return native

    def _push_config(self, index, group):
        mine = self._natives[index]
        if mine is None:  # an empty group
            return
        if len(group["params"]) != len(mine.params):
            raise ValueError(f"{type(self).__name__}: param_groups[{index}]['params'] changed "
                             "after the optimizer was made; add parameters with "
                             "add_param_group")
        mine.config = self._config(group)

    def zero_grad(self, set_to_none: bool = True):
        if self._natives is None:
            # Not created yet (a lazily built model): clear whatever parameters exist.
            for p in self._lazy_source._collect_parameters() if self._lazy_source else []:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    write_host(p.grad, 0)
            return
        for native in self._natives:
            if native is not None:
                native.zero_grad(set_to_none)

    @property
    def lr(self):
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value):
        self._validate({**self.param_groups[0], "lr": value})
        self.param_groups[0]["lr"] = value

    # --- state_dict ---------------------------------------------------------------------------

    def state_dict(self):
        """torch's form: ``state`` by parameter index (counted across the groups, in order),
        ``param_groups`` with each group's options and its parameters' indices."""
        native = self._ensure_native()
        state = {i: {"step": native.steps(i), **{k: _copy(v) for k, v in native.state(i)}}
                 for i in range(len(native.params))} if native is not None else {}
        groups, start = [], 0
        for group in self.param_groups:
            entry = {k: v for k, v in group.items() if k != "params"}
            entry["params"] = list(range(start, start + len(group["params"])))
            start += len(group["params"])
            groups.append(entry)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Loads what state_dict() returned (from this or another instance over parameters
        of the same shapes in groups of the same sizes, as torch.optim): the hyperparameters
        of param_groups, the step counts and the state tensors (exp_avg, ...), written into
        this optimizer's own tensors in place. Everything is checked before anything
        changes."""
        self._load_state(state_dict, hyperparameters=True)

    def _load_state(self, state_dict, hyperparameters):
        who = f"{type(self).__name__}.load_state_dict"
        native = self._ensure_native()
        params = list(native.params) if native is not None else []
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise TypeError(f"{who}: expected a dict with 'state' and 'param_groups' (as "
                            f"state_dict() returns), got {_describe(state_dict)}")
        groups, positions = self._loaded_groups(who, state_dict["param_groups"])
        if not hyperparameters:
            groups = [{k: v for k, v in g.items() if k != "params"} for g in self.param_groups]
        expected = [names for group, mine in zip(groups, self.param_groups)
                    for names in [self._state_names(group, mine)] * len(mine["params"])]
        state = state_dict["state"]
        if isinstance(state, dict) and positions is not None:
            state = {positions.get(k, ("saved", k)): v for k, v in state.items()}
        loaded = self._loaded_state(who, state, params, expected)
        for i, (_, tensors) in enumerate(loaded):
            if not tensors and native.state(i):
                raise ValueError(
                    f"{who}: expected state for parameter {i} (this optimizer has "
                    f"{[k for k, _ in native.state(i)]}), got none (the saved optimizer never "
                    "updated it); its state cannot be dropped here: load into a new optimizer")

        # Checked: now change things.
        if hyperparameters:
            for mine, group in zip(self.param_groups, groups):
                params = mine["params"]
                mine.clear()
                mine.update(group, params=params)
            self._synced = [None] * len(self.param_groups)
            self._sync()
        needs_state = [i for i, (_, tensors) in enumerate(loaded)
                       if set(tensors) - {k for k, _ in native.state(i)}]
        if needs_state:
            self._create_state(native, needs_state)
        for i, (step, tensors) in enumerate(loaded):
            mine = dict(native.state(i))
            for name, value in tensors.items():
                if name not in mine:  # the probe and the real optimizer disagree: a bug
                    raise RuntimeError(f"{who}: parameter {i} has no {name!r} state after "
                                       "its first update; please report this")
                write_host(mine[name], value)
            native.set_steps(i, step)

    def _loaded_groups(self, who, groups):
        """The saved groups' options (checked, one per group of this optimizer, of the same
        sizes) and {saved parameter index: this optimizer's index} (None for fastnn's older
        form without the indices)."""
        count = len(self.param_groups)
        if not isinstance(groups, (list, tuple)) or len(groups) != count or not all(
                isinstance(g, dict) for g in groups):
            form = "one dict (one parameter group)" if count == 1 else (
                f"{count} dicts (one per parameter group)")
            raise ValueError(f"{who}: expected param_groups to be a list of {form}, got "
                             f"{_describe(groups)}")
        out, positions, start = [], {}, 0
        for index, (saved, mine) in enumerate(zip(groups, self.param_groups)):
            group = dict(saved)
            size = len(mine["params"])
            indices = group.pop("params", None)  # torch's form lists the parameter indices
            if indices is None:
                positions = None
            elif not isinstance(indices, (list, tuple)) or len(indices) != size:
                raise ValueError(f"{who}: expected param_groups[{index}] to hold {size} "
                                 f"parameters (as this optimizer's group), got {indices!r}")
            elif positions is not None:
                positions.update(zip(indices, range(start, start + size)))
            start += size
            missing = set(self.defaults) - set(group)
            if missing:
                raise KeyError(f"{who}: expected param_groups with the keys "
                               f"{sorted(self.defaults)}, got missing {sorted(missing)} in "
                               f"param_groups[{index}]")
            if isinstance(group.get("betas"), list):
                group["betas"] = tuple(group["betas"])
            self._check_group(who, group, index)
            out.append(group)
        if positions is not None and len(positions) != start:
            raise ValueError(f"{who}: the saved param_groups list a parameter index twice")
        return out, positions

    def _loaded_state(self, who, state, params, expected):
        """[(step, {name: array})] per parameter, checked against ``expected`` names."""
        if not isinstance(state, dict):
            raise TypeError(f"{who}: expected state to be a dict by parameter index, got "
                            f"{_describe(state)}")
        missing = [i for i in range(len(params)) if i not in state]
        unexpected = [k[1] if isinstance(k, tuple) else k for k in state
                      if not (isinstance(k, (int, np.integer)) and 0 <= k < len(params))]
        if missing or unexpected:
            raise KeyError(f"{who}: expected state for the parameter indices 0..{len(params) - 1}"
                           f", got missing {missing} and unexpected {unexpected}")
        out = []
        for i, p in enumerate(params):
            entry = dict(state[i])
            step = entry.pop("step", None)
            if isinstance(step, (bool, np.bool_)) or not isinstance(
                    step, (int, np.integer)) or step < 0:
                raise ValueError(f"{who}: expected state[{i}]['step'] to be an integer >= 0, "
                                 f"got {step!r}")
            if entry and set(entry) != set(expected[i]):
                raise ValueError(f"{who}: expected state[{i}] to hold {sorted(expected[i])} (or "
                                 f"nothing, for a parameter never updated), got {sorted(entry)}")
            tensors = {}
            for name, value in entry.items():
                value = np.asarray(value)
                if value.dtype.kind not in "fiub":
                    raise TypeError(f"{who}: expected real numbers in state[{i}][{name!r}], "
                                    f"got an array of dtype {value.dtype}")
                if value.shape != tuple(p.shape):
                    raise ValueError(f"{who}: expected state[{i}][{name!r}] of shape "
                                     f"{tuple(p.shape)} (parameter {i}'s), got {value.shape}")
                tensors[name] = value
            out.append((int(step), tensors))
        return out

    def _state_names(self, group, mine):
        """The state tensors this algorithm keeps per parameter under ``group``'s options,
        read from a throwaway C++ optimizer over a one-element parameter, so they are always
        the C++ ones. ``mine``: this optimizer's group (its parameters' dtype)."""
        if not mine["params"]:
            return set()
        probe = _C.full([1], 0.0, mine["params"][0].dtype)
        probe.requires_grad = True
        native = self._make_native([probe], self._config(group))
        native.ensure_state(0)
        return {name for name, _ in native.state(0)}

    @staticmethod
    def _create_state(native, indices):
        """Creates the state tensors (zeros) of the parameters at ``indices`` that their
        first update would create; the caller overwrites them and the step counts."""
        for i in indices:
            native.ensure_state(i)

    def __repr__(self):
        def options(group):
            return ", ".join(f"{k}={v}" for k, v in group.items() if k != "params")
        if len(self.param_groups) == 1:
            return f"{type(self).__name__}({options(self.param_groups[0])})"
        groups = "; ".join(f"group {i}: {options(g)}" for i, g in enumerate(self.param_groups))
        return f"{type(self).__name__}({groups})"


class _GroupedNatives:
    """The C++ optimizers of several parameter groups seen as one, with the parameters
    indexed across the groups in order (torch's state_dict indices): what fit's captured
    step (it records every group's update) and saving.py use as ``_native``."""

    def __init__(self, natives, replaces=None):
        self._natives = [n for n in natives if n is not None]
        self._replaces = replaces
        self._where = [(n, i) for n in self._natives for i in range(len(n.params))]
        self.params = [p for n in self._natives for p in n.params]

    def step(self):
        for native in self._natives:
            native.step()

    def zero_grad(self, set_to_none=True):
        for native in self._natives:
            native.zero_grad(set_to_none)

    def steps(self, index):
        native, i = self._where[index]
        return native.steps(i)

    def set_steps(self, index, steps):
        native, i = self._where[index]
        native.set_steps(i, steps)

    def state(self, index):
        native, i = self._where[index]
        return native.state(i)

    def ensure_state(self, index):
        native, i = self._where[index]
        native.ensure_state(i)


def _label(p, group):
    return f"a parameter{' ' + repr(p.name) if p.name else ''} of group {group}"


def _copy(t):
    return host_copy(t)


def _describe(value):
    return f"a {type(value).__name__}" if not isinstance(value, (list, tuple)) else repr(value)


class SGD(Optimizer):
    _native_class, _config_class = _C.SGD, _C.SGDConfig
    _fields = {"lr": "lr", "momentum": "momentum", "dampening": "dampening",
               "weight_decay": "weight_decay", "nesterov": "nesterov"}

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=bool(nesterov)))

    def _validate(self, options):
        momentum, dampening = options["momentum"], options["dampening"]
        if options["nesterov"] and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov momentum requires momentum > 0 and dampening = 0, "
                             f"got momentum={momentum}, dampening={dampening}")
        super()._validate(options)


class Adam(Optimizer):
    _native_class, _config_class = _C.Adam, _C.AdamConfig
    _fields = {"lr": "lr", "betas": None, "eps": "eps", "weight_decay": "weight_decay",
               "amsgrad": "amsgrad"}
    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False):
        betas = tuple(betas) if isinstance(betas, (tuple, list)) else betas
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps,
                                      weight_decay=weight_decay, amsgrad=bool(amsgrad)))

    def _config(self, options):
        config = super()._config(options)
        config.decoupled_weight_decay = self._decoupled
        return config

    def _validate(self, options):
        # torch 2.13's Adam(decoupled_weight_decay=True) is AdamW: one algorithm per class here
        if options.get("decoupled_weight_decay", self._decoupled) != self._decoupled:
            raise NotImplementedError(
                f"{type(self).__name__}: decoupled_weight_decay="
                f"{options['decoupled_weight_decay']!r} in a parameter group is not supported; "
                f"use optim.{'Adam' if self._decoupled else 'AdamW'} for that")
        super()._validate(options)


class AdamW(Adam):
    """Adam with decoupled weight decay (PyTorch's default weight_decay 0.01)."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


class RMSprop(Optimizer):
    _native_class, _config_class = _C.RMSprop, _C.RMSpropConfig
    _fields = {"lr": "lr", "alpha": "alpha", "eps": "eps", "weight_decay": "weight_decay",
               "momentum": "momentum", "centered": "centered"}

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=bool(centered)))

    def _validate(self, options):
        if not 0.0 <= options["alpha"] < 1.0:
            raise ValueError(f"RMSprop: expected alpha in [0, 1), got {options['alpha']}")
        super()._validate(options)


class Adagrad(Optimizer):
    _native_class, _config_class = _C.Adagrad, _C.AdagradConfig
    _fields = {"lr": "lr", "lr_decay": "lr_decay", "weight_decay": "weight_decay", "eps": "eps"}

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10):
        if initial_accumulator_value < 0:
            raise ValueError("Adagrad: expected initial_accumulator_value >= 0, got "
                             f"{initial_accumulator_value}")
        self._initial_accumulator_value = float(initial_accumulator_value)
        # A group option in torch's param_groups, but torch 2.13 fills every group's sum
        # with the constructor's value: so does fastnn, and a group may not ask for another.
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps))

    def add_param_group(self, param_group):
        value = self._initial_accumulator_value
        if isinstance(param_group, dict) and param_group.get(
                "initial_accumulator_value", value) != value:
            raise ValueError(f"Adagrad: initial_accumulator_value="
                             f"{param_group['initial_accumulator_value']!r} in a parameter group "
                             f"is not supported (torch 2.13 ignores it and starts every group at "
                             f"the constructor's {value}); give it to the constructor")
        super().add_param_group(param_group)

    def _make_native(self, params, config):
        return _C.Adagrad(params, config, self._initial_accumulator_value)
