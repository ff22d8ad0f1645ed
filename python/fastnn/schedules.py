"""Learning-rate schedules with keras.optimizers.schedules' names, arguments and formulas
(Keras 3), reached as ``fastnn.optimizers.schedules``.

A schedule is the ``learning_rate`` of a :mod:`fastnn.optimizers` optimizer::

    lr = fn.optimizers.schedules.CosineDecay(0.0, decay_steps=1000, warmup_target=1e-3,
                                             warmup_steps=100)
    model.compile(optimizer=fn.optimizers.Adam(learning_rate=lr), loss=...)

The optimizer calls it with its step count (``optimizer.iterations``: 0 for the first
update) before each update; the rate reaches a captured training step through the tensor
its update kernel reads, and fit replays each run of steps that share one rate in one C++
call. Values are Python floats computed in double precision (Keras computes in the dtype of
``initial_learning_rate``, float32 for a Python float).
"""

from __future__ import annotations

import math
import numbers
import sys


def _positive(who, arg, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{who}: argument `{arg}` must be > 0. Received: {arg}={value!r}")
    return value


def _real(who, arg, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != value:
        raise ValueError(f"{who}: expected {arg} to be a number, got {value!r}")
    return value


class LearningRateSchedule:
    """Base class (keras.optimizers.schedules.LearningRateSchedule): implement
    ``__call__(self, step) -> float`` and, to be serializable, ``get_config``."""

    def __call__(self, step):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must "
                                  "override `__call__(self, step)`.")

    def get_config(self):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must "
                                  "override `get_config()` in order to be serializable.")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


class _TimeDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: their arguments and the decay's
    progress ``step / decay_steps`` (``floor`` of it with ``staircase``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
        who = type(self).__name__
        self.initial_learning_rate = _real(who, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive(who, "decay_steps", decay_steps)
        self.decay_rate = _real(who, "decay_rate", decay_rate)
        self.staircase = bool(staircase)
        self.name = name

    def _progress(self, step):
        p = step / self.decay_steps
        return math.floor(p) if self.staircase else p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_TimeDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; with ``staircase``
    the exponent is ``floor(step / decay_steps)``."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return float(self.initial_learning_rate * self.decay_rate ** self._progress(step))


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after ``boundaries[-1]``."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        who = type(self).__name__
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError("The length of boundaries should be 1 less than the length of "
                             f"values. Received: boundaries={boundaries} of length "
                             f"{len(boundaries)}, and values={values} of length {len(values)}.")
        for b in boundaries:
            _real(who, "boundaries", b)
        for v in values:
            _real(who, "values", v)
        if any(hi <= lo for lo, hi in zip(boundaries, boundaries[1:])):
            raise ValueError(f"{who}: expected strictly increasing boundaries, got {boundaries}")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return float(value)
        return float(self.values[-1])

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """``(initial - end) * (1 - step / decay_steps) ** power + end`` with ``step`` capped at
    ``decay_steps``; with ``cycle``, ``decay_steps`` becomes its first multiple at or above
    ``step`` (``decay_steps`` itself at step 0) instead."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001,
                 power=1.0, cycle=False, name="PolynomialDecay"):
        who = type(self).__name__
        self.initial_learning_rate = _real(who, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive(who, "decay_steps", decay_steps)
        self.end_learning_rate = _real(who, "end_learning_rate", end_learning_rate)
        self.power = _real(who, "power", power)
        self.cycle = bool(cycle)
        self.name = name

    def __call__(self, step):
        decay_steps = float(self.decay_steps)
        step = float(step)
        if self.cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / decay_steps)
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        return float((self.initial_learning_rate - self.end_learning_rate)
                     * (1 - p) ** self.power + self.end_learning_rate)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class InverseTimeDecay(_TimeDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``; with ``staircase``
    ``floor(step / decay_steps)`` instead of ``step / decay_steps``."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return float(self.initial_learning_rate / (1 + self.decay_rate * self._progress(step)))


class CosineDecay(LearningRateSchedule):
    """Cosine decay with an optional linear warm-up (Keras 3).

    Without ``warmup_target``: ``initial * ((1 - alpha) * 0.5 * (1 + cos(pi * s /
    decay_steps)) + alpha)`` with ``s = min(step, decay_steps)``. With ``warmup_target``:
    for ``step < warmup_steps`` the rate rises linearly, ``initial + (warmup_target -
    initial) * step / warmup_steps``; then the same cosine decays from ``warmup_target``
    over ``decay_steps`` steps counted from the warm-up's end (to ``warmup_target * alpha``,
    where it stays).
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        who = type(self).__name__
        self.initial_learning_rate = _real(who, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive(who, "decay_steps", decay_steps)
        self.alpha = _real(who, "alpha", alpha)
        self.name = name
        self.warmup_target = (None if warmup_target is None
                              else _real(who, "warmup_target", warmup_target))
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, numbers.Real) or (
                not warmup_steps >= 0):
            raise ValueError(f"{who}: expected warmup_steps to be a number >= 0, got "
                             f"{warmup_steps!r}")
        self.warmup_steps = warmup_steps

    def _decay(self, step, decay_from_lr):
        completed_fraction = step / self.decay_steps
        cosine_decayed = 0.5 * (1.0 + math.cos(math.pi * completed_fraction))
        decayed = (1 - self.alpha) * cosine_decayed + self.alpha
        return decay_from_lr * decayed

    def __call__(self, step):
        step = float(step)
        if self.warmup_target is None:
            return float(self._decay(min(step, self.decay_steps), self.initial_learning_rate))
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            completed_fraction = step / self.warmup_steps
            delta = self.warmup_target - self.initial_learning_rate
            return float(delta * completed_fraction + self.initial_learning_rate)
        return float(self._decay(step - self.warmup_steps, self.warmup_target))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): the multiplier decays from 1 to ``alpha``
    over ``first_decay_steps`` steps, then restarts; period ``i`` lasts ``t_mul ** i`` times
    longer and starts at ``m_mul ** i`` times the initial rate."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0,
                 alpha=0.0, name="SGDRDecay"):
        who = type(self).__name__
        self.initial_learning_rate = _real(who, "initial_learning_rate", initial_learning_rate)
        self.first_decay_steps = _positive(who, "first_decay_steps", first_decay_steps)
        self._t_mul = _positive(who, "t_mul", t_mul)
        self._m_mul = _real(who, "m_mul", m_mul)
        self.alpha = _real(who, "alpha", alpha)
        self.name = name

    def __call__(self, step):
        fraction = float(step) / self.first_decay_steps
        t_mul = float(self._t_mul)
        if t_mul == 1.0:
            i_restart = math.floor(fraction)
            fraction -= i_restart
        else:
            i_restart = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            sum_r = (1.0 - t_mul ** i_restart) / (1.0 - t_mul)
            fraction = (fraction - sum_r) / t_mul ** i_restart
        cosine_decayed = 0.5 * self._m_mul ** i_restart * (1.0 + math.cos(math.pi * fraction))
        decayed = (1 - self.alpha) * cosine_decayed + self.alpha
        return float(self.initial_learning_rate * decayed)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self._t_mul,
                "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


_BY_NAME = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay,
                                          PolynomialDecay, InverseTimeDecay, CosineDecay,
                                          CosineDecayRestarts)}


def serialize(learning_rate_schedule):
    """``{"class_name": ..., "config": ...}`` for a schedule (JSON-compatible)."""
    if not isinstance(learning_rate_schedule, LearningRateSchedule):
        raise TypeError(f"serialize: expected a LearningRateSchedule, got "
                        f"{type(learning_rate_schedule).__name__}")
    return {"module": "keras.optimizers.schedules",
            "class_name": type(learning_rate_schedule).__name__,
            "config": learning_rate_schedule.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    """The schedule ``serialize`` described (``custom_objects``: {name: class} for your own
    LearningRateSchedule subclasses)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"deserialize: expected a dict with 'class_name' and 'config' (as "
                         f"serialize returns), got {config!r}")
    classes = dict(_BY_NAME, **(custom_objects or {}))
    name = config["class_name"]
    if name not in classes:
        raise ValueError(f"deserialize: unknown learning-rate schedule {name!r}; expected one "
                         f"of {sorted(classes)} or a class passed in custom_objects")
    return classes[name].from_config(dict(config.get("config", {})))


# keras.optimizers.schedules: importable under fastnn.optimizers' name too.
sys.modules[__name__.rpartition(".")[0] + ".optimizers.schedules"] = sys.modules[__name__]

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay",
           "PolynomialDecay", "InverseTimeDecay", "CosineDecay", "CosineDecayRestarts",
           "serialize", "deserialize"]
