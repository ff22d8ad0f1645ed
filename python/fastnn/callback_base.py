"""The Callback base class (keras.callbacks.Callback), on its own so that the callbacks in
callbacks.py and model_checkpoint.py can both extend it; ``fastnn.callbacks.Callback`` is
this class."""

from __future__ import annotations

_HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
          "on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end",
          "on_test_begin", "on_test_end",
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
