"""``fastnn.nn.init``: PyTorch's initialisers, in place on a parameter."""

from __future__ import annotations

__all__: list = []
