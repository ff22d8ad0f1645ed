"""fastnn: train neural networks fast from Python.

C++ kernels (OpenBLAS for GEMM) with a C++ autograd engine, behind Keras-style layers and
models and PyTorch-style tensors, losses and optimizers.
"""

from . import _C
from .tensor import (Parameter, Tensor, as_tensor, enable_grad, is_grad_enabled, no_grad,
                     ones, rand, randn, set_grad_enabled, tensor, zeros)
from .functional import (add, concat, concatenate, dense, div, flatten, gelu, leaky_relu,
                         log_softmax, matmul, mean, mul, relu, reshape, sigmoid, softmax, sub,
                         sum, tanh)
from .functional import conv1d, conv2d, embedding
from .functional import (avg_pool1d, avg_pool2d, batch_norm, dropout, global_avg_pool2d,
                         global_max_pool2d, max_pool1d, max_pool2d)
# PyTorch's tensor functions and factories (fn.max(t, 1), fn.cat, fn.arange, ...); sum,
# mean and flatten take torch's arguments as well as the names above.
from .tensor_functions import *  # noqa: F401,F403
from .tensor import (Size, arange, device, empty, empty_like, eye, from_numpy, full, full_like,
                     is_tensor, linspace, ones_like, rand_like, randint, randn_like, zeros_like)
from .dtypes import double, dtype, float32, float64, int32, int64, long
from . import (activations, callbacks, cuda, datasets, functional, initializers, layers, losses,
               metrics, optim, regularizers)
from .layers import Layer
from .models import Model
from .sequential import Sequential
from . import data, optimizers, utils
from . import autograd, nn
from .autograd import GradientTape
from .functional import reduce_mean, reduce_sum
from . import saving
from .saving import load_model
from . import functional_model  # Model(inputs, outputs); load_model finds its class here
from .layers import Input
from . import keras

__version__ = _C.build_info()["version"]


def manual_seed(seed: int) -> None:
    """Seeds fastnn's generator (weight initialisation and every random op)."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"manual_seed: expected a non-negative integer, got {seed!r}")
    _C.manual_seed(seed % (1 << 64))


def get_rng_state():
    """The global generator's position: a numpy int64 array [seed, offset] (PyTorch's name).
    Saved beside a checkpoint and given back to ``set_rng_state`` in a new process, training
    draws the same shuffles and dropout masks it would have drawn."""
    import numpy as np

    return np.array(_C.generator_state(), dtype=np.int64, copy=True)


def set_rng_state(state) -> None:
    """Puts the global generator where ``get_rng_state`` found it."""
    import numpy as np

    value = np.asarray(state)
    if value.shape != (2,) or value.dtype.kind not in "iu":
        raise ValueError(f"set_rng_state: expected the int64 [seed, offset] array that "
                         f"get_rng_state returns, got {value.dtype} of shape {value.shape}")
    np.asarray(_C.generator_state())[...] = value.astype(np.int64)


def __getattr__(name):
    # fn.float, fn.int, fn.bool (torch's dtype names) would shadow Python's builtins inside
    # this module if they were globals here.
    from .dtypes import BUILTIN_ALIASES

    if name in BUILTIN_ALIASES:
        return BUILTIN_ALIASES[name]
    raise AttributeError(f"module 'fastnn' has no attribute '{name}'")


def set_num_threads(n: int) -> None:
    """Threads of the pool that runs every CPU kernel, GEMMs included (<= 0: one per core)."""
    _C.set_num_threads(int(n))


def get_num_threads() -> int:
    return _C.get_num_threads()


def set_float32_matmul_precision(precision: str) -> None:
    """PyTorch's: "highest" (default) keeps float32 GEMMs in float32; "high"/"medium" let
    the CUDA backend use TF32 tensor cores (the CPU always computes in float32)."""
    _C.set_float32_matmul_precision(precision)


def get_float32_matmul_precision() -> str:
    return _C.get_float32_matmul_precision()


def set_conv_algorithm(algorithm: str) -> None:
    """How stride-1 3x3 convolutions compute: "auto" (the default) uses Winograd F(4x4, 3x3)
    for float32 layers with >= 16 channels and filters (4x fewer multiply-adds, float32
    rounding a little further from the exact result, as cuDNN's Winograd), "gemm" always
    lowers them to one GEMM (im2col), "winograd" uses Winograd for every such convolution."""
    _C.set_conv_algorithm(algorithm)


def get_conv_algorithm() -> str:
    return _C.get_conv_algorithm()


def info() -> dict:
    """Version, build options, BLAS, its kernel and threads."""
    return dict(_C.build_info())


__all__ = [
    "Tensor", "Parameter", "tensor", "as_tensor", "zeros", "ones", "rand", "randn",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "manual_seed",
    "get_rng_state", "set_rng_state",
    "set_num_threads", "get_num_threads", "set_conv_algorithm", "get_conv_algorithm", "info", "Model", "Layer", "layers", "losses",
    "optim", "initializers", "regularizers", "activations", "functional", "datasets", "cuda",
    "callbacks", "metrics",
    "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softmax", "log_softmax", "matmul",
    "dense", "add", "sub", "mul", "div", "sum", "mean", "reshape", "flatten", "concat",
    "concatenate", "Sequential", "data", "optimizers", "utils",
    "conv1d", "conv2d", "embedding",
    "max_pool2d", "avg_pool2d", "max_pool1d", "avg_pool1d", "global_avg_pool2d",
    "global_max_pool2d", "dropout", "batch_norm", "saving", "load_model", "Input", "keras",
    "autograd", "GradientTape", "reduce_mean", "reduce_sum", "set_float32_matmul_precision",
    "get_float32_matmul_precision", "nn",
]
