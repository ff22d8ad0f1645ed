"""Finding the files keras.datasets' loaders read."""

import os

import numpy as np

STANDIN = ("fastnn.datasets.load_digits_images(size, channels) gives bundled stand-in images "
           "of the same form without any file")


def cache_dir():
    """Where Keras keeps what it downloads: $KERAS_HOME/datasets, else ~/.keras/datasets."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "datasets")


def find(who, path, default, where):
    """``path`` as given when it exists, else the same name in Keras's cache; a
    FileNotFoundError saying where to get it otherwise."""
    path = default if path is None else os.fspath(path)
    for candidate in (path, os.path.join(cache_dir(), path)):
        if os.path.exists(candidate):
            return candidate
    raise FileNotFoundError(f"{who}: fastnn downloads nothing, and {path!r} is neither a path "
                            f"nor in Keras's cache {cache_dir()!r}; get it from {where} and "
                            f"pass its path (or put it in the cache). {STANDIN}")


def load_npz(who, path, keys):
    """The arrays ``keys`` of an .npz file (no pickled objects)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in keys if k not in f.files]
            if missing:
                raise ValueError(f"{who}: {path!r} lacks the arrays {missing} (it holds "
                                 f"{f.files})")
            return [f[k] for k in keys]
    except (OSError, ValueError) as e:
        if isinstance(e, ValueError) and str(e).startswith(who):
            raise
        raise ValueError(f"{who}: {path!r} is not a readable .npz file ({e})") from e
