// Pooling's per-element rule (cpu/pool.cpp, cuda/pool.cu): whether max pooling replaces the
// window's maximum so far (`held`) by `value`.
#pragma once

#include "math/common.h"

namespace fastnn::math {

// Strictly greater keeps the first maximum; a NaN wins once and stays, so NaN propagates as
// in TensorFlow and PyTorch. No branch: the CPU's channel loop vectorises with it as a select.
template <class T>
FASTNN_HOST_DEVICE bool max_pool_takes(T value, T held) {
  return value > held || (value != value && held == held);
}

}  // namespace fastnn::math
