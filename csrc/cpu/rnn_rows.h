// The recurrent cells' passes over rows [n0, n1) of one step's batch, shared by the per-step
// cell kernels (rnn.cpp) and the whole recurrence (rnn_recurrence.cpp). N = batch, U =
// units; a gate row holds Keras's gate blocks of U (LSTM i, f, c, o; GRU z, r, h). Pointers
// are to row 0 of the step's (N, .) matrices. A row whose keep is 0 (a masked step) carries
// its state through: forward copies h_prev (and c_prev), backward leaves dh (and dc) as they
// are and writes a zero dz. Each backward leaves in dh the part of h_prev's gradient that
// does not go through the recurrent kernel (backend.h).
#pragma once

#include <algorithm>
#include <cstdint>

#include "math/activation.h"
#include "math/rnn.h"

namespace fastnn::rnn_rows {

template <class T>
bool skipped(const T* keep, int64_t n) {
  return keep && keep[n] == T(0);
}

// One sample's row of each cell. The pointers are restrict (the buffers never overlap) so
// that GCC vectorises the loops without runtime alias checks, which it gives up on for this
// many arrays; the bias is a template flag, not a test inside the loop.

// z (4U): pre-activations in, activated gates out; c_prev, c, h (U).
template <class T, bool kBias>
void lstm_forward_row(int64_t U, const T* __restrict b, const T* __restrict c_prev,
                      T* __restrict z, T* __restrict c, T* __restrict h) {
  for (int64_t u = 0; u < U; ++u) {
    math::LstmGates<T> g{z[u], z[U + u], z[2 * U + u], z[3 * U + u]};
    if constexpr (kBias) {
      g.i += b[u];
      g.f += b[U + u];
      g.g += b[2 * U + u];
      g.o += b[3 * U + u];
    }
    T c_new, h_new;
    math::lstm_cell_forward(g, c_prev[u], c_new, h_new);
    c[u] = c_new;
    h[u] = h_new;
    z[u] = g.i;
    z[U + u] = g.f;
    z[2 * U + u] = g.g;
    z[3 * U + u] = g.o;
  }
}

// a (4U) activated gates; c_prev, c, dh_out (U); dh, dc (U) in/out; dz (4U).
template <class T, bool kOut>
void lstm_backward_row(int64_t U, const T* __restrict a, const T* __restrict c_prev,
                       const T* __restrict c, const T* __restrict dh_out, T* __restrict dh,
                       T* __restrict dc, T* __restrict dz) {
  for (int64_t u = 0; u < U; ++u) {
    math::LstmGates<T> g{a[u], a[U + u], a[2 * U + u], a[3 * U + u]};
    T grad_h = dh[u];
    if constexpr (kOut) grad_h += dh_out[u];
    T dc_prev;
    math::LstmGates<T> d = math::lstm_cell_backward(g, c_prev[u], c[u], grad_h, dc[u], dc_prev);
    dc[u] = dc_prev;
    dh[u] = T(0);  // h_prev reaches h only through R
    dz[u] = d.i;
    dz[U + u] = d.f;
    dz[2 * U + u] = d.g;
    dz[3 * U + u] = d.o;
  }
}

// x (3U): x_t W in, activated gates out; q (3U): h_prev R in, + recurrent bias out (the
// candidate's third, which the backward reads); bias (2, 3U); h_prev, h (U).
template <class T, bool kBias>
void gru_forward_row(int64_t U, const T* __restrict bias, const T* __restrict h_prev,
                     T* __restrict x, T* __restrict q, T* __restrict h) {
  for (int64_t u = 0; u < U; ++u) {
    math::GruGates<T> gx{x[u], x[U + u], x[2 * U + u]};
    math::GruGates<T> gq{q[u], q[U + u], q[2 * U + u]};
    if constexpr (kBias) {
      gx.z += bias[u];
      gx.r += bias[U + u];
      gx.h += bias[2 * U + u];
      gq.z += bias[3 * U + u];
      gq.r += bias[4 * U + u];
      gq.h += bias[5 * U + u];
    }
    h[u] = math::gru_cell_forward(gx, gq, h_prev[u]);
    x[u] = gx.z;
    x[U + u] = gx.r;
    x[2 * U + u] = gx.h;
    q[2 * U + u] = gq.h;
  }
}

// a, q (3U) as the forward left them; h_prev, dh_out (U); dh (U) in/out; dx, dq (3U).
template <class T, bool kOut>
void gru_backward_row(int64_t U, const T* __restrict a, const T* __restrict q,
                      const T* __restrict h_prev, const T* __restrict dh_out, T* __restrict dh,
                      T* __restrict dx, T* __restrict dq) {
  for (int64_t u = 0; u < U; ++u) {
    math::GruGates<T> g{a[u], a[U + u], a[2 * U + u]};
    math::GruGates<T> gx, gq;
    T grad_h = dh[u];
    if constexpr (kOut) grad_h += dh_out[u];
    dh[u] = math::gru_cell_backward(g, q[2 * U + u], h_prev[u], grad_h, gx, gq);
    dx[u] = gx.z;
    dx[U + u] = gx.r;
    dx[2 * U + u] = gx.h;
    dq[u] = gq.z;
    dq[U + u] = gq.r;
    dq[2 * U + u] = gq.h;
  }
}

// --- rows [n0, n1) of a step ---------------------------------------------------------------

// gates (N, 4U), h_prev, c_prev, c, h (N, U); bias (4U) or null; keep (N) or null.
template <class T>
void lstm_forward_rows(int64_t n0, int64_t n1, int64_t U, const T* b, const T* keep,
                       const T* hp, const T* cp, T* gates, T* c, T* h) {
  for (int64_t n = n0; n < n1; ++n) {
    if (skipped(keep, n)) {
      std::copy(hp + n * U, hp + (n + 1) * U, h + n * U);
      std::copy(cp + n * U, cp + (n + 1) * U, c + n * U);
      continue;
    }
    if (b)
      lstm_forward_row<T, true>(U, b, cp + n * U, gates + n * 4 * U, c + n * U, h + n * U);
    else
      lstm_forward_row<T, false>(U, b, cp + n * U, gates + n * 4 * U, c + n * U, h + n * U);
  }
}

// gates (N, 4U), c_prev, c, dh_out (N, U; dh_out may be null); dh, dc in/out; dz (N, 4U).
template <class T>
void lstm_backward_rows(int64_t n0, int64_t n1, int64_t U, const T* gates, const T* keep,
                        const T* cp, const T* c, const T* dho, T* dh, T* dc, T* dz) {
  for (int64_t n = n0; n < n1; ++n) {
    T* d = dz + n * 4 * U;
    if (skipped(keep, n)) {  // dh and dc pass on unchanged
      std::fill(d, d + 4 * U, T(0));
      continue;
    }
    const int64_t k = n * U;
    if (dho)
      lstm_backward_row<T, true>(U, gates + n * 4 * U, cp + k, c + k, dho + k, dh + k, dc + k, d);
    else
      lstm_backward_row<T, false>(U, gates + n * 4 * U, cp + k, c + k, dho, dh + k, dc + k, d);
  }
}

// gates, recurrent (N, 3U); h_prev, h (N, U); bias (2, 3U) or null.
template <class T>
void gru_forward_rows(int64_t n0, int64_t n1, int64_t U, const T* bias, const T* keep,
                      const T* hp, T* gates, T* recurrent, T* h) {
  for (int64_t n = n0; n < n1; ++n) {
    if (skipped(keep, n)) {
      std::copy(hp + n * U, hp + (n + 1) * U, h + n * U);
      continue;
    }
    T* x = gates + n * 3 * U;
    T* q = recurrent + n * 3 * U;
    if (bias)
      gru_forward_row<T, true>(U, bias, hp + n * U, x, q, h + n * U);
    else
      gru_forward_row<T, false>(U, bias, hp + n * U, x, q, h + n * U);
  }
}

// gates, recurrent (N, 3U); h_prev, dh_out (N, U; dh_out may be null); dh in/out;
// dx, dq (N, 3U).
template <class T>
void gru_backward_rows(int64_t n0, int64_t n1, int64_t U, const T* gates, const T* recurrent,
                       const T* keep, const T* hp, const T* dho, T* dh, T* dx, T* dq) {
  for (int64_t n = n0; n < n1; ++n) {
    T* dxn = dx + n * 3 * U;
    T* dqn = dq + n * 3 * U;
    if (skipped(keep, n)) {
      std::fill(dxn, dxn + 3 * U, T(0));
      std::fill(dqn, dqn + 3 * U, T(0));
      continue;
    }
    const int64_t k = n * U;
    const T* a = gates + n * 3 * U;
    const T* q = recurrent + n * 3 * U;
    if (dho)
      gru_backward_row<T, true>(U, a, q, hp + k, dho + k, dh + k, dxn, dqn);
    else
      gru_backward_row<T, false>(U, a, q, hp + k, dho, dh + k, dxn, dqn);
  }
}

// h (N, U): x_t W + h_prev R in, f(. + bias) out; f the activation (activation_dispatch.h).
template <class T, class F>
void simple_rnn_forward_rows(int64_t n0, int64_t n1, int64_t U, F f, const T* b, const T* keep,
                             const T* hp, T* h) {
  for (int64_t n = n0; n < n1; ++n) {
    T* row = h + n * U;
    if (skipped(keep, n)) {
      std::copy(hp + n * U, hp + (n + 1) * U, row);
      continue;
    }
    if (b)
      for (int64_t u = 0; u < U; ++u) row[u] += b[u];
    for (int64_t u = 0; u < U; ++u) row[u] = f(row[u]);
  }
}

// y (N, U) the step's output, dh_out (N, U) or null; dh in/out; dz (N, U). df(x, y): the
// derivative, called with y for x (the op admits only activations whose derivative is a
// function of the output).
template <class T, class DF>
void simple_rnn_backward_rows(int64_t n0, int64_t n1, int64_t U, DF df, const T* y,
                              const T* keep, const T* dho, T* dh, T* dz) {
  for (int64_t n = n0; n < n1; ++n) {
    T* d = dz + n * U;
    if (skipped(keep, n)) {
      std::fill(d, d + U, T(0));
      continue;
    }
    for (int64_t u = 0; u < U; ++u) {
      const int64_t k = n * U + u;
      T grad_h = dho ? dh[k] + dho[k] : dh[k];
      d[u] = grad_h * df(y[k], y[k]);
      dh[k] = T(0);
    }
  }
}

}  // namespace fastnn::rnn_rows
