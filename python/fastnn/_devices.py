"""Device names as users give them ('cpu', 'cuda', 'cuda:1', fn.device(...))."""

from __future__ import annotations


def device_name(device) -> str:
    """'cpu' or 'cuda:N' for a device name ('cuda' is 'cuda:0'); ValueError for any other
    spelling. Says nothing about whether the device exists (torch.device("cuda") neither)."""
    name = str(device)
    if name == "cpu":
        return name
    if name != "cuda" and not (name.startswith("cuda:") and name[5:].isdigit()):
        raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got '{name}'")
    return name if ":" in name else "cuda:0"


def check_device(device) -> str:
    """The device's name ('cpu', 'cuda:N'); ValueError naming what is missing when unusable."""
    name = device_name(device)
    if name != "cpu":
        from . import cuda

        cuda.require(str(device))
    return name
