"""Weight regularizers (Keras names): penalties added to the training loss."""

from __future__ import annotations

from . import _C
from ._lookup import resolve


class Regularizer:
    def __call__(self, weight):
        raise NotImplementedError


class L1L2(Regularizer):
    """l1 * sum(|w|) + l2 * sum(w ** 2), one fused op."""

    def __init__(self, l1=0.0, l2=0.0):
        if l1 < 0 or l2 < 0:
            raise ValueError(f"{type(self).__name__}: expected l1 >= 0 and l2 >= 0, got l1={l1}, l2={l2}")
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, weight):
        return _C.weight_penalty(weight, self.l1, self.l2)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self):
        return f"{type(self).__name__}(l1={self.l1}, l2={self.l2})"


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)


l1, l2, l1_l2 = L1, L2, L1L2


_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}


def get(identifier, who="regularizer"):
    """None, a regularizer, a Keras name (l1, l2, l1_l2) or a callable(weight)."""
    if identifier is None:
        return None
    return resolve(identifier, kind="regularizer", base=Regularizer, names=_BY_NAME, who=who)
