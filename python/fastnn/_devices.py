"""Device names as users give them ('cpu', 'cuda', 'cuda:1', fn.device(...))."""

from __future__ import annotations


def check_device(device) -> str:
    """The device's name ('cpu', 'cuda:N'); ValueError naming what is missing when unusable."""
    name = str(device)
    if name == "cpu":
        return name
    if name != "cuda" and not (name.startswith("cuda:") and name[5:].isdigit()):
        raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got '{name}'")
    from . import cuda

    cuda.require(name)
    return name if ":" in name else "cuda:0"
