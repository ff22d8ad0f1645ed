// Recurrent cells (LSTM, GRU, SimpleRNN), one step for the whole batch, the step masks and
// the sequence transposition around them. The cells' row passes are in rnn_rows.h (shared
// with the whole recurrence, rnn_recurrence.cpp); these kernels hand rows to the threads.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "core/parallel.h"
#include "cpu/activation_dispatch.h"
#include "cpu/backend_cpu.h"
#include "cpu/rnn_rows.h"

namespace fastnn {

namespace {

template <class T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Transcendental calls per element of a cell's (N, U) state: the grain's unit of work.
constexpr int64_t kLstmForwardCost = 5, kGruForwardCost = 3;

}  // namespace

// --- LSTM ------------------------------------------------------------------------------------

// gates (N, 4U): z without bias in, activations out; h_prev, c_prev (N, U) -> c, h (N, U).
void CpuBackend::lstm_cell_forward(const Tensor& bias, const Tensor& keep, const Tensor& h_prev,
                                   const Tensor& c_prev, Tensor& gates, Tensor& c, Tensor& h) {
  const int64_t N = c.shape()[0], U = c.shape()[1];
  dispatch_float(gates.dtype(), "lstm_cell_forward", [&](auto zero) {
    using T = decltype(zero);
    parallel_for(N, row_grain(kTranscendentalGrain / kLstmForwardCost, U),
                 [&](int64_t n0, int64_t n1) {
      rnn_rows::lstm_forward_rows(n0, n1, U, data_or_null<T>(bias), data_or_null<T>(keep),
                                  h_prev.data<T>(), c_prev.data<T>(), gates.data<T>(),
                                  c.data<T>(), h.data<T>());
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
    parallel_for(N, row_grain(kTranscendentalGrain, U), [&](int64_t n0, int64_t n1) {
      rnn_rows::lstm_backward_rows(n0, n1, U, gates.data<T>(), data_or_null<T>(keep),
                                   c_prev.data<T>(), c.data<T>(), data_or_null<T>(dh_out),
                                   dh.data<T>(), dc.data<T>(), dz.data<T>());
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
    parallel_for(N, row_grain(kTranscendentalGrain / kGruForwardCost, U),
                 [&](int64_t n0, int64_t n1) {
      rnn_rows::gru_forward_rows(n0, n1, U, data_or_null<T>(bias), data_or_null<T>(keep),
                                 h_prev.data<T>(), gates.data<T>(), recurrent.data<T>(),
                                 h.data<T>());
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
    // Products only (the forward saved the activations): the cheap loops' grain.
    parallel_for(N, row_grain(kElementwiseGrain, U), [&](int64_t n0, int64_t n1) {
      rnn_rows::gru_backward_rows(n0, n1, U, gates.data<T>(), recurrent.data<T>(),
                                  data_or_null<T>(keep), h_prev.data<T>(),
                                  data_or_null<T>(dh_out), dh.data<T>(), dz_input.data<T>(),
                                  dz_recurrent.data<T>());
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
    with_activation<T>(act, T(0), [&](auto f) {
      parallel_for(N, row_grain(kTranscendentalGrain, U), [&](int64_t n0, int64_t n1) {
        rnn_rows::simple_rnn_forward_rows(n0, n1, U, f, data_or_null<T>(bias),
                                          data_or_null<T>(keep), h_prev.data<T>(), h.data<T>());
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
    with_activation_grad<T>(act, T(0), [&](auto df) {
      parallel_for(N, row_grain(kElementwiseGrain, U), [&](int64_t n0, int64_t n1) {
        rnn_rows::simple_rnn_backward_rows(n0, n1, U, df, h.data<T>(), data_or_null<T>(keep),
                                           data_or_null<T>(dh_out), dh.data<T>(), dz.data<T>());
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
    case DType::Bool:
      return run(x.data<bool>());
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
          if (rnn_rows::skipped(kp, xa * B + xb))
            std::memset(row, 0, row_bytes);
          else
            std::memcpy(row, src + (xa * B + xb) * row_bytes, row_bytes);
        }
      }
    });
  });
}

}  // namespace fastnn
