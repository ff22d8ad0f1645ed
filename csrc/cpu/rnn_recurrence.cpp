// A recurrent layer's whole recurrence on the CPU (the algorithm and buffers: ops/rnn.cpp).
// Rows of the batch never interact through time, so the batch is cut into blocks of rows and
// each thread runs its blocks through every step: per step the block's recurrent GEMM
// (OpenBLAS, single-threaded inside the pool) and the cell's pass over its rows. One
// parallel region per call instead of two per step: no thread waits for another between
// steps, and a block's rows of h, c and Z stay in its core's cache. The blocks depend on the
// batch size and the core count only, so results never depend on the thread count.
#include <algorithm>

#include "core/parallel.h"
#include "cpu/activation_dispatch.h"
#include "cpu/backend_cpu.h"
#include "cpu/blas.h"
#include "cpu/rnn_rows.h"

namespace fastnn {

namespace {

// Below this many rows a block's GEMMs lose more to OpenBLAS's packing than a second core
// gains; below kMinMultiplies multiply-adds in all (a few microseconds) one block does it all.
constexpr int64_t kMinBlockRows = 16;
constexpr double kMinMultiplies = 1 << 19;

int64_t row_blocks(const RnnRecurrence& r, int64_t gates) {
  const double work = double(r.steps) * double(r.batch) * double(r.units) * double(gates);
  if (work < kMinMultiplies) return 1;
  return std::clamp<int64_t>(r.batch / kMinBlockRows, 1, hardware_threads());
}

// c (m, n) = a (m, k) @ b (k, n) + beta * c, all row-major with leading dimensions; in
// small-GEMM pieces where OpenBLAS multiplies those without packing (cpu/blas.cpp): a step's
// GEMM of a 32-row block would otherwise repack R at every step.
void gemm_rows(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
               int64_t ldb, float beta, float* c, int64_t ldc) {
  blas_sgemm_pieces(false, false, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}
void gemm_rows(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
               int64_t ldb, double beta, double* c, int64_t ldc) {
  blas_dgemm_pieces(false, false, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
}

// out (cols, rows) = a (rows, cols) transposed, in 16 x 16 tiles so that both sides stay
// in cache lines.
template <class T>
void transpose(const T* a, int64_t rows, int64_t cols, T* out) {
  constexpr int64_t kTile = 16;
  for (int64_t r0 = 0; r0 < rows; r0 += kTile)
    for (int64_t c0 = 0; c0 < cols; c0 += kTile)
      for (int64_t r = r0; r < std::min(rows, r0 + kTile); ++r)
        for (int64_t c = c0; c < std::min(cols, c0 + kTile); ++c) out[c * rows + r] = a[r * cols + c];
}

template <class T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Calls body(n0, n1) for each block of rows, the blocks spread over the pool.
template <class Body>
void for_each_row_block(const RnnRecurrence& r, int64_t gates, Body&& body) {
  const int64_t N = r.batch, blocks = row_blocks(r, gates);
  const int64_t per = (N + blocks - 1) / blocks;
  parallel_for(blocks, 1, [&](int64_t first, int64_t last) {
    for (int64_t block = first; block < last; ++block)
      body(block * per, std::min(N, (block + 1) * per));
  });
}

// The SimpleRNN activation (or a placeholder for the gated cells, which do not use it).
template <class T, class Body>
void with_cell_activation(const RnnRecurrence& r, Body&& body) {
  if (r.cell == RnnCell::Simple)
    with_activation<T>(r.activation, T(0), body);
  else
    body([](T x) { return x; });
}

template <class T, class Body>
void with_cell_activation_grad(const RnnRecurrence& r, Body&& body) {
  if (r.cell == RnnCell::Simple)
    with_activation_grad<T>(r.activation, T(0), body);
  else
    body([](T, T) { return T(1); });
}

}  // namespace

void CpuBackend::rnn_forward(const RnnRecurrence& r) {
  const int64_t T_ = r.steps, N = r.batch, U = r.units, G = r.recurrent_kernel.shape()[1];
  dispatch_float(r.h.dtype(), "rnn_forward", [&](auto zero) {
    using T = decltype(zero);
    const T* R = r.recurrent_kernel.data<T>();
    const T* bias = data_or_null<T>(r.bias);
    const T* keep = data_or_null<T>(r.keep);
    const T* dropout = data_or_null<T>(r.recurrent_mask);
    T* Z = r.Z.data<T>();
    T* Q = r.cell == RnnCell::Gru ? r.Q.data<T>() : nullptr;
    T* h = r.h.data<T>();
    T* c = r.cell == RnnCell::Lstm ? r.c.data<T>() : nullptr;
    with_cell_activation<T>(r, [&](auto f) {
      for_each_row_block(r, G, [&](int64_t n0, int64_t n1) {
        const int64_t rows = n1 - n0;
        T* dropped = dropout ? scratch<T>(0, rows * U) : nullptr;
        for (int64_t t = 0; t < T_; ++t) {
          const T* h_prev = h + t * N * U;
          T* h_next = h + (t + 1) * N * U;
          const T* keep_t = keep ? keep + t * N : nullptr;
          const bool zero_prev = t == 0 && !r.initial_state;  // skip a GEMM by zeros
          const T* h_in = h_prev + n0 * U;  // what multiplies R: h, or h times the mask
          if (dropped && !zero_prev) {
            for (int64_t i = 0; i < rows * U; ++i) dropped[i] = h_in[i] * dropout[n0 * U + i];
            h_in = dropped;
          }
          T* z_t = Z + t * N * G;
          switch (r.cell) {
            case RnnCell::Lstm:
              if (!zero_prev) gemm_rows(rows, G, U, h_in, U, R, G, T(1), z_t + n0 * G, G);
              rnn_rows::lstm_forward_rows(n0, n1, U, bias, keep_t, h_prev, c + t * N * U, z_t,
                                          c + (t + 1) * N * U, h_next);
              break;
            case RnnCell::Gru: {
              T* q_t = Q + t * N * G;
              if (zero_prev)
                std::fill(q_t + n0 * G, q_t + n1 * G, T(0));
              else
                gemm_rows(rows, G, U, h_in, U, R, G, T(0), q_t + n0 * G, G);
              rnn_rows::gru_forward_rows(n0, n1, U, bias, keep_t, h_prev, z_t, q_t, h_next);
              break;
            }
            case RnnCell::Simple:  // Z is h[1..T]: z_t == h_next
              if (!zero_prev) gemm_rows(rows, G, U, h_in, U, R, G, T(1), z_t + n0 * G, G);
              rnn_rows::simple_rnn_forward_rows(n0, n1, U, f, bias, keep_t, h_prev, h_next);
              break;
          }
        }
      });
    });
  });
}

void CpuBackend::rnn_backward(const RnnRecurrence& r, const Tensor& dH, bool with_initial_state,
                              Tensor& dh, Tensor& dc, Tensor& dZ, Tensor& dQ) {
  const int64_t T_ = r.steps, N = r.batch, U = r.units, G = r.recurrent_kernel.shape()[1];
  dispatch_float(r.h.dtype(), "rnn_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* R = r.recurrent_kernel.data<T>();
    const T* keep = data_or_null<T>(r.keep);
    const T* dropout = data_or_null<T>(r.recurrent_mask);
    const T* Z = r.Z.data<T>();
    const T* Q = r.cell == RnnCell::Gru ? r.Q.data<T>() : nullptr;
    const T* h = r.h.data<T>();
    const T* c = r.cell == RnnCell::Lstm ? r.c.data<T>() : nullptr;
    const T* dH_p = data_or_null<T>(dH);
    T* dh_p = dh.data<T>();
    T* dc_p = r.cell == RnnCell::Lstm ? dc.data<T>() : nullptr;
    T* dZ_p = dZ.data<T>();
    T* dQ_p = r.cell == RnnCell::Gru ? dQ.data<T>() : nullptr;
    // What R multiplied in the forward, whose gradient goes back through R^T.
    T* d_recurrent = r.cell == RnnCell::Gru ? dQ_p : dZ_p;
    // R^T (G, U) as a row-major copy of its own, made once per call, so that every step's
    // GEMM takes it as a plain operand: OpenBLAS packs a transposed operand from strided
    // columns, and for a step's 32 x 512 x 128 product that packing cost more than half
    // the product itself (73 us vs 46 us with the copy, one core).
    T* Rt = scratch<T>(1, static_cast<size_t>(G * U));
    transpose(R, U, G, Rt);
    with_cell_activation_grad<T>(r, [&](auto df) {
      for_each_row_block(r, G, [&](int64_t n0, int64_t n1) {
        const int64_t rows = n1 - n0;
        T* dropped = dropout ? scratch<T>(0, rows * U) : nullptr;
        for (int64_t t = T_ - 1; t >= 0; --t) {
          const T* keep_t = keep ? keep + t * N : nullptr;
          const T* dH_t = dH_p ? dH_p + t * N * U : nullptr;
          switch (r.cell) {
            case RnnCell::Lstm:
              rnn_rows::lstm_backward_rows(n0, n1, U, Z + t * N * G, keep_t, c + t * N * U,
                                           c + (t + 1) * N * U, dH_t, dh_p, dc_p, dZ_p + t * N * G);
              break;
            case RnnCell::Gru:
              rnn_rows::gru_backward_rows(n0, n1, U, Z + t * N * G, Q + t * N * G, keep_t,
                                          h + t * N * U, dH_t, dh_p, dZ_p + t * N * G,
                                          dQ_p + t * N * G);
              break;
            case RnnCell::Simple:
              rnn_rows::simple_rnn_backward_rows(n0, n1, U, df, h + (t + 1) * N * U, keep_t, dH_t,
                                                 dh_p, dZ_p + t * N * G);
              break;
          }
          if (t == 0 && !with_initial_state) break;  // nobody reads h0's gradient
          const T* d_t = d_recurrent + t * N * G + n0 * G;
          T* dh_rows = dh_p + n0 * U;
          if (dropped) {  // dh += (d_t @ R^T) * mask
            gemm_rows(rows, U, G, d_t, G, Rt, U, T(0), dropped, U);
            for (int64_t i = 0; i < rows * U; ++i) dh_rows[i] += dropped[i] * dropout[n0 * U + i];
          } else {
            gemm_rows(rows, U, G, d_t, G, Rt, U, T(1), dh_rows, U);
          }
        }
      });
    });
  });
}

}  // namespace fastnn
