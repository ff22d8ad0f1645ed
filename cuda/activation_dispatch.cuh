// The activation enum as a template argument of a kernel (csrc/cpu/activation_dispatch.h's
// counterpart): the host switches once per call and each kernel is compiled for one
// activation, its per-element math from csrc/math/activation.h. For activation.cu and any
// kernel with an activation epilogue (the SimpleRNN cell).
#pragma once

#include "core/backend.h"
#include "math/activation.h"

namespace fastnn::cuda {

// act(x); alpha is LeakyReLU's slope (ignored by the others).
template <Activation A, class T>
__device__ __forceinline__ T activate(T x, T alpha) {
  if constexpr (A == Activation::ReLU) {
    return math::relu(x);
  } else if constexpr (A == Activation::LeakyReLU) {
    return math::leaky_relu(x, alpha);
  } else if constexpr (A == Activation::Sigmoid) {
    return math::sigmoid(x);
  } else if constexpr (A == Activation::Tanh) {
    return math::tanh_act(x);
  } else if constexpr (A == Activation::GELU) {
    return math::gelu(x);
  } else {
    return x;  // Linear
  }
}

// act'(x) as a function of (x, y = act(x)): GELU reads x, the others y (as
// with_activation_grad in csrc/cpu/activation_dispatch.h).
template <Activation A, class T>
__device__ __forceinline__ T activation_grad(T x, T y, T alpha) {
  if constexpr (A == Activation::ReLU) {
    return math::relu_grad_from_y(y);
  } else if constexpr (A == Activation::LeakyReLU) {
    return math::leaky_relu_grad_from_y(y, alpha);
  } else if constexpr (A == Activation::Sigmoid) {
    return math::sigmoid_grad_from_y(y);
  } else if constexpr (A == Activation::Tanh) {
    return math::tanh_grad_from_y(y);
  } else if constexpr (A == Activation::GELU) {
    return math::gelu_grad(x);
  } else {
    return T(1);  // Linear
  }
}

}  // namespace fastnn::cuda

// Calls fn<T, A>(args...) with A the activation `act` as a template argument.
#define FASTNN_ACTIVATION_CALL(act, fn, T, ...)                       \
  do {                                                                \
    switch (act) {                                                    \
      case ::fastnn::Activation::Linear:                              \
        fn<T, ::fastnn::Activation::Linear>(__VA_ARGS__);             \
        break;                                                        \
      case ::fastnn::Activation::ReLU:                                \
        fn<T, ::fastnn::Activation::ReLU>(__VA_ARGS__);               \
        break;                                                        \
      case ::fastnn::Activation::LeakyReLU:                           \
        fn<T, ::fastnn::Activation::LeakyReLU>(__VA_ARGS__);          \
        break;                                                        \
      case ::fastnn::Activation::Sigmoid:                             \
        fn<T, ::fastnn::Activation::Sigmoid>(__VA_ARGS__);            \
        break;                                                        \
      case ::fastnn::Activation::Tanh:                                \
        fn<T, ::fastnn::Activation::Tanh>(__VA_ARGS__);               \
        break;                                                        \
      case ::fastnn::Activation::GELU:                                \
        fn<T, ::fastnn::Activation::GELU>(__VA_ARGS__);               \
        break;                                                        \
    }                                                                 \
  } while (0)
