"""ModelCheckpoint (keras.callbacks.ModelCheckpoint): saves the model during ``fit``. Kept
apart from callbacks.py, whose base class it extends; ``fastnn.callbacks.ModelCheckpoint``
is this class."""

from __future__ import annotations

import numbers
import os
import warnings

from .callback_base import Callback


class ModelCheckpoint(Callback):
    """Saves the model during ``fit`` (Keras's ModelCheckpoint): ``model.save(path)``, or
    ``model.save_weights(path)`` with ``save_weights_only``.

    ``filepath`` may hold format fields filled from the epoch (counted from 1, as Keras
    prints it) and the epoch's logs: ``"ckpt/{epoch:02d}-{val_loss:.2f}.fastnn"``; missing
    folders are created. ``save_freq="epoch"`` saves at each epoch's end; an integer n
    saves after every n batches (with the batch's logs, and ``{batch}`` in the path; fit
    then runs step by step instead of replaying whole epochs in C++). With
    ``save_best_only`` a file is written only when ``monitor`` improved on the best value
    so far (``initial_value_threshold`` to start from): lower is better for ``mode="min"``,
    higher for ``"max"``, and ``"auto"`` takes "max" for names holding "acc", "auc" or
    starting with "fmeasure", else "min". A monitor missing from the logs skips the save
    with a warning. Each file is written atomically (a failed save keeps the previous one).
    """

    def __new__(cls, *args, **kwargs):
        # Only an integer save_freq needs the per-batch hook; a class without it lets fit
        # keep replaying whole epochs in C++.
        save_freq = kwargs.get("save_freq", args[6] if len(args) > 6 else "epoch")
        if not isinstance(save_freq, str) and not issubclass(cls, _EveryBatches):
            cls = _every_batches(cls)
        return super().__new__(cls)

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        who = "ModelCheckpoint"
        filepath = os.fspath(filepath)
        if not isinstance(filepath, str) or not filepath:
            raise ValueError(f"{who}: expected filepath to be a non-empty path, got {filepath!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{who}: expected mode 'auto', 'min' or 'max', got {mode!r}")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(
                save_freq, numbers.Integral) or save_freq <= 0):
            raise ValueError(f"{who}: expected save_freq to be 'epoch' or a positive number "
                             f"of batches, got {save_freq!r}")
        if not isinstance(monitor, str):
            raise ValueError(f"{who}: expected monitor to be a metric name, got {monitor!r}")
        self.filepath = filepath
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.save_freq = save_freq
        if mode == "auto":
            name = monitor[4:] if monitor.startswith("val_") else monitor
            mode = "max" if ("acc" in name or "auc" in name or name.startswith("fmeasure")) \
                else "min"
        self.mode = mode
        self.best = float(initial_value_threshold) if initial_value_threshold is not None else (
            float("inf") if mode == "min" else float("-inf"))
        self._current_epoch = 0
        self._batches_since_save = 0

    def _improved(self, current):
        return current < self.best if self.mode == "min" else current > self.best

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs or {})

    def _file_path(self, epoch, batch, logs):
        fields = {**logs, "epoch": epoch + 1}
        if batch is not None:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: the filepath {self.filepath!r} names the field "
                           f"{e.args[0]!r}, which the logs do not have (they hold: "
                           f"{', '.join(fields)})") from None

    def _save(self, epoch, batch, logs):

        path = self._file_path(epoch, batch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"ModelCheckpoint: can save the best model only with "
                              f"{self.monitor} available; the logs hold {', '.join(logs)}. "
                              "Skipping.", stacklevel=3)
                return
            current = float(current)
            if not self._improved(current):
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from "
                          f"{self.best:.5f}")
                return
            if self.verbose:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{current:.5f}, saving model to {path}")
            self.best = current
        elif self.verbose:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)


class _EveryBatches:
    """What ModelCheckpoint(save_freq=n) adds: a save after every n batches."""

    def on_train_batch_end(self, batch, logs=None):
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, batch, logs or {})


_every_batches_classes: dict = {}


def _every_batches(cls):
    """``cls`` with the per-batch hook (made once per class; instances stay instances of
    ``cls``)."""
    made = _every_batches_classes.get(cls)
    if made is None:
        made = type(cls.__name__, (_EveryBatches, cls),
                    {"__module__": cls.__module__, "__qualname__": cls.__qualname__})
        _every_batches_classes[cls] = made
    return made
