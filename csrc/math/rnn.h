// LSTM gate math for one (sample, unit): Keras's cell with its default activations (tanh,
// sigmoid recurrent activation), gates in Keras's order i, f, c (the candidate, g here), o.
//
//   i = sigmoid(z_i)  f = sigmoid(z_f)  g = tanh(z_g)  o = sigmoid(z_o)
//   c = f * c_prev + i * g               h = o * tanh(c)
//
// The backward takes the activated gates (what the forward saves), so no pre-activation is
// kept, and recomputes tanh(c) from the saved cell rather than storing it.
#pragma once

#include "math/activation.h"
#include "math/common.h"

namespace fastnn::math {

template <class T>
struct LstmGates {
  T i, f, g, o;
};

// Activates the pre-activations in place and returns (c, h).
template <class T>
FASTNN_HOST_DEVICE void lstm_cell_forward(LstmGates<T>& z, T c_prev, T& c, T& h) {
  z.i = sigmoid(z.i);
  z.f = sigmoid(z.f);
  z.g = tanh_act(z.g);
  z.o = sigmoid(z.o);
  c = z.f * c_prev + z.i * z.g;
  h = z.o * tanh_act(c);
}

// dh: the gradient reaching h (from the output and from the next step's recurrent GEMM),
// dc: the gradient reaching c from the next step (or from c_last). Returns the gradients of
// the four pre-activations and, in dc_prev, that of c_prev.
template <class T>
FASTNN_HOST_DEVICE LstmGates<T> lstm_cell_backward(const LstmGates<T>& a, T c_prev, T c, T dh,
                                                   T dc, T& dc_prev) {
  T tc = tanh_act(c);
  T dc_total = dc + dh * a.o * tanh_grad_from_y(tc);
  LstmGates<T> dz;
  dz.i = dc_total * a.g * sigmoid_grad_from_y(a.i);
  dz.f = dc_total * c_prev * sigmoid_grad_from_y(a.f);
  dz.g = dc_total * a.i * tanh_grad_from_y(a.g);
  dz.o = dh * tc * sigmoid_grad_from_y(a.o);
  dc_prev = dc_total * a.f;
  return dz;
}

}  // namespace fastnn::math
