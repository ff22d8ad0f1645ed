"""Callbacks for ``fit``: the Callback base class, History (what fit returns), Keras's
built-in callbacks and the dispatcher for user callbacks (a Callback subclass, or any object
with Keras's on_train_begin / on_epoch_end / ... methods).

The built-in ones (EarlyStopping, ReduceLROnPlateau, LearningRateScheduler, CSVLogger,
LambdaCallback) follow keras.callbacks (Keras 3) argument by argument and decision by
decision; where fastnn differs the class says so. All but LambdaCallback act at epoch
boundaries only, so fit keeps replaying each epoch's batches in one C++ call with them; a
learning rate they set between epochs reaches the captured step, which reads it from a
tensor. They work with a Keras-style optimizer (fastnn.optimizers: ``learning_rate``) and
with a PyTorch-style one given to compile (fastnn.optim: ``param_groups[0]["lr"]``).
"""

from __future__ import annotations

import collections.abc
import csv
import numbers
import operator
import os
import warnings

import numpy as np

from .callback_base import _HOOKS, Callback, _noop  # noqa: F401 - Callback is public here
from .model_checkpoint import ModelCheckpoint  # noqa: F401 - public here


class History(Callback):
    """What ``fit`` returns: ``history`` ({"loss": [...], "accuracy": [...], "val_loss": ...}),
    ``epoch`` (the epoch indices run) and ``params`` (verbose, epochs, steps);
    ``plot(path)`` draws the curves."""

    def __init__(self):
        super().__init__()
        self.history: dict = {}
        self.epoch: list = []
        self.epochs_of: dict = {}  # key -> the epochs it was logged at (validation_freq)

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
            self.epochs_of.setdefault(key, []).append(epoch)

    def plot(self, path=None, metrics=None):
        """Loss and metric curves, training and validation, one panel per metric, saved to
        ``path`` (a PNG) when given; returns the matplotlib Figure. Needs matplotlib
        (``pip install 'fastnn[plot]'``)."""
        from .progress import plot_history

        return plot_history(self, path, metrics)

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


# --- learning rates and monitored values -----------------------------------------------------


def _get_lr(optimizer, who):
    """The optimizer's current learning rate as a Python float."""
    if hasattr(optimizer, "learning_rate"):
        return float(optimizer.learning_rate)
    if hasattr(optimizer, "param_groups"):  # fastnn.optim, given to compile
        return float(optimizer.param_groups[0]["lr"])
    raise ValueError(f'{who}: the optimizer must have a "learning_rate" attribute, got '
                     f"{type(optimizer).__name__}")


def _set_lr(optimizer, value, who):
    if callable(getattr(optimizer, "_learning_rate", None)):
        # Keras refuses too: the schedule would be silently replaced by a constant.
        raise TypeError(f"{who}: this optimizer was created with a learning-rate schedule as "
                        "its learning_rate, so its learning rate is not settable; create it "
                        "with a float learning_rate to change the rate from a callback")
    if hasattr(optimizer, "learning_rate"):
        optimizer.learning_rate = value
    elif hasattr(optimizer, "param_groups"):
        # Several groups (torch's): each keeps its ratio to the first group's rate.
        groups = optimizer.param_groups
        first = float(groups[0]["lr"])
        for group in groups:
            group["lr"] = value if first == 0 else float(group["lr"]) * (value / first)
        groups[0]["lr"] = value
    else:
        raise ValueError(f'{who}: the optimizer must have a "learning_rate" attribute, got '
                         f"{type(optimizer).__name__}")


# The direction of the metrics compile accepts by name, as Keras 3's metric objects
# declare it (their ``_direction``): accuracies go up, errors and cross-entropies down.
_UP = {"accuracy", "acc", "binary_accuracy", "categorical_accuracy",
       "sparse_categorical_accuracy", "top_k_categorical_accuracy",
       "sparse_top_k_categorical_accuracy"}
_DOWN = {"mse", "mean_squared_error", "mae", "mean_absolute_error", "binary_crossentropy",
         "categorical_crossentropy", "sparse_categorical_crossentropy"}


def _metric_direction(spec):
    """"up", "down" or None for one compiled metric (fastnn.compiled_metrics._Metric)."""
    for obj in (spec.stateful, spec.fn):
        direction = getattr(obj, "_direction", None)
        if direction in ("up", "down"):
            return direction
    name = getattr(spec, "base_name", spec.name)  # "accuracy" of output cls's "cls_accuracy"
    name = name.lower() if isinstance(name, str) else None
    return "up" if name in _UP else "down" if name in _DOWN else None


def _monitor_op(who, model, monitor, mode):
    """Keras 3's rule: "min" -> less, "max" -> greater; "auto": the loss is minimized, a
    compiled metric goes the way it declares (accuracies up); anything else is an error."""
    if mode == "min":
        return operator.lt
    if mode == "max":
        return operator.gt
    name = monitor[4:] if monitor.startswith("val_") else monitor
    # The loss, and each output's loss of a model with several ("cls_loss"), go down.
    op = operator.lt if name == "loss" or name in getattr(model, "_output_loss_names", ()) \
        else None
    for spec in getattr(model, "_metric_specs", ()):
        if spec.name == name:
            direction = _metric_direction(spec)
            if direction is not None:
                op = operator.gt if direction == "up" else operator.lt
    if op is None:
        raise ValueError(f"{who} callback received monitor={monitor} but fastnn isn't able to "
                         "automatically determine whether that metric should be maximized or "
                         "minimized. Pass `mode='max'` in order to monitor the highest metric "
                         "value, or pass `mode='min'` in order to use the lowest value.")
    return op


def _checked_mode(who, mode):
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{who} mode {mode} is unknown, fallback to auto mode.", stacklevel=3)
        return "auto"
    return mode


def _number(who, arg, value, low=None, allow_none=False, integer=False):
    if value is None and allow_none:
        return None
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kind) or (
            low is not None and not value >= low) or value != value:
        expected = "an integer" if integer else "a number"
        bound = f" >= {low}" if low is not None else ""
        raise ValueError(f"{who}: expected {arg} to be {expected}{bound}, got {value!r}")
    return int(value) if integer else float(value)


def _check_monitor(who, monitor):
    if not isinstance(monitor, str):
        raise TypeError(f"{who}: expected monitor to be the name of a logged quantity (a "
                        f"string such as 'val_loss'), got {monitor!r}")
    return monitor


# --- EarlyStopping ---------------------------------------------------------------------------


class EarlyStopping(Callback):
    """Stops training when a monitored quantity has stopped improving (Keras 3's
    ``keras.callbacks.EarlyStopping``, same arguments and decisions).

    At each epoch's end (from ``start_from_epoch`` on) the value ``logs[monitor]`` counts
    as an improvement when it beats the best so far by more than ``min_delta``
    (``mode``: "min", "max", or "auto": the loss and errors are minimized, accuracies
    maximized). After ``patience`` epochs in a row without one (and never in the first
    epoch) it sets ``model.stop_training``; fit stops after that epoch. With ``baseline``,
    the count restarts only on epochs that improve on the best value *and* on the baseline,
    so training stops after ``patience`` epochs unless the baseline is beaten.

    ``restore_best_weights``: keeps a copy of the weights at the end of the best epoch and
    writes it back into the model, in place, when training ends — whether this callback
    stopped it or not (Keras 3's behaviour; Keras 2 restored only on an early stop). The
    epochs before ``start_from_epoch`` are never candidates.

    After fit: ``stopped_epoch`` (0 if it did not stop training), ``best``, ``best_epoch``,
    ``wait``.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        who = "EarlyStopping"
        self.monitor = _check_monitor(who, monitor)
        self.patience = _number(who, "patience", patience, 0, integer=True)
        self.verbose = verbose
        self.baseline = _number(who, "baseline", baseline, allow_none=True)
        self.min_delta = abs(_number(who, "min_delta", min_delta))
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = bool(restore_best_weights)
        self.best_weights = None
        self.best = None
        self.best_epoch = 0
        self.start_from_epoch = _number(who, "start_from_epoch", start_from_epoch, 0,
                                        integer=True)
        self.mode = _checked_mode(who, mode)
        self.monitor_op = None

    def _set_monitor_op(self):
        self.monitor_op = _monitor_op("EarlyStopping", self.model, self.monitor, self.mode)
        if self.monitor_op is operator.lt:
            self.min_delta *= -1

    def on_train_begin(self, logs=None):
        # Instances can be reused by later fits.
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()  # here, once the compiled metrics are known
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # The first monitored epoch's weights are the best until one improves on them.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch

        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # The count restarts only when the value beats both the best and the baseline.
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return

        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping", flush=True)
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print("Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.", flush=True)
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(list(logs.keys()))}",
                          stacklevel=3)
        return value

    def _is_improvement(self, value, reference):
        if reference is None:
            return True
        return self.monitor_op(value - self.min_delta, reference)


# --- ReduceLROnPlateau -----------------------------------------------------------------------


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by ``factor`` when a monitored quantity has stopped
    improving for ``patience`` epochs (Keras 3's ``keras.callbacks.ReduceLROnPlateau``).

    An epoch improves when its value beats the best by more than ``min_delta``
    (``mode`` "auto": maximized when "acc" is in the monitor's name, else minimized — Keras's
    rule for this callback). After a reduction, ``cooldown`` epochs pass without counting;
    the rate never goes below ``min_lr``. Each epoch's logs get ``"learning_rate"``: the rate
    that epoch trained with (read before any reduction, as Keras does).
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        super().__init__()
        who = "ReduceLROnPlateau"
        self.monitor = _check_monitor(who, monitor)
        factor = _number(who, "factor", factor, 0)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received "
                             f"factor={factor}")
        self.factor = factor
        self.min_lr = _number(who, "min_lr", min_lr, 0)
        self.min_delta = _number(who, "min_delta", min_delta)
        self.patience = _number(who, "patience", patience, 0, integer=True)
        self.verbose = verbose
        self.cooldown = _number(who, "cooldown", cooldown, 0, integer=True)
        self.cooldown_counter = 0
        self.wait = 0
        self.best = 0
        self.mode = mode
        self.monitor_op = None
        self._reset()

    def _reset(self):
        """Resets the best value, the wait and the cooldown counters."""
        self.mode = _checked_mode("Learning rate reduction", self.mode)
        if self.mode == "min" or (self.mode == "auto" and "acc" not in self.monitor):
            self.monitor_op = lambda a, b: a < b - self.min_delta
            self.best = np.inf
        else:
            self.monitor_op = lambda a, b: a > b + self.min_delta
            self.best = -np.inf
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        who = "ReduceLROnPlateau"
        logs = logs if logs is not None else {}
        logs["learning_rate"] = _get_lr(self.model.optimizer, who)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` "
                          "which is not available. Available metrics are: "
                          f"{','.join(list(logs.keys()))}.", stacklevel=3)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self.monitor_op(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = _get_lr(self.model.optimizer, who)
                if old_lr > np.float32(self.min_lr):  # Keras compares with float32 min_lr
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    _set_lr(self.model.optimizer, new_lr, who)
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                              f"to {new_lr}.", flush=True)
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def in_cooldown(self):
        return self.cooldown_counter > 0


# --- LearningRateScheduler -------------------------------------------------------------------


class LearningRateScheduler(Callback):
    """Sets the learning rate at each epoch's start to ``schedule(epoch, lr)`` (epoch from
    0, ``lr`` the current rate; a one-argument ``schedule(epoch)`` works too), as Keras 3's
    ``keras.callbacks.LearningRateScheduler``. The schedule must return a float. Each
    epoch's logs get ``"learning_rate"``."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: expected schedule to be a function "
                            f"schedule(epoch, lr) -> float, got {type(schedule).__name__}")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        who = "LearningRateScheduler"
        optimizer = self.model.optimizer
        try:
            learning_rate = self.schedule(epoch, _get_lr(optimizer, who))
        except TypeError:  # Keras's fallback for schedule(epoch)
            learning_rate = self.schedule(epoch)
        if not isinstance(learning_rate, (float, np.float32, np.float64)):
            raise ValueError("The output of the `schedule` function should be a float. "
                             f"Got: {learning_rate}")
        _set_lr(optimizer, float(learning_rate), who)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                  f"{learning_rate}.", flush=True)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _get_lr(self.model.optimizer, "LearningRateScheduler")


# --- CSVLogger -------------------------------------------------------------------------------


class CSVLogger(Callback):
    """Writes one CSV row per epoch: ``epoch`` (from 0) and the epoch's logs, columns in
    sorted key order fixed by the first epoch (missing values "NA"), as Keras 3's
    ``keras.callbacks.CSVLogger``. ``append=True`` appends to an existing file and writes
    the header only if the file was empty. Rows end in "\\r\\n" (the csv module's default
    dialect) and are flushed as they are written."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger: expected separator to be one character, got "
                             f"{separator!r}")
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = bool(append)
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, "r", newline="") as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode, newline="")
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}

        def handle_value(k):
            is_zero_dim_ndarray = isinstance(k, np.ndarray) and k.ndim == 0
            if isinstance(k, str):
                return k
            if isinstance(k, collections.abc.Iterable) and not is_zero_dim_ndarray:
                return f'"[{", ".join(map(str, k))}]"'
            return k

        if self.keys is None:
            self.keys = sorted(logs.keys())
            # Validation columns the model is expected to produce (Keras's rule).
            for name in getattr(self.model, "metrics_names", ()):
                if name.startswith("val_") and name not in self.keys:
                    self.keys.append(name)

        if not self.writer:
            class CustomDialect(csv.excel):
                delimiter = self.sep

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys,
                                         dialect=CustomDialect)
            if self.append_header:
                self.writer.writeheader()

        row = {"epoch": epoch}
        row.update((key, handle_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


# --- LambdaCallback --------------------------------------------------------------------------


class LambdaCallback(Callback):
    """A callback made of functions (Keras 3's ``keras.callbacks.LambdaCallback``):
    ``on_epoch_begin(epoch, logs)``, ``on_epoch_end(epoch, logs)``, ``on_train_begin(logs)``,
    ``on_train_end(logs)``, ``on_train_batch_begin(batch, logs)``,
    ``on_train_batch_end(batch, logs)``; other hooks by keyword (``on_batch_begin``,
    ``on_batch_end``: Keras's aliases of the train-batch hooks). Batch functions get ``logs``
    as a keyword argument. Only a batch function makes fit leave its one-call epochs."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        given = dict(kwargs, on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end)
        for name, function in given.items():
            if function is None:
                continue
            if name.startswith("on_") and not callable(function):
                raise TypeError(f"LambdaCallback: expected {name} to be a function, got "
                                f"{type(function).__name__}")
            setattr(self, name, function)


# --- the dispatcher --------------------------------------------------------------------------

# Keras's backwards-compatible aliases: Callback.on_train_batch_begin calls on_batch_begin
# unless a subclass overrides it.
_ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


def _hook_method(cb, name):
    """The method ``cb`` runs for hook ``name`` (a method, or a function set on the instance
    as LambdaCallback does), or None where it has only Callback's empty default."""
    method = getattr(cb, name, None)
    if method is not None and getattr(method, "__func__", None) is not _noop:
        return method
    return _hook_method(cb, _ALIASES[name]) if name in _ALIASES else None


class _Callbacks:
    """Calls the hooks a callback defines (Keras's names); missing hooks are skipped. Batch
    hooks get ``logs`` as a keyword, as Keras passes it."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if hasattr(cb, "set_model"):
                cb.set_model(model)
            elif hasattr(cb, "model"):
                cb.model = model
            if hasattr(cb, "set_params"):
                cb.set_params(params)

    def wants(self, hook):
        """Whether any callback defines ``hook`` (fit skips building per-batch logs if not)."""
        return any(_hook_method(cb, hook) is not None for cb in self.callbacks)

    def __call__(self, hook, *args):
        batch = "batch" in hook
        for cb in self.callbacks:
            method = _hook_method(cb, hook)
            if method is None:
                continue
            if batch:
                method(args[0], logs=args[1])
            else:
                method(*args)
