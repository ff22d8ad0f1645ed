// Recurrent cell math shared by the backends (SimpleRNN needs only math/activation.h).
//
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


// GRU gate math for one (sample, unit): Keras's cell with reset_after=True (PyTorch's
// formula), gates in Keras's order z (update), r (reset), h (candidate):
//
//   z = sigmoid(x_z + q_z)   r = sigmoid(x_r + q_r)   g = tanh(x_h + r * q_h)
//   h = z * h_prev + (1 - z) * g
//
// x_* = x_t W + input bias, q_* = h_prev R + recurrent bias (kept apart because r scales
// only the recurrent part of the candidate). The backward takes the activated gates and q_h.

template <class T>
struct GruGates {
  T z, r, h;
};

// Activates x in place (z, r, g) and returns h.
template <class T>
FASTNN_HOST_DEVICE T gru_cell_forward(GruGates<T>& x, const GruGates<T>& q, T h_prev) {
  x.z = sigmoid(x.z + q.z);
  x.r = sigmoid(x.r + q.r);
  x.h = tanh_act(x.h + x.r * q.h);
  return x.z * h_prev + (T(1) - x.z) * x.h;
}

// dh: the gradient reaching h. Fills the gradients of the input parts (dx) and of the
// recurrent parts (dq, which differs from dx only in the candidate: r scales q_h) and
// returns the part of h_prev's gradient that does not go through R (dh * z).
template <class T>
FASTNN_HOST_DEVICE T gru_cell_backward(const GruGates<T>& a, T q_h, T h_prev, T dh,
                                       GruGates<T>& dx, GruGates<T>& dq) {
  dx.z = dh * (h_prev - a.h) * sigmoid_grad_from_y(a.z);
  dx.h = dh * (T(1) - a.z) * tanh_grad_from_y(a.h);
  dx.r = dx.h * q_h * sigmoid_grad_from_y(a.r);
  dq.z = dx.z;
  dq.r = dx.r;
  dq.h = dx.h * a.r;
  return dh * a.z;
}

}  // namespace fastnn::math
