"""Element types: ``fn.float32``, ``fn.int64``, ``fn.bool``, ... (PyTorch's names).

A dtype is its name as a string ("float32"), so ``t.dtype == "float32"`` keeps working, with
torch's attributes (``is_floating_point``, ``itemsize``). Aliases: ``float``/``float``
-> float32, ``double`` -> float64, ``int`` -> int32, ``long`` -> int64.
"""

from __future__ import annotations

import builtins

import numpy as np


class dtype(str):  # noqa: N801 - torch's name
    """A tensor element type (a ``str`` subclass holding the canonical name)."""

    __slots__ = ()

    @property
    def is_floating_point(self) -> bool:
        return self in ("float32", "float64")

    @property
    def is_signed(self) -> bool:
        return self != "bool"

    @property
    def itemsize(self) -> int:
        return _ITEMSIZE[self]

    def __repr__(self) -> str:
        return f"fastnn.{str.__str__(self)}"

    def __reduce__(self):
        return (dtype, (str(self),))


_ITEMSIZE = {"float32": 4, "float64": 8, "int32": 4, "int64": 8, "bool": 1}
float32 = dtype("float32")
float64 = dtype("float64")
int32 = dtype("int32")
int64 = dtype("int64")
bool_ = dtype("bool")
double = float64
long = int64
DTYPES = {str(d): d for d in (float32, float64, int32, int64, bool_)}
# The aliases that would shadow Python builtins where imported by name: fastnn/__init__.py
# serves them through a module __getattr__ (fn.float, fn.int, fn.bool).
BUILTIN_ALIASES = {"float": float32, "int": int32, "bool": bool_}

_NAMES = {
    "float32": float32, "float": float32, "float64": float64, "double": float64,
    "int32": int32, "int": int32, "int64": int64, "long": int64, "bool": bool_,
}


def as_dtype(value, who: str = "dtype") -> dtype:
    """A dtype from a dtype, a name ("float32", "long", ...), a numpy dtype or type, or a
    Python type (float -> float64, int -> int64, bool -> bool, as torch reads them)."""
    if isinstance(value, dtype):
        return value
    if isinstance(value, str):
        found = _NAMES.get(value.lower().removeprefix("torch.").removeprefix("fastnn."))
        if found is None:
            raise TypeError(f"{who}: expected a dtype (float32, float64, int32, int64, bool), "
                            f"got {value!r}")
        return found
    if value is builtins.float:
        return float64
    if value is builtins.int:
        return int64
    if value is builtins.bool:
        return bool_
    try:
        name = np.dtype(value).name
    except TypeError:
        name = None
    if name in DTYPES:
        return DTYPES[name]
    raise TypeError(f"{who}: expected a dtype (float32, float64, int32, int64, bool), got "
                    f"{value!r}")


# --- torch's type promotion -----------------------------------------------------------------

_CATEGORY = {"bool": 0, "int32": 1, "int64": 1, "float32": 2, "float64": 2}
_ORDER = {"bool": 0, "int32": 1, "int64": 2, "float32": 3, "float64": 4}
# The default dtype of a category, for Python numbers (and integer tensors in float ops).
_DEFAULT = {0: bool_, 1: int64, 2: float32}


def promote_types(a: str, b: str) -> dtype:
    """torch.promote_types: the smallest dtype both convert to without loss of kind."""
    return DTYPES[a if _ORDER[a] >= _ORDER[b] else b]


def category(d: str) -> int:
    return _CATEGORY[d]


def default_for(category_: int) -> dtype:
    return _DEFAULT[category_]


def scalar_category(value) -> int:
    if isinstance(value, (builtins.bool, np.bool_)):
        return 0
    if isinstance(value, (builtins.int, np.integer)):
        return 1
    return 2
