"""Optimizers with keras.optimizers' names, arguments and defaults.

``model.compile(optimizer=optimizers.Adam(learning_rate=1e-3))`` or
``model.compile(optimizer="adam")``. Each Keras optimizer binds the model's parameters at
compile (``build``) and runs the matching :mod:`fastnn.optim` optimizer underneath (the same
fused C++ update, one call per step); only the arguments are translated:

=================  ===========================================================================
Keras              fastnn.optim underneath
=================  ===========================================================================
SGD                SGD(lr, momentum, nesterov). Keras's ``m = momentum*m - lr*g; w += m`` is
                   torch's ``b = momentum*b + g; w -= lr*b`` for a constant learning rate.
Adam               Adam(lr, betas, epsilon, amsgrad) with ``epsilon_hat``: Keras adds epsilon
                   to sqrt(v) before the bias correction, torch after it; the kernel takes
                   Keras's placement when the flag is set.
AdamW              AdamW (decoupled ``w -= lr*weight_decay*w``, as Keras), epsilon as Adam.
RMSprop            RMSprop(lr, alpha=rho, epsilon, momentum, centered) with
                   ``eps_inside_sqrt``: Keras divides by sqrt(v + epsilon), torch by
                   sqrt(v) + eps.
Adagrad            Adagrad(lr, initial_accumulator_value, epsilon), ``eps_inside_sqrt`` too.
=================  ===========================================================================

Keras's ``weight_decay`` (every optimizer) is decoupled, ``w -= learning_rate*weight_decay*w``
before the update: the fused kernels do it with ``decoupled_weight_decay``. So every update
runs in C++ and a captured training step replays it; only ``clipvalue``, ``clipnorm`` and
``global_clipnorm`` are applied to the gradients in numpy before the step (fit then runs
eagerly, without capture).

``learning_rate`` may be a number or a schedule ``f(step) -> float`` (step counts from 0):
Keras's schedules are in ``fastnn.optimizers.schedules`` (ExponentialDecay,
PiecewiseConstantDecay, CosineDecay with warm-up, ...). ``optimizer.learning_rate = 1e-4``
changes it between steps; ``optimizer.iterations`` counts the steps taken.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import optim as _optim
from . import schedules  # keras.optimizers.schedules (fastnn/schedules.py)
from ._lookup import resolve
from .tensor import to_host, write_host


class Optimizer:
    """Base of the Keras-style optimizers: binds parameters, translates, steps."""

    _optim_class = None

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None):
        who = type(self).__name__
        self.name = name or _snake(who)
        self._learning_rate = self._checked_lr(learning_rate)
        self.weight_decay = _nonnegative(who, "weight_decay", weight_decay)
        self.clipnorm = _positive(who, "clipnorm", clipnorm)
        self.clipvalue = _positive(who, "clipvalue", clipvalue)
        self.global_clipnorm = _positive(who, "global_clipnorm", global_clipnorm)
        if sum(v is not None for v in (self.clipnorm, self.clipvalue, self.global_clipnorm)) > 1:
            raise ValueError(f"{who}: give at most one of clipnorm, clipvalue and global_clipnorm")
        for arg, value, default in (("use_ema", use_ema, False),
                                    ("loss_scale_factor", loss_scale_factor, None),
                                    ("gradient_accumulation_steps", gradient_accumulation_steps,
                                     None)):
            if value != default:
                raise NotImplementedError(f"{who}: {arg}={value!r} is not supported by fastnn yet")
        self.iterations = 0
        self._optim = None   # the fastnn.optim optimizer, created by build()
        self._model = None

    # --- binding -------------------------------------------------------------------------

    def build(self, var_list):
        """Binds the parameters to update (a list, or a model's ``parameters()``, which may
        still be lazy: the model's layers then build on the first call). State restarts."""
        self._optim = self._make(var_list)
        self.iterations = 0
        return self

    @property
    def built(self):
        return self._optim is not None

    def _make(self, params):
        raise NotImplementedError

    def _bound(self):
        if self._optim is None:
            raise RuntimeError(f"{type(self).__name__}: no parameters are bound yet; pass the "
                               "optimizer to model.compile(...) or call build(model.parameters())")
        return self._optim

    @property
    def variables(self):
        """The bound parameters (empty until they exist)."""
        if self._optim is None:
            return []
        return list(self._optim.param_groups[0]["params"])

    # --- stepping ------------------------------------------------------------------------

    def zero_grad(self, set_to_none: bool = True):
        self._bound().zero_grad(set_to_none)

    def step(self, closure=None):
        """One update of every bound parameter that has a gradient."""
        opt = self._bound()
        loss = closure() if closure is not None else None
        if self.clips:
            params = opt._ensure_native().params
            self._clip([p for p in params if p.grad is not None])
        self._before_step()
        opt.step()
        return loss

    @property
    def clips(self):
        """Whether gradients are clipped in numpy before each step (not capturable)."""
        return any(v is not None for v in (self.clipnorm, self.clipvalue, self.global_clipnorm))

    def _before_step(self):
        """Per-step Python work a captured step repeats before each replay: the learning
        rate (a schedule may change it) and the step count."""
        self._bound().param_groups[0]["lr"] = self._current_lr()
        self.iterations += 1

    def _replay_steps(self, count):
        """Prepares up to ``count`` replayed steps at once and returns how many: all of them
        for a constant learning rate, the next ones at the same rate for a schedule (each of
        them would set that rate). Returns 0, preparing nothing, when gradients are clipped
        in numpy or the schedule changes the rate at the next step (fit then runs that step
        alone, which costs less than a replayed run of one)."""
        if self.clips:
            return 0
        lr, run = self._current_lr(), count
        if callable(self._learning_rate):
            run = 1
            while run < count and float(self._learning_rate(self.iterations + run)) == lr:
                run += 1
            if run == 1:
                return 0
        self._bound().param_groups[0]["lr"] = lr
        self.iterations += run
        self._bound()._sync()
        return run

    def _sync(self):
        """Prepares a replayed step: what step() does before running the C++ update."""
        self._before_step()
        return self._bound()._sync()

    def apply_gradients(self, grads_and_vars):
        """Keras's form: ``apply_gradients(zip(grads, model.trainable_weights))``."""
        from .tensor import as_tensor

        pairs = list(grads_and_vars)
        variables = [v for _, v in pairs]
        if self._optim is None:
            self.build(variables)
        self.zero_grad(set_to_none=True)
        for g, v in pairs:
            if g is not None:
                grad = as_tensor(to_host(g).astype(np.dtype(v.dtype)).reshape(v.shape),
                                 dtype=v.dtype)
                v.grad = grad if v.device == "cpu" else grad.to_device(v.device)
        self.step()

    def _clip(self, params):
        # On the host: views of CPU gradients, copies of device ones (written back below).
        grads = [to_host(p.grad) for p in params]
        self._clip_arrays(grads)
        for p, g in zip(params, grads):
            if p.grad.device != "cpu":
                write_host(p.grad, g)

    def _clip_arrays(self, grads):
        if self.clipvalue is not None:
            for g in grads:
                np.clip(g, -self.clipvalue, self.clipvalue, out=g)
        elif self.clipnorm is not None:
            for g in grads:
                norm = float(np.sqrt(np.sum(np.square(g, dtype=np.float64))))
                if norm > self.clipnorm:
                    g *= self.clipnorm / norm
        elif self.global_clipnorm is not None:
            norm = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads))
            if norm > self.global_clipnorm:
                for g in grads:
                    g *= self.global_clipnorm / norm

    # --- learning rate -------------------------------------------------------------------

    def _checked_lr(self, value):
        if callable(value) and not isinstance(value, numbers.Number):
            return value
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
            raise ValueError(f"{type(self).__name__}: expected learning_rate to be a number >= 0 "
                             f"or a schedule f(step), got {value!r}")
        return float(value)

    def _current_lr(self):
        lr = self._learning_rate
        if callable(lr):
            lr = float(lr(self.iterations))
            if not lr >= 0:
                raise ValueError(f"{type(self).__name__}: the learning-rate schedule gave "
                                 f"{lr} at step {self.iterations}")
        return lr

    @property
    def learning_rate(self):
        return self._current_lr()

    @learning_rate.setter
    def learning_rate(self, value):
        self._learning_rate = self._checked_lr(value)

    lr = learning_rate

    # --- config --------------------------------------------------------------------------

    def get_config(self):
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            lr = schedules.serialize(lr)
        return {"name": self.name, "learning_rate": lr if not callable(lr) else repr(lr),
                "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "clipvalue": self.clipvalue, "global_clipnorm": self.global_clipnorm,
                **self._own_config()}

    def _own_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                    "gradient_accumulation_steps"):
            config.pop(key, None)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def state_dict(self):
        state = self._bound().state_dict()
        state["iterations"] = self.iterations
        return state

    def load_state_dict(self, state_dict):
        """Loads what state_dict() returned: the step counts, the slots (exp_avg, ...) and
        ``iterations``. The hyperparameters stay this optimizer's own, as Keras's
        optimizers load their variables only."""
        who = f"{type(self).__name__}.load_state_dict"
        iterations = state_dict.get("iterations") if isinstance(state_dict, dict) else None
        if isinstance(iterations, (bool, np.bool_)) or not isinstance(
                iterations, (int, np.integer)) or iterations < 0:
            raise ValueError(f"{who}: expected 'iterations' to be an integer >= 0 (as "
                             f"state_dict() gives), got {iterations!r}")
        self._bound()._load_state(state_dict, hyperparameters=False)
        self.iterations = int(iterations)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 **kwargs):
        super().__init__(learning_rate, weight_decay, **kwargs)
        if not _in_range(momentum, 0, 1):
            raise ValueError(f"SGD: expected momentum in [0, 1], got {momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def _make(self, params):
        return _flagged(_optim.SGD(params, lr=self._current_lr(), momentum=self.momentum,
                                   nesterov=self.nesterov and self.momentum > 0,
                                   weight_decay=self.weight_decay or 0.0),
                        decoupled_weight_decay=True)

    def _own_config(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, **kwargs):
        super().__init__(learning_rate, weight_decay, **kwargs)
        who = type(self).__name__
        for arg, b in (("beta_1", beta_1), ("beta_2", beta_2)):
            if isinstance(b, bool) or not isinstance(b, numbers.Real) or not 0 <= b < 1:
                raise ValueError(f"{who}: expected {arg} in [0, 1), got {b!r}")
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)
        self.epsilon = _nonnegative(who, "epsilon", epsilon)
        self.amsgrad = bool(amsgrad)

    def _make(self, params):
        cls = _optim.AdamW if self.weight_decay else _optim.Adam
        return _flagged(cls(params, lr=self._current_lr(), betas=(self.beta_1, self.beta_2),
                            eps=self.epsilon, weight_decay=self.weight_decay or 0.0,
                            amsgrad=self.amsgrad),
                        epsilon_hat=True)

    def _own_config(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, **kwargs):
        if weight_decay is None:
            raise ValueError("AdamW: weight_decay must be a number >= 0, got None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, **kwargs)



class RMSprop(Optimizer):
    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, **kwargs):
        super().__init__(learning_rate, weight_decay, **kwargs)
        if isinstance(rho, bool) or not isinstance(rho, numbers.Real) or not 0 <= rho < 1:
            raise ValueError(f"RMSprop: expected rho in [0, 1), got {rho!r}")
        if not _in_range(momentum, 0, 1):
            raise ValueError(f"RMSprop: expected momentum in [0, 1], got {momentum!r}")
        self.rho, self.momentum = float(rho), float(momentum)
        self.epsilon = _nonnegative("RMSprop", "epsilon", epsilon)
        self.centered = bool(centered)

    def _make(self, params):
        return _flagged(_optim.RMSprop(params, lr=self._current_lr(), alpha=self.rho,
                                       eps=self.epsilon, momentum=self.momentum,
                                       centered=self.centered,
                                       weight_decay=self.weight_decay or 0.0),
                        eps_inside_sqrt=True, decoupled_weight_decay=True)

    def _own_config(self):
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


class Adagrad(Optimizer):
    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, **kwargs):
        super().__init__(learning_rate, weight_decay, **kwargs)
        self.initial_accumulator_value = _nonnegative("Adagrad", "initial_accumulator_value",
                                                      initial_accumulator_value)
        self.epsilon = _nonnegative("Adagrad", "epsilon", epsilon)

    def _make(self, params):
        return _flagged(_optim.Adagrad(params, lr=self._current_lr(),
                                       initial_accumulator_value=self.initial_accumulator_value,
                                       eps=self.epsilon, weight_decay=self.weight_decay or 0.0),
                        eps_inside_sqrt=True, decoupled_weight_decay=True)

    def _own_config(self):
        return {"initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(identifier, who="optimizer"):
    """An optimizer from a Keras name, a Keras-style or fastnn.optim instance, or a class."""
    if isinstance(identifier, _optim.Optimizer):
        return identifier
    return resolve(identifier, kind="optimizer", base=Optimizer, names=_BY_NAME, who=who,
                   callables=False)


def _flagged(optimizer, **flags):
    """Sets Keras's variants of the algorithm on a fastnn.optim optimizer."""
    optimizer._flags = flags
    return optimizer


def _snake(name):
    return {"SGD": "sgd", "RMSprop": "rmsprop", "AdamW": "adamw"}.get(name, name.lower())


def _in_range(value, low, high):
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and low <= value <= high)


def _nonnegative(who, arg, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{who}: expected {arg} to be a number >= 0, got {value!r}")
    return float(value)


def _positive(who, arg, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{who}: expected {arg} to be a number > 0, got {value!r}")
    return float(value)


__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "get"]
