// Optimizer updates for one parameter element, following torch.optim's algorithms.
// Two switches cover Keras's variants exactly: decoupled weight decay (AdamW, and Keras's
// weight_decay on every optimizer) and, for RMSprop and Adagrad, epsilon inside the square
// root (Keras divides by sqrt(v + eps), torch by sqrt(v) + eps).
#pragma once

#include "math/common.h"

namespace fastnn::math {

// L2 weight decay adds wd * p to the gradient; decoupled decay shrinks p by lr * wd first.
template <class T>
FASTNN_HOST_DEVICE T decay_weight(T& p, T g, T lr, T weight_decay, bool decoupled) {
  if (weight_decay == T(0)) return g;
  if (decoupled) {
    p *= T(1) - lr * weight_decay;
    return g;
  }
  return g + weight_decay * p;
}

template <class T>
FASTNN_HOST_DEVICE T root_plus_eps(T v, T eps, bool eps_inside_sqrt) {
  return eps_inside_sqrt ? sqrt(v + eps) : sqrt(v) + eps;
}

// SGD with momentum and Nesterov. `first` is the first step, where the momentum buffer
// starts at the gradient (PyTorch's rule), not at zero.
template <class T>
FASTNN_HOST_DEVICE void sgd_update(T& p, T g, T& buf, T lr, T momentum, T dampening,
                                   T weight_decay, bool decoupled, bool nesterov, bool first) {
  T d = decay_weight(p, g, lr, weight_decay, decoupled);
  if (momentum != T(0)) {
    buf = first ? d : momentum * buf + (T(1) - dampening) * d;
    d = nesterov ? d + momentum * buf : buf;
  }
  p -= lr * d;
}

// Adam / AdamW. bias1 = 1 - beta1^t, bias2_sqrt = sqrt(1 - beta2^t). Keras adds its
// epsilon before the bias correction: the caller passes eps / bias2_sqrt for that.
template <class T>
FASTNN_HOST_DEVICE void adam_update(T& p, T g, T& m, T& v, T& v_max, T lr, T beta1, T beta2,
                                    T eps, T weight_decay, bool decoupled, bool amsgrad, T bias1,
                                    T bias2_sqrt) {
  g = decay_weight(p, g, lr, weight_decay, decoupled);
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
                                       T alpha, T eps, T weight_decay, bool decoupled,
                                       T momentum, bool centered, bool eps_inside_sqrt) {
  g = decay_weight(p, g, lr, weight_decay, decoupled);
  square_avg = alpha * square_avg + (T(1) - alpha) * g * g;
  T v = square_avg;
  if (centered) {
    grad_avg = alpha * grad_avg + (T(1) - alpha) * g;
    v -= grad_avg * grad_avg;
  }
  T avg = root_plus_eps(v, eps, eps_inside_sqrt);
  if (momentum > T(0)) {
    buf = momentum * buf + g / avg;
    p -= lr * buf;
  } else {
    p -= lr * g / avg;
  }
}

// clr = lr / (1 + (step - 1) * lr_decay), computed once per step by the caller.
template <class T>
FASTNN_HOST_DEVICE void adagrad_update(T& p, T g, T& sum, T clr, T eps, T weight_decay,
                                       bool decoupled, bool eps_inside_sqrt) {
  g = decay_weight(p, g, clr, weight_decay, decoupled);
  sum += g * g;
  p -= clr * g / root_plus_eps(sum, eps, eps_inside_sqrt);
}

}  // namespace fastnn::math
