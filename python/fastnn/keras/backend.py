"""``keras.backend``: the few questions Keras code asks of its backend."""

from ..symbolic import KerasTensor


def backend():
    return "fastnn"


def floatx():
    """The default float type of layers' weights: float32 (a layer takes dtype="float64")."""
    return "float32"


def set_floatx(value):
    if value != "float32":
        raise ValueError(f"keras.backend.set_floatx: fastnn layers are float32 unless made "
                         f"with dtype='float64' each; got {value!r}")


def epsilon():
    return 1e-7


def image_data_format():
    """fastnn's layers are channels-last (NHWC), as Keras's default."""
    return "channels_last"


def is_keras_tensor(x):
    return isinstance(x, KerasTensor)


def clear_session(free_memory=True):
    """Restarts the automatic layer names (dense, dense_1, ... start again), as Keras's
    clear_session does; models already made keep theirs."""
    from ..layers import base

    base._name_counts.clear()


__all__ = ["backend", "floatx", "set_floatx", "epsilon", "image_data_format",
           "is_keras_tensor", "clear_session"]
