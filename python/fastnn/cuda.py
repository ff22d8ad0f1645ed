"""CUDA device queries. The CUDA backend is a separate library; without it (or without a
GPU) everything runs on the CPU."""

from . import _C


def is_available() -> bool:
    return _C.has_cuda_backend()


def device_count() -> int:
    """The CUDA devices fastnn can use: 0 whenever is_available() is False.

    The build reports only whether a CUDA backend is registered (``_C.has_cuda_backend``;
    ``build_info()["cuda"]`` says whether one was compiled). A registered backend has at
    least one device; how many more it sees comes from ``_C.cuda_device_count`` once the
    backend binds it, and until then the count is the one device it is known to have.
    """
    if not is_available():
        return 0
    count = getattr(_C, "cuda_device_count", None)
    return int(count()) if count is not None else 1
