// Optimizer updates for one parameter element, following torch.optim's algorithms
// (weight decay as L2 added to the gradient unless decoupled, as in AdamW).
#pragma once

#include "math/common.h"

namespace fastnn::math {

// SGD with momentum and Nesterov. `first` is the first step, where the momentum buffer
// starts at the gradient (PyTorch's rule), not at zero.
template <class T>
FASTNN_HOST_DEVICE void sgd_update(T& p, T g, T& buf, T lr, T momentum, T dampening,
                                   T weight_decay, bool nesterov, bool first) {
  T d = g + weight_decay * p;
  if (momentum != T(0)) {
    buf = first ? d : momentum * buf + (T(1) - dampening) * d;
    d = nesterov ? d + momentum * buf : buf;
  }
  p -= lr * d;
}

// Adam / AdamW. bias1 = 1 - beta1^t, bias2_sqrt = sqrt(1 - beta2^t).
template <class T>
FASTNN_HOST_DEVICE void adam_update(T& p, T g, T& m, T& v, T& v_max, T lr, T beta1, T beta2,
                                    T eps, T weight_decay, bool decoupled, bool amsgrad, T bias1,
                                    T bias2_sqrt) {
  if (decoupled) {
    p *= T(1) - lr * weight_decay;
  } else {
    g += weight_decay * p;
  }
  m = beta1 * m + (T(1) - beta1) * g;
  v = beta2 * v + (T(1) - beta2) * g * g;
  T v_used = v;
  if (amsgrad) {
    v_max = v_max > v ? v_max : v;
    v_used = v_max;
  }
  T denom = sqrt(v_used) / bias2_sqrt + eps;
  p -= (lr / bias1) * m / denom;
}

template <class T>
FASTNN_HOST_DEVICE void rmsprop_update(T& p, T g, T& square_avg, T& buf, T& grad_avg, T lr,
                                       T alpha, T eps, T weight_decay, T momentum, bool centered) {
  g += weight_decay * p;
  square_avg = alpha * square_avg + (T(1) - alpha) * g * g;
  T avg;
  if (centered) {
    grad_avg = alpha * grad_avg + (T(1) - alpha) * g;
    avg = sqrt(square_avg - grad_avg * grad_avg) + eps;
  } else {
    avg = sqrt(square_avg) + eps;
  }
  if (momentum > T(0)) {
    buf = momentum * buf + g / avg;
    p -= lr * buf;
  } else {
    p -= lr * g / avg;
  }
}

// clr = lr / (1 + (step - 1) * lr_decay), computed once per step by the caller.
template <class T>
FASTNN_HOST_DEVICE void adagrad_update(T& p, T g, T& sum, T clr, T eps, T weight_decay) {
  g += weight_decay * p;
  sum += g * g;
  p -= clr * g / (sqrt(sum) + eps);
}

}  // namespace fastnn::math
