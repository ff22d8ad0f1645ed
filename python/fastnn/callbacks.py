"""Callbacks for ``fit``: History (what fit returns) and the dispatcher for user callbacks
(any object with Keras's on_train_begin / on_epoch_end / ... methods)."""

from __future__ import annotations


class History:
    """What ``fit`` returns: ``history`` ({"loss": [...], "accuracy": [...], "val_loss": ...}),
    ``epoch`` (the epoch indices run) and ``params`` (verbose, epochs, steps)."""

    def __init__(self):
        self.history: dict = {}
        self.epoch: list = []
        self.params: dict = {}
        self.model = None

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = dict(params)

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

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
        return any(getattr(cb, hook, None) is not None for cb in self.callbacks)

    def __call__(self, hook, *args):
        for cb in self.callbacks:
            method = getattr(cb, hook, None)
            if method is not None:
                method(*args)
