// Per-element math of the elementwise kernels (csrc/cpu/elementwise.cpp, cuda/elementwise.cu).
#pragma once

#include "math/common.h"

namespace fastnn::math {

// The weight penalty's gradient at w: gout * (l1 * sign(w) + two_l2 * w), two_l2 = 2 * l2
// (the penalty is l1 * sum|w| + l2 * sum w^2); sign(0) = 0, as torch.sign.
template <class T>
FASTNN_HOST_DEVICE T penalty_grad(T w, T gout, T l1, T two_l2) {
  T sign = w > T(0) ? T(1) : (w < T(0) ? T(-1) : T(0));
  return gout * (l1 * sign + two_l2 * w);
}

}  // namespace fastnn::math
