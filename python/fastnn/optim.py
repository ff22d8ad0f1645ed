"""Optimizers with torch.optim's names, arguments and defaults.

``opt = optim.Adam(model.parameters(), lr=1e-3)``; ``opt.zero_grad(); loss.backward();
opt.step()``. Every parameter is updated in one C++ call per step, one fused pass per
tensor. The learning rate (and the other hyperparameters) can be changed between steps
through ``opt.lr`` or ``opt.param_groups[0]["lr"]``, or by a scheduler of
``fastnn.optim.lr_scheduler`` (StepLR, CosineAnnealingLR, LinearLR, ...).
"""

from __future__ import annotations

import numpy as np

from . import _C
from . import lr_scheduler  # torch.optim.lr_scheduler's schedulers (fastnn/lr_scheduler.py)
from .lazy_parameters import LazyParameters
from .tensor import Tensor


class Optimizer:
    _native_class = None
    _config_class = None
    # torch argument name -> field of the C++ config
    _fields: dict = {}

    def __init__(self, params, defaults):
        self._lazy_source = None
        params = self._parameter_list(params)
        self.defaults = dict(defaults)
        self.param_groups = [dict(params=params, **defaults)]
        self._native = None
        self._synced = None
        self._validate(defaults)
        if self._lazy_source is not None:
            pass  # created at the first step, once every layer has built its weights
        elif params:
            self._create_native(params)
        else:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")

    def _parameter_list(self, params):
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params should be an iterable of tensors, "
                            "got a single Tensor")
        if isinstance(params, LazyParameters):
            self._lazy_source = params.model
            return list(params)
        params = list(params)
        if params and isinstance(params[0], dict):
            if len(params) > 1:
                raise ValueError(f"{type(self).__name__}: several parameter groups are not "
                                 "supported yet; pass one list of parameters")
            params = list(params[0]["params"])
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: parameter {i} is a "
                                f"{type(p).__name__}, expected a fastnn Tensor")
            if not p.requires_grad:
                raise ValueError(f"{type(self).__name__}: parameter {i}"
                                 f"{' ' + repr(p.name) if p.name else ''} does not require grad")
        return params

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

    def _create_native(self, params):
        self._native = self._make_native(params, self._config(self.param_groups[0]))
        self._synced = None
        self.param_groups[0]["params"] = list(params)

    def _make_native(self, params, config):
        return self._native_class(params, config)

    def _ensure_native(self):
        if self._native is None:
            params = self._lazy_source.parameters() if self._lazy_source else []
            if isinstance(params, LazyParameters):
                raise ValueError(f"{type(self).__name__}: some layers of the model have no "
                                 "weights yet; call the model on an input before the first "
                                 "step (layers without input_shape build on their first call)")
            if not params:
                raise ValueError(f"{type(self).__name__}: the model has no parameters yet; "
                                 "call it on an input before the first step (its layers "
                                 "build their weights on the first call)")
            self._create_native(params)
        return self._native

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        self._sync()
        self._native.step()
        return loss

    def _replay_steps(self, count):
        """Prepares ``count`` replayed steps at once (fit's C++ epoch loop) and returns
        ``count``: nothing changes between them here, so the hyperparameters are pushed once."""
        self._sync()
        return count

    def _sync(self):
        """Pushes param_groups' hyperparameters into the C++ optimizer when they changed
        (a captured training step replays the C++ step, which reads them live)."""
        native = self._ensure_native()
        group = self.param_groups[0]
        key = tuple((k, v) for k, v in group.items() if k != "params")
        if key != self._synced:
            native.config = self._config(group)
            self._synced = key
        return native

    def zero_grad(self, set_to_none: bool = True):
        if self._native is None:
            # Not created yet (a lazily built model): clear whatever parameters exist.
            for p in self._lazy_source._collect_parameters() if self._lazy_source else []:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    np.asarray(p.grad)[...] = 0
            return
        self._native.zero_grad(set_to_none)

    @property
    def lr(self):
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value):
        self._validate({**self.param_groups[0], "lr": value})
        self.param_groups[0]["lr"] = value

    def state_dict(self):
        native = self._ensure_native()
        return {"state": {i: {"step": native.steps(i),
                              **{k: _copy(v) for k, v in native.state(i)}}
                          for i in range(len(native.params))},
                "param_groups": [{k: v for k, v in self.param_groups[0].items() if k != "params"}]}

    def load_state_dict(self, state_dict):
        """Loads what state_dict() returned (from this or another instance over parameters
        of the same shapes, as torch.optim): the hyperparameters of param_groups, the step
        counts and the state tensors (exp_avg, ...), written into this optimizer's own
        tensors in place. Everything is checked before anything changes."""
        self._load_state(state_dict, hyperparameters=True)

    def _load_state(self, state_dict, hyperparameters):
        who = f"{type(self).__name__}.load_state_dict"
        native = self._ensure_native()
        params = list(native.params)
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise TypeError(f"{who}: expected a dict with 'state' and 'param_groups' (as "
                            f"state_dict() returns), got {_describe(state_dict)}")
        group = self._loaded_group(who, state_dict["param_groups"], len(params))
        if not hyperparameters:
            group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        expected = self._state_names(group)
        loaded = self._loaded_state(who, state_dict["state"], params, expected)
        for i, (_, tensors) in enumerate(loaded):
            if not tensors and native.state(i):
                raise ValueError(
                    f"{who}: expected state for parameter {i} (this optimizer has "
                    f"{[k for k, _ in native.state(i)]}), got none (the saved optimizer never "
                    "updated it); its state cannot be dropped here: load into a new optimizer")

        # Checked: now change things.
        if hyperparameters:
            self.param_groups[0].update(group)
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
                np.asarray(mine[name])[...] = value
            native.set_steps(i, step)

    def _loaded_group(self, who, groups, count):
        if not isinstance(groups, (list, tuple)) or len(groups) != 1 or not isinstance(
                groups[0], dict):
            raise ValueError(f"{who}: expected param_groups to be a list of one dict (one "
                             f"parameter group), got {_describe(groups)}")
        group = dict(groups[0])
        indices = group.pop("params", None)  # torch's form lists the parameter indices
        initial_lr = group.pop("initial_lr", None)  # a learning-rate scheduler's, as torch
        if indices is not None and len(indices) != count:
            raise ValueError(f"{who}: expected a group of {count} parameters, got "
                             f"{len(indices)}")
        mine = set(self.defaults)
        if set(group) != mine:
            raise KeyError(f"{who}: expected param_groups with the keys {sorted(mine)}, got "
                           f"missing {sorted(mine - set(group))} and unexpected "
                           f"{sorted(set(group) - mine)}")
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
        self._validate(group)
        if initial_lr is not None:
            group["initial_lr"] = initial_lr
        return group

    def _loaded_state(self, who, state, params, expected):
        """[(step, {name: array})] per parameter, checked against ``expected`` names."""
        if not isinstance(state, dict):
            raise TypeError(f"{who}: expected state to be a dict by parameter index, got "
                            f"{_describe(state)}")
        missing = [i for i in range(len(params)) if i not in state]
        unexpected = [k for k in state if not (isinstance(k, (int, np.integer))
                                               and 0 <= k < len(params))]
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
            if entry and set(entry) != set(expected):
                raise ValueError(f"{who}: expected state[{i}] to hold {sorted(expected)} (or "
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

    def _state_names(self, group):
        """The state tensors this algorithm keeps per parameter under ``group``'s options,
        read from a throwaway C++ optimizer over a one-element parameter, so they are always
        the C++ ones."""
        dtype = self.param_groups[0]["params"][0].dtype
        probe = _C.full([1], 0.0, dtype)
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
        opts = ", ".join(f"{k}={v}" for k, v in self.param_groups[0].items() if k != "params")
        return f"{type(self).__name__}({opts})"


def _copy(t):
    return np.array(t, copy=True)


def _describe(value):
    return f"a {type(value).__name__}" if not isinstance(value, (list, tuple)) else repr(value)


class SGD(Optimizer):
    _native_class, _config_class = _C.SGD, _C.SGDConfig
    _fields = {"lr": "lr", "momentum": "momentum", "dampening": "dampening",
               "weight_decay": "weight_decay", "nesterov": "nesterov"}

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov momentum requires momentum > 0 and dampening = 0, "
                             f"got momentum={momentum}, dampening={dampening}")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=bool(nesterov)))


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
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"RMSprop: expected alpha in [0, 1), got {alpha}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=bool(centered)))


class Adagrad(Optimizer):
    _native_class, _config_class = _C.Adagrad, _C.AdagradConfig
    _fields = {"lr": "lr", "lr_decay": "lr_decay", "weight_decay": "weight_decay", "eps": "eps"}

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10):
        if initial_accumulator_value < 0:
            raise ValueError("Adagrad: expected initial_accumulator_value >= 0, got "
                             f"{initial_accumulator_value}")
        self._initial_accumulator_value = float(initial_accumulator_value)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      eps=eps))

    def _make_native(self, params, config):
        return _C.Adagrad(params, config, self._initial_accumulator_value)
