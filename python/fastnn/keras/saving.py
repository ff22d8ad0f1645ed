"""``keras.saving``: fastnn's safetensors model files (``model.save(path)``) and the
registry of custom objects."""

from ..saving import (get_custom_objects, get_registered_name, get_registered_object,
                      load_model, load_weights, register_keras_serializable, save_model,
                      save_weights)

__all__ = ["load_model", "save_model", "load_weights", "save_weights",
           "register_keras_serializable", "get_custom_objects", "get_registered_name",
           "get_registered_object"]
