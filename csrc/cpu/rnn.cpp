// Recurrent cells (LSTM, GRU, SimpleRNN), one step for the whole batch, and the sequence
// transposition around them. N = batch, U = units; a gate row holds Keras's gate blocks of U
// (LSTM i, f, c, o; GRU z, r, h). The GEMMs of the recurrence are the op's (ops/rnn.cpp);
// these are the passes between them. A row whose keep is 0 (a masked step) carries its state
// through: forward copies h_prev (and c_prev), backward passes dh (and dc) on with a zero dz.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "core/parallel.h"
#include "cpu/activation_dispatch.h"
#include "cpu/backend_cpu.h"
#include "math/rnn.h"

namespace fastnn {

namespace {

template <class T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

template <class T>
bool skipped(const T* keep, int64_t n) {
  return keep && keep[n] == T(0);
}

// Transcendental calls per element of a cell's (N, U) state: the grain's unit of work.
constexpr int64_t kLstmForwardCost = 5, kGruForwardCost = 3;

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

}  // namespace

// --- LSTM ------------------------------------------------------------------------------------

// gates (N, 4U): z without bias in, activations out; h_prev, c_prev (N, U) -> c, h (N, U).
void CpuBackend::lstm_cell_forward(const Tensor& bias, const Tensor& keep, const Tensor& h_prev,
                                   const Tensor& c_prev, Tensor& gates, Tensor& c, Tensor& h) {
  const int64_t N = c.shape()[0], U = c.shape()[1];
  dispatch_float(gates.dtype(), "lstm_cell_forward", [&](auto zero) {
    using T = decltype(zero);
    const T* b = data_or_null<T>(bias);
    const T* kp = data_or_null<T>(keep);
    const T* hp = h_prev.data<T>();
    const T* cp = c_prev.data<T>();
    T* zp = gates.data<T>();
    T* cn = c.data<T>();
    T* hn = h.data<T>();
    parallel_for(N, row_grain(kTranscendentalGrain / kLstmForwardCost, U),
                 [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        if (skipped(kp, n)) {
          std::copy(hp + n * U, hp + (n + 1) * U, hn + n * U);
          std::copy(cp + n * U, cp + (n + 1) * U, cn + n * U);
          continue;
        }
        if (b)
          lstm_forward_row<T, true>(U, b, cp + n * U, zp + n * 4 * U, cn + n * U, hn + n * U);
        else
          lstm_forward_row<T, false>(U, b, cp + n * U, zp + n * 4 * U, cn + n * U, hn + n * U);
      }
    });
  });
}

// gates (N, 4U) activated, c_prev, c, dh_out (N, U); dh, dc (N, U) in/out; dz (N, 4U).
void CpuBackend::lstm_cell_backward(const Tensor& gates, const Tensor& keep, const Tensor& c_prev,
                                    const Tensor& c, const Tensor& dh_out, Tensor& dh, Tensor& dc,
                                    Tensor& dz) {
  const int64_t N = c.shape()[0], U = c.shape()[1];
  dispatch_float(gates.dtype(), "lstm_cell_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* a = gates.data<T>();
    const T* kp = data_or_null<T>(keep);
    const T* cp = c_prev.data<T>();
    const T* cn = c.data<T>();
    const T* dho = data_or_null<T>(dh_out);
    T* dhp = dh.data<T>();
    T* dcp = dc.data<T>();
    T* dzp = dz.data<T>();
    parallel_for(N, row_grain(kTranscendentalGrain, U), [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        T* d = dzp + n * 4 * U;
        if (skipped(kp, n)) {  // dh and dc pass on unchanged
          std::fill(d, d + 4 * U, T(0));
          continue;
        }
        const int64_t k = n * U;
        if (dho)
          lstm_backward_row<T, true>(U, a + n * 4 * U, cp + k, cn + k, dho + k, dhp + k, dcp + k,
                                     d);
        else
          lstm_backward_row<T, false>(U, a + n * 4 * U, cp + k, cn + k, dho, dhp + k, dcp + k, d);
      }
    });
  });
}

// --- GRU -------------------------------------------------------------------------------------

// gates (N, 3U): x_t W in, activations out; recurrent (N, 3U): h_prev R in, + recurrent bias
// out; h_prev -> h (N, U).
void CpuBackend::gru_cell_forward(const Tensor& bias, const Tensor& keep, const Tensor& h_prev,
                                  Tensor& gates, Tensor& recurrent, Tensor& h) {
  const int64_t N = h.shape()[0], U = h.shape()[1];
  dispatch_float(gates.dtype(), "gru_cell_forward", [&](auto zero) {
    using T = decltype(zero);
    const T* bias_p = data_or_null<T>(bias);
    const T* kp = data_or_null<T>(keep);
    const T* hp = h_prev.data<T>();
    T* xp = gates.data<T>();
    T* qp = recurrent.data<T>();
    T* hn = h.data<T>();
    parallel_for(N, row_grain(kTranscendentalGrain / kGruForwardCost, U),
                 [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        if (skipped(kp, n)) {
          std::copy(hp + n * U, hp + (n + 1) * U, hn + n * U);
          continue;
        }
        T* x = xp + n * 3 * U;
        T* q = qp + n * 3 * U;
        if (bias_p)
          gru_forward_row<T, true>(U, bias_p, hp + n * U, x, q, hn + n * U);
        else
          gru_forward_row<T, false>(U, bias_p, hp + n * U, x, q, hn + n * U);
      }
    });
  });
}

// gates, recurrent (N, 3U) as the forward left them; h_prev, dh_out (N, U); dh in/out;
// dz_input, dz_recurrent (N, 3U).
void CpuBackend::gru_cell_backward(const Tensor& gates, const Tensor& recurrent,
                                   const Tensor& keep, const Tensor& h_prev, const Tensor& dh_out,
                                   Tensor& dh, Tensor& dz_input, Tensor& dz_recurrent) {
  const int64_t N = h_prev.shape()[0], U = h_prev.shape()[1];
  dispatch_float(gates.dtype(), "gru_cell_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* a = gates.data<T>();
    const T* q = recurrent.data<T>();
    const T* kp = data_or_null<T>(keep);
    const T* hp = h_prev.data<T>();
    const T* dho = data_or_null<T>(dh_out);
    T* dhp = dh.data<T>();
    T* dxp = dz_input.data<T>();
    T* dqp = dz_recurrent.data<T>();
    // Products only (the forward saved the activations): the cheap loops' grain.
    parallel_for(N, row_grain(kElementwiseGrain, U), [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        T* dx = dxp + n * 3 * U;
        T* dq = dqp + n * 3 * U;
        if (skipped(kp, n)) {
          std::fill(dx, dx + 3 * U, T(0));
          std::fill(dq, dq + 3 * U, T(0));
          continue;
        }
        const int64_t k = n * U;
        if (dho)
          gru_backward_row<T, true>(U, a + n * 3 * U, q + n * 3 * U, hp + k, dho + k, dhp + k, dx,
                                    dq);
        else
          gru_backward_row<T, false>(U, a + n * 3 * U, q + n * 3 * U, hp + k, dho, dhp + k, dx,
                                     dq);
      }
    });
  });
}

// --- SimpleRNN -------------------------------------------------------------------------------

// h (N, U): x_t W + h_prev R in, act(. + bias) out.
void CpuBackend::simple_rnn_cell_forward(Activation act, const Tensor& bias, const Tensor& keep,
                                         const Tensor& h_prev, Tensor& h) {
  const int64_t N = h.shape()[0], U = h.shape()[1];
  dispatch_float(h.dtype(), "simple_rnn_cell_forward", [&](auto zero) {
    using T = decltype(zero);
    const T* b = data_or_null<T>(bias);
    const T* kp = data_or_null<T>(keep);
    const T* hp = h_prev.data<T>();
    T* hn = h.data<T>();
    with_activation<T>(act, T(0), [&](auto f) {
      parallel_for(N, row_grain(kTranscendentalGrain, U), [&](int64_t n0, int64_t n1) {
        for (int64_t n = n0; n < n1; ++n) {
          T* row = hn + n * U;
          if (skipped(kp, n)) {
            std::copy(hp + n * U, hp + (n + 1) * U, row);
            continue;
          }
          if (b)
            for (int64_t u = 0; u < U; ++u) row[u] += b[u];
          for (int64_t u = 0; u < U; ++u) row[u] = f(row[u]);
        }
      });
    });
  });
}

// h, dh_out (N, U); dh in/out; dz (N, U).
void CpuBackend::simple_rnn_cell_backward(Activation act, const Tensor& h, const Tensor& keep,
                                          const Tensor& dh_out, Tensor& dh, Tensor& dz) {
  const int64_t N = h.shape()[0], U = h.shape()[1];
  dispatch_float(h.dtype(), "simple_rnn_cell_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* y = h.data<T>();
    const T* kp = data_or_null<T>(keep);
    const T* dho = data_or_null<T>(dh_out);
    T* dhp = dh.data<T>();
    T* dzp = dz.data<T>();
    // The derivative from the output alone (the op admits no GELU), so y stands for x too.
    with_activation_grad<T>(act, T(0), [&](auto df) {
      parallel_for(N, row_grain(kElementwiseGrain, U), [&](int64_t n0, int64_t n1) {
        for (int64_t n = n0; n < n1; ++n) {
          T* d = dzp + n * U;
          if (skipped(kp, n)) {
            std::fill(d, d + U, T(0));
            continue;
          }
          for (int64_t u = 0; u < U; ++u) {
            const int64_t k = n * U + u;
            T grad_h = dho ? dhp[k] + dho[k] : dhp[k];
            d[u] = grad_h * df(y[k], y[k]);
            dhp[k] = T(0);
          }
        }
      });
    });
  });
}

// --- sequences -------------------------------------------------------------------------------

// x (rows, C) of any dtype -> out (rows): whether a row holds anything but value.
void CpuBackend::step_mask(const Tensor& x, double value, Tensor& out) {
  const int64_t rows = out.numel(), C = rows == 0 ? 0 : x.numel() / rows;
  auto run = [&](const auto* xp) {
    using X = std::remove_const_t<std::remove_pointer_t<decltype(xp)>>;
    dispatch_float(out.dtype(), "step_mask", [&](auto zero) {
      using T = decltype(zero);
      T* op = out.data<T>();
      parallel_for(rows, row_grain(kElementwiseGrain, C), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const X* row = xp + r * C;
          bool any = false;
          for (int64_t c = 0; c < C; ++c) any |= static_cast<double>(row[c]) != value;
          op[r] = any ? T(1) : T(0);
        }
      });
    });
  };
  switch (x.dtype()) {
    case DType::Float32:
      return run(x.data<float>());
    case DType::Float64:
      return run(x.data<double>());
    case DType::Int32:
      return run(x.data<int32_t>());
    case DType::Int64:
      return run(x.data<int64_t>());
  }
}

// x (A, B, C) -> out (B, A, C): one row of C copied (or zeroed where keep is 0) per (b, a).
void CpuBackend::swap_leading_axes(const Tensor& x, bool reverse_a, bool reverse_b,
                                   const Tensor& keep, Tensor& out) {
  const int64_t A = x.shape()[0], B = x.shape()[1];
  const int64_t C = A * B == 0 ? 0 : x.numel() / (A * B);
  const size_t row_bytes = static_cast<size_t>(C) * dtype_size(x.dtype());
  const char* src = static_cast<const char*>(x.raw());
  char* dst = static_cast<char*>(out.raw());
  dispatch_float(x.dtype(), "swap_leading_axes", [&](auto zero) {
    using T = decltype(zero);
    const T* kp = keep.defined() ? keep.data<T>() : nullptr;
    parallel_for(B, row_grain(kElementwiseGrain, A * C), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t xb = reverse_b ? B - 1 - b : b;
        for (int64_t a = 0; a < A; ++a) {
          const int64_t xa = reverse_a ? A - 1 - a : a;
          char* row = dst + (b * A + a) * row_bytes;
          if (skipped(kp, xa * B + xb))
            std::memset(row, 0, row_bytes);
          else
            std::memcpy(row, src + (xa * B + xb) * row_bytes, row_bytes);
        }
      }
    });
  });
}

}  // namespace fastnn
