// Batch normalisation's per-element and per-channel formulas (cpu/norm.cpp, cuda/norm.cu).
// The per-channel statistics are sums in double; these functions are what each element and
// each channel does with them:
//   invstd  = 1 / sqrt(biased variance + epsilon)       (per channel, in double)
//   moving  = momentum * moving + (1 - momentum) * batch  (Keras's update, in double;
//             the variance biased as Keras or unbiased as PyTorch)
//   y       = (x - mean) * scale + shift,  scale = invstd * gamma, shift = beta
//   gx      = scale * (gy - mean(gy) - xhat * mean(gy * xhat)),  xhat = (x - mean) * invstd
//             (inference: the two means are zero)
#pragma once

#include "math/common.h"

namespace fastnn::math {

FASTNN_HOST_DEVICE double batch_norm_invstd(double variance, double epsilon) {
  return 1.0 / sqrt(variance + epsilon);
}

FASTNN_HOST_DEVICE double moving_average(double momentum, double moving, double batch) {
  return momentum * moving + (1.0 - momentum) * batch;
}

// The batch variance that the moving variance averages, from the sum of squared deviations
// over `rows`: biased (Keras's) or unbiased (PyTorch's running_var; one row keeps the biased
// value, 0, where PyTorch refuses to train).
FASTNN_HOST_DEVICE double moving_variance_sample(double squares, int64_t rows, bool unbiased) {
  return squares / double(unbiased && rows > 1 ? rows - 1 : rows);
}

template <class T>
FASTNN_HOST_DEVICE T batch_norm_apply(T x, T mean, T scale, T shift) {
  return (x - mean) * scale + shift;
}

// One row's term of the biased variance's sum, from the batch mean kept in double.
template <class T>
FASTNN_HOST_DEVICE double squared_deviation(T x, double mean) {
  const double d = x - mean;
  return d * d;
}

// One row's term of sum(gy * xhat), in double as the channel sums are kept.
template <class T>
FASTNN_HOST_DEVICE double batch_norm_gy_xhat(T gy, T x, T mean, T invstd) {
  return double(gy) * (double(x) - double(mean)) * double(invstd);
}

template <class T>
FASTNN_HOST_DEVICE T batch_norm_input_grad(T gy, T x, T mean, T invstd, T scale, T mean_gy,
                                           T mean_gy_xhat) {
  const T xhat = (x - mean) * invstd;
  return scale * (gy - mean_gy - xhat * mean_gy_xhat);
}

}  // namespace fastnn::math
