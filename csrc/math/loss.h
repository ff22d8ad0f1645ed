// Per-element loss terms and their derivatives with respect to the prediction p for a
// target t. Probabilities are clipped to [eps, 1 - eps] with Keras's epsilon, and the
// derivative is zero where clipping is active, as automatic differentiation would give.
#pragma once

#include "math/common.h"

namespace fastnn::math {

constexpr double kProbEpsilon = 1e-7;

template <class T>
FASTNN_HOST_DEVICE T squared_error(T p, T t) {
  return (p - t) * (p - t);
}
template <class T>
FASTNN_HOST_DEVICE T squared_error_grad(T p, T t) {
  return T(2) * (p - t);
}

template <class T>
FASTNN_HOST_DEVICE T absolute_error(T p, T t) {
  return p > t ? p - t : t - p;
}
template <class T>
FASTNN_HOST_DEVICE T absolute_error_grad(T p, T t) {
  return p > t ? T(1) : (p < t ? T(-1) : T(0));
}

template <class T>
FASTNN_HOST_DEVICE T clip_probability(T p) {
  const T lo = T(kProbEpsilon), hi = T(1) - T(kProbEpsilon);
  return p < lo ? lo : (p > hi ? hi : p);
}
template <class T>
FASTNN_HOST_DEVICE bool probability_clipped(T p) {
  return p < T(kProbEpsilon) || p > T(1) - T(kProbEpsilon);
}

template <class T>
FASTNN_HOST_DEVICE T binary_crossentropy(T p, T t) {
  T q = clip_probability(p);
  return -(t * log(q) + (T(1) - t) * log(T(1) - q));
}
template <class T>
FASTNN_HOST_DEVICE T binary_crossentropy_grad(T p, T t) {
  if (probability_clipped(p)) return T(0);
  return (p - t) / (p * (T(1) - p));
}

// From a logit x: max(x, 0) - x t + log(1 + exp(-|x|)), stable for any x.
template <class T>
FASTNN_HOST_DEVICE T binary_crossentropy_logits(T x, T t) {
  T ax = x > T(0) ? x : -x;
  return (x > T(0) ? x : T(0)) - x * t + log1p(exp(-ax));
}
template <class T>
FASTNN_HOST_DEVICE T binary_crossentropy_logits_grad(T x, T t) {
  T s = x >= T(0) ? T(1) / (T(1) + exp(-x)) : exp(x) / (T(1) + exp(x));
  return s - t;
}

}  // namespace fastnn::math
