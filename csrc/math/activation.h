// Activations and their derivatives. *_grad_from_y takes the activation's output, so the
// backward pass needs only y (no saved pre-activation) for all but GELU.
#pragma once

#include "math/common.h"
#include "math/exp.h"

namespace fastnn::math {

template <class T>
FASTNN_HOST_DEVICE T relu(T x) {
  return x > T(0) ? x : T(0);
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

// Exact GELU (PyTorch's and Keras's default, approximate=False).
template <class T>
FASTNN_HOST_DEVICE T gelu(T x) {
  return T(0.5) * x * (T(1) + erf(x * T(0.70710678118654752440)));
}
template <class T>
FASTNN_HOST_DEVICE T gelu_grad(T x) {
  T cdf = T(0.5) * (T(1) + erf(x * T(0.70710678118654752440)));
  T pdf = exp(T(-0.5) * x * x) * T(0.39894228040143267794);
  return cdf + x * pdf;
}

}  // namespace fastnn::math
