// Per-element math shared by the CPU loops and the CUDA kernels: FASTNN_HOST_DEVICE marks
// a function that nvcc compiles for both, and the host compiler sees as a plain inline.
#pragma once

#include <cmath>

#if defined(__CUDACC__)
#define FASTNN_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define FASTNN_HOST_DEVICE inline
#endif

namespace fastnn::math {
// The float overloads: an unqualified exp(x) on a float would otherwise call the double
// function (and convert twice per element).
using std::erf;
using std::erfc;
using std::exp;
using std::fma;
using std::log;
using std::log1p;
using std::sqrt;
using std::tanh;
}  // namespace fastnn::math
