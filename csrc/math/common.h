// Per-element math shared by the CPU loops and the CUDA kernels: FASTNN_HOST_DEVICE marks
// a function that nvcc compiles for both, and the host compiler sees as a plain inline.
#pragma once

#include <cmath>

#if defined(__CUDACC__)
#define FASTNN_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define FASTNN_HOST_DEVICE inline
#endif
