"""``keras.layers``: fastnn's layers under Keras 3's class names and aliases."""

from ..layers import *  # noqa: F401,F403 - the same classes
from ..layers import __all__ as _all

__all__ = list(_all)
