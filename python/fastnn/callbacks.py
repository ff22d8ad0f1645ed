"""Callbacks for ``fit``: the Callback base class, History (what fit returns) and the
dispatcher for user callbacks (a Callback subclass, or any object with Keras's
on_train_begin / on_epoch_end / ... methods)."""

from __future__ import annotations

_HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
          "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
          "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
          "on_predict_batch_begin", "on_predict_batch_end")


class Callback:
    """Keras's base class: override the hooks you need (``on_epoch_end(self, epoch,
    logs=None)``, ``on_train_batch_begin(self, batch, logs=None)``, ...); ``self.model`` is
    the model being trained and ``self.params`` fit's settings. Hooks a subclass does not
    override cost nothing: fit keeps replaying whole epochs in C++ unless a per-batch hook
    is overridden."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = dict(params)


def _noop(self, *args, **kwargs):
    return None


for _hook in _HOOKS:
    setattr(Callback, _hook, _noop)


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


class _Callbacks:
    """Calls the hooks a callback defines (Keras's names); missing hooks are skipped."""

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
        return any(getattr(type(cb), hook, None) is not _noop
                   and getattr(cb, hook, None) is not None for cb in self.callbacks)

    def __call__(self, hook, *args):
        for cb in self.callbacks:
            method = getattr(cb, hook, None)
            if method is not None:
                method(*args)
