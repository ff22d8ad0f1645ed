"""CUDA device queries. The CUDA backend is a separate library; without it (or without a
GPU) everything runs on the CPU."""

from . import _C


def is_available() -> bool:
    return _C.has_cuda_backend()


def device_count() -> int:
    return 1 if is_available() else 0
