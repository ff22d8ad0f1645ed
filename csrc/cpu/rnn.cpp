// The LSTM cell, one step for the whole batch, and the sequence transposition around it.
// N = batch, U = units; the 4U columns of a gate row are Keras's i, f, c, o blocks of U.
// The GEMMs of the recurrence are the op's (ops/rnn.cpp); these are the passes between them.
#include <algorithm>
#include <cstring>

#include "core/parallel.h"
#include "cpu/backend_cpu.h"
#include "math/rnn.h"

namespace fastnn {

// gates (N, 4U): z without bias in, activations out; c_prev (N, U) -> c, h (N, U).
void CpuBackend::lstm_cell_forward(const Tensor& bias, const Tensor& c_prev, Tensor& gates,
                                   Tensor& c, Tensor& h) {
  const int64_t N = c.shape()[0], U = c.shape()[1];
  dispatch_float(gates.dtype(), "lstm_cell_forward", [&](auto zero) {
    using T = decltype(zero);
    const T* b = bias.defined() ? bias.data<T>() : nullptr;
    const T* cp = c_prev.data<T>();
    T* zp = gates.data<T>();
    T* cn = c.data<T>();
    T* hn = h.data<T>();
    // Five exps per element: the transcendental grain, counted in rows of U.
    parallel_for(N, row_grain(kTranscendentalGrain / 5, U), [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        T* z = zp + n * 4 * U;
        for (int64_t u = 0; u < U; ++u) {
          math::LstmGates<T> g{z[u], z[U + u], z[2 * U + u], z[3 * U + u]};
          if (b) {
            g.i += b[u];
            g.f += b[U + u];
            g.g += b[2 * U + u];
            g.o += b[3 * U + u];
          }
          math::lstm_cell_forward(g, cp[n * U + u], cn[n * U + u], hn[n * U + u]);
          z[u] = g.i;
          z[U + u] = g.f;
          z[2 * U + u] = g.g;
          z[3 * U + u] = g.o;
        }
      }
    });
  });
}

// gates (N, 4U) activated, c_prev, c, dh, dh_out (N, U); dc (N, U) in/out; dz (N, 4U).
void CpuBackend::lstm_cell_backward(const Tensor& gates, const Tensor& c_prev, const Tensor& c,
                                    const Tensor& dh, const Tensor& dh_out, Tensor& dc,
                                    Tensor& dz) {
  const int64_t N = c.shape()[0], U = c.shape()[1];
  dispatch_float(gates.dtype(), "lstm_cell_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* a = gates.data<T>();
    const T* cp = c_prev.data<T>();
    const T* cn = c.data<T>();
    const T* dhp = dh.data<T>();
    const T* dho = dh_out.defined() ? dh_out.data<T>() : nullptr;
    T* dcp = dc.data<T>();
    T* dzp = dz.data<T>();
    parallel_for(N, row_grain(kTranscendentalGrain, U), [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        const T* an = a + n * 4 * U;
        T* d = dzp + n * 4 * U;
        for (int64_t u = 0; u < U; ++u) {
          const int64_t k = n * U + u;
          math::LstmGates<T> g{an[u], an[U + u], an[2 * U + u], an[3 * U + u]};
          T grad_h = dho ? dhp[k] + dho[k] : dhp[k];
          T dc_prev;
          math::LstmGates<T> dg =
              math::lstm_cell_backward(g, cp[k], cn[k], grad_h, dcp[k], dc_prev);
          dcp[k] = dc_prev;
          d[u] = dg.i;
          d[U + u] = dg.f;
          d[2 * U + u] = dg.g;
          d[3 * U + u] = dg.o;
        }
      }
    });
  });
}

// x (A, B, C) -> out (B, A, C): one row of C copied per (b, a).
void CpuBackend::swap_leading_axes(const Tensor& x, bool reverse_a, bool reverse_b, Tensor& out) {
  const int64_t A = x.shape()[0], B = x.shape()[1];
  const int64_t C = A * B == 0 ? 0 : x.numel() / (A * B);
  const size_t row_bytes = static_cast<size_t>(C) * dtype_size(x.dtype());
  const char* src = static_cast<const char*>(x.raw());
  char* dst = static_cast<char*>(out.raw());
  parallel_for(B, row_grain(kElementwiseGrain, A * C), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t xb = reverse_b ? B - 1 - b : b;
      for (int64_t a = 0; a < A; ++a) {
        const int64_t xa = reverse_a ? A - 1 - a : a;
        std::memcpy(dst + (b * A + a) * row_bytes, src + (xa * B + xb) * row_bytes, row_bytes);
      }
    }
  });
}

}  // namespace fastnn
