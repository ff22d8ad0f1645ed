// Per-element loss terms and their derivatives with respect to the prediction p for a
// target t. Probabilities are clipped to [eps, 1 - eps] with Keras's epsilon, and the
// derivative is zero where clipping is active, as automatic differentiation would give.
#pragma once

#include <cmath>
#include <cstdint>

#include "math/common.h"
#include "math/exp.h"

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

// Cross-entropy of the softmax of a row of logits, per class, from the row's max m and
// ls = log(sum_j exp(x_j - m)): t * -log softmax(x) = t ((m - x) + ls). Built from m - x
// rather than from m + ls: rounding at the scale of m would lose the digits of small losses
// when the logits are large.
template <class T>
FASTNN_HOST_DEVICE T softmax_crossentropy(T x, T t, T m, T ls) {
  return t * ((m - x) + ls);
}
// softmax(x) from the same m and ls.
template <class T>
FASTNN_HOST_DEVICE T softmax_from_shifted(T x, T m, T ls) {
  return vexp((x - m) - ls);
}
// d/dx of the row's sum of softmax_crossentropy terms: sum(t) softmax(x) - t.
template <class T>
FASTNN_HOST_DEVICE T softmax_crossentropy_grad(T x, T t, T m, T ls, T t_sum) {
  return t_sum * softmax_from_shifted(x, m, ls) - t;
}

// PyTorch's cross_entropy on one row of logits x with class index y, class weights w (all 1
// without), label smoothing s over C classes; lse = m + ls the row's log-sum-exp, W = sum_c w_c
// and wx = sum_c w_c x_c:
//   loss = (1 - s) w_y (lse - x_y) + (s / C) sum_c w_c (lse - x_c)
//        = (1 - s) w_y (lse - x_y) + (s / C) (W lse - wx)
template <class T>
FASTNN_HOST_DEVICE T index_crossentropy(T x_y, T w_y, T lse, T W, T wx, T s, T C) {
  return (T(1) - s) * w_y * (lse - x_y) + (s / C) * (W * lse - wx);
}
// Its derivative by x_c (p_c = softmax(x)_c): (1 - s) w_y (p_c - [c == y]) + (s / C) (W p_c - w_c).
template <class T>
FASTNN_HOST_DEVICE T index_crossentropy_grad(T p_c, bool is_y, T w_y, T w_c, T W, T s, T C) {
  return (T(1) - s) * w_y * (p_c - (is_y ? T(1) : T(0))) + (s / C) * (W * p_c - w_c);
}

// Keras's cross-entropy on probabilities p (a row not necessarily normalised; s its sum),
// per class: -t log(clip(p / s)).
template <class T>
FASTNN_HOST_DEVICE T probability_crossentropy(T p, T t, T s) {
  return -(t * log(clip_probability(p / s)));
}
// Its gradient at p for a row scaled by g: with r = p / s, -(g / s) (own - tu), own = t / r
// where r is not clipped (0 where it is), tu = the sum of t_j over the unclipped j.
template <class T>
FASTNN_HOST_DEVICE T probability_crossentropy_grad(T p, T t, T s, T tu, T g) {
  T r = p / s;
  T own = probability_clipped(r) ? T(0) : t / r;
  return -g / s * (own - tu);
}

// A class label given as a float v: the class when v is an integer in [0, C), else -1 with
// `bad` the value to report (v truncated, or -1 when v has no int64 value).
FASTNN_HOST_DEVICE int64_t float_label(double v, int64_t C, int64_t& bad) {
  if (v >= 0 && v < double(C) && v == std::floor(v)) return static_cast<int64_t>(v);
  bad = std::isfinite(v) && std::fabs(v) < 9e18 ? static_cast<int64_t>(v) : -1;
  return -1;
}

}  // namespace fastnn::math
