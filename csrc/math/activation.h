// Activations and their derivatives. *_grad_from_y takes the activation's output, so the
// backward pass needs only y (no saved pre-activation) for all but GELU.
#pragma once

#include "math/common.h"
#include "math/exp.h"

namespace fastnn::math {

// NaN passes through (as in PyTorch and numpy's maximum): x > 0 ? x : 0 would turn it
// into 0 and hide it from the loss's NaN check.
template <class T>
FASTNN_HOST_DEVICE T relu(T x) {
  return x < T(0) ? T(0) : x;
}
template <class T>
FASTNN_HOST_DEVICE T relu_grad_from_y(T y) {
  return y > T(0) ? T(1) : T(0);
}

// alpha >= 0, so y > 0 exactly when x > 0.
template <class T>
FASTNN_HOST_DEVICE T leaky_relu(T x, T alpha) {
  return x > T(0) ? x : alpha * x;
}
template <class T>
FASTNN_HOST_DEVICE T leaky_relu_grad_from_y(T y, T alpha) {
  return y > T(0) ? T(1) : alpha;
}

// exp of a non-positive number only, so large |x| neither overflows nor loses y near 0/1;
// branch-free so the loop vectorises.
template <class T>
FASTNN_HOST_DEVICE T sigmoid(T x) {
  T e = vexp(x > T(0) ? -x : x);
  T s = T(1) / (T(1) + e);
  return x >= T(0) ? s : e * s;
}
template <class T>
FASTNN_HOST_DEVICE T sigmoid_grad_from_y(T y) {
  return y * (T(1) - y);
}

template <class T>
FASTNN_HOST_DEVICE T tanh_act(T x) {
  return vtanh(x);
}
template <class T>
FASTNN_HOST_DEVICE T tanh_grad_from_y(T y) {
  return T(1) - y * y;
}

// Exact GELU (PyTorch's and Keras's default, approximate=False): x Phi(x), with Phi the
// standard normal CDF, computed as erfc(-x/sqrt(2)) / 2 rather than (1 + erf(x/sqrt(2))) / 2,
// which cancels for negative x (at x = -5 it would keep 1 digit of Phi in float).
//
// Float has its own vectorisable path (libm's erff is a scalar call: GELU ran at 1% of
// memory speed): with z = |x|/sqrt(2) and t = 2/(2 + z),
//   erfc(z) = t e^(-x^2/2) e^(P(t)),
// P a degree-10 polynomial fitted (weighted least squares, iterated to minimax) to
// log(erfc(z) e^(z^2) / t) for z in [0, 10.5], in u = (t - 0.58) * 2.381 over [-1, 1]; fit
// error 7e-9, 2e-7 with float rounding. e^(-x^2/2) keeps x^2's rounding error (an fma), so
// Phi stays within a few ulp far into the tails.

// e^(-x^2/2); x^2 = xx + rest exactly, and e^(-rest/2) = 1 - rest/2 to float precision.
// |x| is capped at 15 (e^-112.5 is 0 in float): beyond ~1.8e19, x^2 overflows and rest
// would be inf or NaN, making GELU NaN for large finite x.
FASTNN_HOST_DEVICE float exp_minus_half_square(float x) {
  x = x < 0 ? -x : x;
  x = x < 15.0f ? x : 15.0f;  // NaN becomes 15 too; gelu's factor x keeps it NaN
  float xx = x * x;
  float rest = fma(x, x, -xx);
  return exp_float(-0.5f * xx) * (1.0f - 0.5f * rest);
}

// Phi(x) for float, given gauss = exp_minus_half_square(x).
FASTNN_HOST_DEVICE float normal_cdf_float(float x, float gauss) {
  float z = (x < 0 ? -x : x) * 0.707106781f;
  z = z < 10.5f ? z : 10.5f;  // beyond, gauss is 0 in float
  float t = 2.0f / (2.0f + z);
  float u = (t - 0.58f) * 2.38095238f;
  float p = -2.28377953e-05f;
  p = p * u + 6.07619563e-05f;
  p = p * u + 1.29598615e-04f;
  p = p * u - 5.73410271e-04f;
  p = p * u - 2.54094409e-04f;
  p = p * u + 3.87111602e-03f;
  p = p * u - 1.23403810e-03f;
  p = p * u - 3.01465943e-02f;
  p = p * u + 1.67163725e-02f;
  p = p * u + 5.74609923e-01f;
  p = p * u - 5.63156790e-01f;
  float tail = 0.5f * t * gauss * exp_float(p);  // erfc(|x|/sqrt(2)) / 2 = Phi(-|x|)
  return x < 0 ? tail : 1.0f - tail;
}

template <class T>
FASTNN_HOST_DEVICE T gelu(T x) {
  if constexpr (sizeof(T) == 4) {
    return x * normal_cdf_float(x, exp_minus_half_square(x));
  } else {
    return T(0.5) * x * erfc(x * T(-0.70710678118654752440));
  }
}
// GELU'(x) = Phi(x) + x phi(x), phi(x) = e^(-x^2/2) / sqrt(2 pi).
template <class T>
FASTNN_HOST_DEVICE T gelu_grad(T x) {
  if constexpr (sizeof(T) == 4) {
    float gauss = exp_minus_half_square(x);
    return normal_cdf_float(x, gauss) + x * gauss * 0.398942280f;
  } else {
    T cdf = T(0.5) * erfc(x * T(-0.70710678118654752440));
    return cdf + x * exp(T(-0.5) * x * x) * T(0.39894228040143267794);
  }
}

// Softmax over a row, per element, given the row's max and its sum s = sum(exp(x - max)):
// softmax = exp(x - max) / s, log_softmax = (x - max) - log(s). (x - max) is exact;
// subtracting max + log(s) in one go would round at the scale of max and lose digits of
// small outputs.
template <class T>
FASTNN_HOST_DEVICE T softmax_value(T x, T row_max, T inv_sum) {
  return vexp(x - row_max) * inv_sum;
}
template <class T>
FASTNN_HOST_DEVICE T log_softmax_value(T x, T row_max, T log_sum) {
  return (x - row_max) - log_sum;
}
// Their gradients from the output y and the gradient gy at it: softmax's with
// dot = sum(gy * y) over the row, log_softmax's with sum_gy = sum(gy) over the row.
template <class T>
FASTNN_HOST_DEVICE T softmax_grad(T y, T gy, T dot) {
  return y * (gy - dot);
}
template <class T>
FASTNN_HOST_DEVICE T log_softmax_grad(T y, T gy, T sum_gy) {
  return gy - vexp(y) * sum_gy;
}

}  // namespace fastnn::math
