"""Keras-style lookup of losses, optimizers, initializers and regularizers by identifier."""

from __future__ import annotations


def resolve(identifier, *, kind, base, names, who, callables=True, hint=""):
    """An instance of ``base`` as it is; a name from ``names`` (any case) or a subclass of
    ``base``, instantiated with defaults; any callable when ``callables``. Anything else is a
    ValueError (unknown name) or TypeError naming ``who`` and what was expected."""
    if isinstance(identifier, base):
        return identifier
    if isinstance(identifier, str):
        cls = names.get(identifier.lower())
        if cls is None:
            raise ValueError(f"{who}: unknown {kind} {identifier!r}; expected one of "
                             f"{', '.join(sorted(names))}{hint}")
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, base):
        return identifier()
    if callables and callable(identifier):
        return identifier
    raise TypeError(f"{who}: expected a {kind} name, a {kind} object"
                    f"{' or a callable' if callables else ''}, got {type(identifier).__name__}")
