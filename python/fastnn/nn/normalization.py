"""(being written) PyTorch's normalization modules and their functional forms."""

from __future__ import annotations

#: The module classes fastnn.nn exports from this file.
__all__: list = []
#: The functions fastnn.nn.functional exports from this file.
FUNCTIONAL: list = []
