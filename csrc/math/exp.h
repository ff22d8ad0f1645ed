// exp (and tanh) for the CPU's vector loops. glibc's expf is a scalar call, so a loop over it
// cannot vectorise; this one is plain arithmetic (Cephes' expf: range reduction by ln 2, a degree-6
// polynomial, the exponent put back with an integer add), which GCC turns into SIMD code.
// Error: within 2 ulp of the exact value over the float range (tests/test_activation.py).
// Double precision, and CUDA, use the library's exp.
#pragma once

#include <cstdint>
#include <cstring>

#include "math/common.h"

namespace fastnn::math {

FASTNN_HOST_DEVICE float exp_float(float x) {
#if defined(__CUDA_ARCH__)
  return expf(x);
#else
  // Above 88.7 the result is inf, below -103.97 it is 0. Between -103.97 and -87.3 it is a
  // denormal: computed as exp(x + 64 ln 2) * 2^-64, so its bits are right too.
  const float hi = 88.7228391f, lo = -103.972084f, normal = -87.3365479f;
  bool tiny = x < normal;
  float xs = tiny ? x + 44.3614196f : x;  // 64 ln 2
  // NaN is clamped too (to hi): converting it to an integer below would be undefined.
  float xc = xs < hi ? (xs > lo ? xs : lo) : hi;
  float n = std::floor(xc * 1.44269504088896341f + 0.5f);
  // x - n ln2 in two parts, so the reduced argument keeps its low bits.
  float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float y = p * r * r + r + 1.0f;
  int32_t bits;
  std::memcpy(&bits, &y, sizeof bits);
  bits += static_cast<int32_t>(n) * (1 << 23);  // y * 2^n (a shift of negative n is UB)
  std::memcpy(&y, &bits, sizeof bits);
  if (tiny) y *= 5.42101086e-20f;  // 2^-64
  if (x > hi) y = INFINITY;
  if (x < lo) y = 0.0f;
  if (x != x) y = x;  // NaN in, NaN out
  return y;
#endif
}

// tanh for float, vectorisable like exp_float (Cephes' tanhf): an odd polynomial below
// |x| = 0.625, where 1 - 2 / (e^2|x| + 1) would cancel, and that formula above it.
FASTNN_HOST_DEVICE float tanh_float(float x) {
#if defined(__CUDA_ARCH__)
  return tanhf(x);
#else
  float ax = x < 0 ? -x : x;
  float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  float small = p * z * x + x;
  float large = 1.0f - 2.0f / (exp_float(2.0f * ax) + 1.0f);
  large = x < 0 ? -large : large;
  return ax < 0.625f ? small : large;
#endif
}

// exp in T: the vectorisable version for float, the library's for double.
template <class T>
FASTNN_HOST_DEVICE T vexp(T x) {
  if constexpr (sizeof(T) == 4)
    return exp_float(x);
  else
    return exp(x);
}

template <class T>
FASTNN_HOST_DEVICE T vtanh(T x) {
  if constexpr (sizeof(T) == 4)
    return tanh_float(x);
  else
    return tanh(x);
}

}  // namespace fastnn::math
