"""CUDA device queries. The CUDA backend is a separate library (``libfastnn_cuda.so`` beside
``_C``), built when the build machine had nvcc and cuBLAS; it is loaded on first use, and
without it (or without a GPU) everything runs on the CPU.

``FASTNN_EMULATE_CUDA=1`` in the environment (read at the first CUDA query) registers two
stand-in CUDA devices instead: host memory running the CPU kernels, so the device paths —
placement, uploads, read-backs, fit on a device — can be tested without a GPU
(``FASTNN_EMULATE_CUDA=1 pytest -m cuda``; csrc/cpu/emulated_device.cpp). Only a GPU checks
the CUDA kernels themselves."""

import os

from . import _C

_LIBRARY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libfastnn_cuda.so")


def _load() -> str:
    """Loads the backend once; returns '' or why CUDA cannot be used."""
    if _C.has_cuda_backend():
        return ""
    if os.environ.get("FASTNN_EMULATE_CUDA", "") not in ("", "0"):
        _C.emulate_cuda_on_host(2)
        return ""
    if not os.path.exists(_LIBRARY):
        return _C.cuda_unavailable_reason()  # a build without CUDA
    return _C.load_cuda_backend(_LIBRARY)


def is_available() -> bool:
    """Whether a CUDA device can be used: a build with CUDA, its libraries, a driver and a GPU."""
    return _load() == ""


def unavailable_reason() -> str:
    """Why ``is_available()`` is False ('' when it is True)."""
    return _load()


def device_count() -> int:
    """The CUDA devices fastnn can use: 0 whenever is_available() is False."""
    return _C.cuda_device_count() if is_available() else 0


def get_device_name(index: int = 0) -> str:
    require(f"cuda:{index}")
    return _C.cuda_device_name(index)


def synchronize(device="cuda") -> None:
    """Waits until every kernel launched on ``device`` has finished."""
    require(str(device))
    _C.synchronize(str(device))


def require(device: str) -> None:
    """Raises ValueError naming what is missing when ``device`` (a CUDA name) is unusable."""
    why = _load()
    if why:
        raise ValueError(f"device '{device}' is not available: {why}")
    count = _C.cuda_device_count()
    index = int(device.split(":", 1)[1]) if ":" in device else 0
    if not 0 <= index < count:
        raise ValueError(f"device '{device}' is not available: this machine has {count} CUDA "
                         f"device{'s' if count != 1 else ''}")
