// The activation enum turned into a per-element function once per call, so the loop that
// uses it is specialised for it (activation.cpp's kernels, the SimpleRNN cell in rnn.cpp).
#pragma once

#include "core/backend.h"
#include "math/activation.h"

namespace fastnn {

// Calls body(f) with f the activation as a lambda, so the switch runs once per call and the
// loop inside body is specialised for it.
template <class T, class Body>
void with_activation(Activation act, T alpha, Body&& body) {
  switch (act) {
    case Activation::Linear:
      return body([](T x) { return x; });
    case Activation::ReLU:
      return body([](T x) { return math::relu(x); });
    case Activation::LeakyReLU:
      return body([alpha](T x) { return math::leaky_relu(x, alpha); });
    case Activation::Sigmoid:
      return body([](T x) { return math::sigmoid(x); });
    case Activation::Tanh:
      return body([](T x) { return math::tanh_act(x); });
    case Activation::GELU:
      return body([](T x) { return math::gelu(x); });
  }
}

// The derivative as a function of (x, y); each activation reads only the one it needs.
template <class T, class Body>
void with_activation_grad(Activation act, T alpha, Body&& body) {
  switch (act) {
    case Activation::Linear:
      return body([](T, T) { return T(1); });
    case Activation::ReLU:
      return body([](T, T y) { return math::relu_grad_from_y(y); });
    case Activation::LeakyReLU:
      return body([alpha](T, T y) { return math::leaky_relu_grad_from_y(y, alpha); });
    case Activation::Sigmoid:
      return body([](T, T y) { return math::sigmoid_grad_from_y(y); });
    case Activation::Tanh:
      return body([](T, T y) { return math::tanh_grad_from_y(y); });
    case Activation::GELU:
      return body([](T x, T) { return math::gelu_grad(x); });
  }
}

}  // namespace fastnn
