// Optimizer updates for one parameter element, following torch.optim's algorithms.
// Two switches cover Keras's variants exactly: decoupled weight decay (AdamW, and Keras's
// weight_decay on every optimizer) and, for RMSprop and Adagrad, epsilon inside the square
// root (Keras divides by sqrt(v + eps), torch by sqrt(v) + eps).
//
// Flags arrive as compile-time constants from the kernels, so each loop is branch-free and
// vectorises.
#pragma once

#include <cmath>
#include <cstdint>

#include "math/common.h"

namespace fastnn::math {

// Weight decay, computed once per step: L2 decay adds l2 * p to the gradient; decoupled
// decay multiplies p by shrink = 1 - lr * weight_decay first. The other one is neutral.
template <class T>
struct Decay {
  T l2, shrink;
};
template <class T>
FASTNN_HOST_DEVICE Decay<T> make_decay(T lr, T weight_decay, bool decoupled) {
  return decoupled ? Decay<T>{T(0), T(1) - lr * weight_decay} : Decay<T>{weight_decay, T(1)};
}
template <class T>
FASTNN_HOST_DEVICE T decay_weight(T& p, T g, Decay<T> d) {
  g += d.l2 * p;
  p *= d.shrink;
  return g;
}

// The scalars of one step (counted from 1), computed once per step in double from the
// config, as torch does.

// SGD's dampening: none on the first step, where the momentum buffer starts at the gradient.
FASTNN_HOST_DEVICE double sgd_dampening(double dampening, int64_t step) {
  return step == 1 ? 0.0 : dampening;
}

// Adam: step_size = lr / (1 - beta1^t), 1 / sqrt(1 - beta2^t), and the epsilon added to
// the corrected root (Keras's epsilon_hat adds it before the correction: eps / bias2_sqrt).
template <class T>
struct AdamStep {
  T step_size, inv_bias2_sqrt, eps;
};
template <class T>
FASTNN_HOST_DEVICE AdamStep<T> adam_step(double lr, double beta1, double beta2, double eps,
                                         bool epsilon_hat, int64_t step) {
  double bias2_sqrt = std::sqrt(1 - std::pow(beta2, double(step)));
  return {T(lr / (1 - std::pow(beta1, double(step)))), T(1 / bias2_sqrt),
          T(epsilon_hat ? eps / bias2_sqrt : eps)};
}

// Adagrad's learning rate: lr / (1 + (step - 1) * lr_decay).
FASTNN_HOST_DEVICE double adagrad_lr(double lr, double lr_decay, int64_t step) {
  return lr / (1 + (step - 1) * lr_decay);
}

template <bool EpsInsideSqrt, class T>
FASTNN_HOST_DEVICE T root_plus_eps(T v, T eps) {
  if constexpr (EpsInsideSqrt)
    return sqrt(v + eps);
  else
    return sqrt(v) + eps;
}

// SGD with momentum and Nesterov. On the first step the momentum buffer starts at the
// gradient (PyTorch's rule): the buffer is still zero then, and the caller passes
// dampening 0.
template <bool Momentum, bool Nesterov, class T>
FASTNN_HOST_DEVICE void sgd_update(T& p, T g, T& buf, T lr, T momentum, T dampening,
                                   Decay<T> decay) {
  T d = decay_weight(p, g, decay);
  if constexpr (Momentum) {
    buf = momentum * buf + (T(1) - dampening) * d;
    d = Nesterov ? d + momentum * buf : buf;
  }
  p -= lr * d;
}

// Adam / AdamW, with the step's scalars from adam_step.
template <bool AMSGrad, class T>
FASTNN_HOST_DEVICE void adam_update(T& p, T g, T& m, T& v, T& v_max, T beta1, T beta2, T eps,
                                    Decay<T> decay, T step_size, T inv_bias2_sqrt) {
  g = decay_weight(p, g, decay);
  m = beta1 * m + (T(1) - beta1) * g;
  v = beta2 * v + (T(1) - beta2) * g * g;
  T v_used = v;
  if constexpr (AMSGrad) {
    v_max = v_max > v ? v_max : v;
    v_used = v_max;
  }
  p -= step_size * m / (sqrt(v_used) * inv_bias2_sqrt + eps);
}

template <bool Momentum, bool Centered, bool EpsInsideSqrt, class T>
FASTNN_HOST_DEVICE void rmsprop_update(T& p, T g, T& square_avg, T& buf, T& grad_avg, T lr, T alpha,
                                       T eps, Decay<T> decay, T momentum) {
  g = decay_weight(p, g, decay);
  square_avg = alpha * square_avg + (T(1) - alpha) * g * g;
  T v = square_avg;
  if constexpr (Centered) {
    grad_avg = alpha * grad_avg + (T(1) - alpha) * g;
    v -= grad_avg * grad_avg;
  }
  T avg = root_plus_eps<EpsInsideSqrt>(v, eps);
  if constexpr (Momentum) {
    buf = momentum * buf + g / avg;
    p -= lr * buf;
  } else {
    p -= lr * g / avg;
  }
}

// clr: adagrad_lr of the step.
template <bool EpsInsideSqrt, class T>
FASTNN_HOST_DEVICE void adagrad_update(T& p, T g, T& sum, T clr, T eps, Decay<T> decay) {
  g = decay_weight(p, g, decay);
  sum += g * g;
  p -= clr * g / root_plus_eps<EpsInsideSqrt>(sum, eps);
}

}  // namespace fastnn::math
