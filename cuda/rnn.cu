// Recurrent cells (LSTM, GRU, SimpleRNN), the recurrence over a whole sequence, the step
// masks and the sequence transposition around them (csrc/cpu/rnn.cpp and
// rnn_recurrence.cpp's counterpart; the algorithm and the buffers' layouts: ops/rnn.cpp).
//
// The cell kernels run one thread per (row, unit) of a step's (N, U) state, calling the gate
// math of csrc/math/rnn.h; the thread of (n, u) reads and writes column u of each of row n's
// gate blocks. A row whose keep is 0 (a masked step) carries its state through exactly as
// csrc/cpu/rnn_rows.h does: forward copies h_prev (and c_prev), backward leaves dh (and dc)
// as they are and writes a zero dz.
//
// The recurrence runs step by step on the device's stream: per step one cuBLAS GEMM for the
// whole batch, then the cell's kernel (backward: the cell's kernel, then the GEMM that takes
// dh to the previous step). The CPU instead gives blocks of rows to its threads for all the
// steps; on the GPU a step's batch is the parallelism, and the stream orders the steps.
// Nothing here is read by the host, and every kernel writes each output element from one
// thread with a fixed sequence of operations, so results are the same run to run.
#include "cuda/common.cuh"
#include "math/activation.h"
#include "math/rnn.h"

namespace fastnn {

using cuda::for_each;

namespace {

template <class T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Row block [t * N, (t + 1) * N) of a time-major buffer: step t's (N, cols) matrix (a view).
Tensor step(const Tensor& buffer, int64_t t, int64_t N) {
  return buffer.rows(t * N, (t + 1) * N);
}

// Whether row n of a step is masked out: keep (N) is 0 there (null keep runs every row).
template <class T>
__device__ __forceinline__ bool skipped(const T* keep, int64_t n) {
  return keep != nullptr && keep[n] == T(0);
}

// The SimpleRNN activation and its derivative, as cpu/activation_dispatch.h's with_activation
// and with_activation_grad give them to the CPU cell (alpha 0; the derivative called with
// the output for both of its arguments). `act` is the same for every thread of a launch, so
// the switch does not diverge.
template <class T>
__device__ __forceinline__ T activate(Activation act, T x) {
  switch (act) {
    case Activation::Linear:
      return x;
    case Activation::ReLU:
      return math::relu(x);
    case Activation::LeakyReLU:
      return math::leaky_relu(x, T(0));
    case Activation::Sigmoid:
      return math::sigmoid(x);
    case Activation::Tanh:
      return math::tanh_act(x);
    case Activation::GELU:
      return math::gelu(x);
  }
  return x;
}

template <class T>
__device__ __forceinline__ T activation_grad_at_output(Activation act, T y) {
  switch (act) {
    case Activation::Linear:
      return T(1);
    case Activation::ReLU:
      return math::relu_grad_from_y(y);
    case Activation::LeakyReLU:
      return math::leaky_relu_grad_from_y(y, T(0));
    case Activation::Sigmoid:
      return math::sigmoid_grad_from_y(y);
    case Activation::Tanh:
      return math::tanh_grad_from_y(y);
    case Activation::GELU:
      return math::gelu_grad(y);  // as the CPU's df(y, y); the op admits no GELU cell
  }
  return T(1);
}

// --- the cells' kernels: one thread per (n, u), i = n * U + u ---------------------------------

// gates (N, 4U): z without bias in, activated gates out; bias (4U) or null; keep (N) or null;
// h_prev, c_prev (N, U) -> c, h (N, U).
template <class T>
void lstm_forward(cudaStream_t stream, int64_t N, int64_t U, const T* bias, const T* keep,
                  const T* h_prev, const T* c_prev, T* gates, T* c, T* h) {
  for_each(stream, N * U, [=] __device__(int64_t i) {
    const int64_t n = i / U, u = i % U;
    if (skipped(keep, n)) {
      h[i] = h_prev[i];
      c[i] = c_prev[i];
      return;
    }
    T* z = gates + n * 4 * U;
    math::LstmGates<T> g{z[u], z[U + u], z[2 * U + u], z[3 * U + u]};
    if (bias) {
      g.i += bias[u];
      g.f += bias[U + u];
      g.g += bias[2 * U + u];
      g.o += bias[3 * U + u];
    }
    T c_new, h_new;
    math::lstm_cell_forward(g, c_prev[i], c_new, h_new);
    c[i] = c_new;
    h[i] = h_new;
    z[u] = g.i;
    z[U + u] = g.f;
    z[2 * U + u] = g.g;
    z[3 * U + u] = g.o;
  });
}

// gates (N, 4U) activated; c_prev, c, dh_out (N, U; dh_out may be null); dh, dc (N, U) in/out;
// dz (N, 4U).
template <class T>
void lstm_backward(cudaStream_t stream, int64_t N, int64_t U, const T* gates, const T* keep,
                   const T* c_prev, const T* c, const T* dh_out, T* dh, T* dc, T* dz) {
  for_each(stream, N * U, [=] __device__(int64_t i) {
    const int64_t n = i / U, u = i % U;
    T* d = dz + n * 4 * U;
    if (skipped(keep, n)) {  // dh and dc pass on unchanged
      d[u] = d[U + u] = d[2 * U + u] = d[3 * U + u] = T(0);
      return;
    }
    const T* a = gates + n * 4 * U;
    math::LstmGates<T> g{a[u], a[U + u], a[2 * U + u], a[3 * U + u]};
    T grad_h = dh[i];
    if (dh_out) grad_h += dh_out[i];
    T dc_prev;
    math::LstmGates<T> dg = math::lstm_cell_backward(g, c_prev[i], c[i], grad_h, dc[i], dc_prev);
    dc[i] = dc_prev;
    dh[i] = T(0);  // h_prev reaches h only through R
    d[u] = dg.i;
    d[U + u] = dg.f;
    d[2 * U + u] = dg.g;
    d[3 * U + u] = dg.o;
  });
}

// gates (N, 3U): x_t W in, activated gates out; recurrent (N, 3U): h_prev R in, its candidate
// third + recurrent bias out; bias (2, 3U) or null; h_prev -> h (N, U).
template <class T>
void gru_forward(cudaStream_t stream, int64_t N, int64_t U, const T* bias, const T* keep,
                 const T* h_prev, T* gates, T* recurrent, T* h) {
  for_each(stream, N * U, [=] __device__(int64_t i) {
    const int64_t n = i / U, u = i % U;
    if (skipped(keep, n)) {
      h[i] = h_prev[i];
      return;
    }
    T* x = gates + n * 3 * U;
    T* q = recurrent + n * 3 * U;
    math::GruGates<T> gx{x[u], x[U + u], x[2 * U + u]};
    math::GruGates<T> gq{q[u], q[U + u], q[2 * U + u]};
    if (bias) {
      gx.z += bias[u];
      gx.r += bias[U + u];
      gx.h += bias[2 * U + u];
      gq.z += bias[3 * U + u];
      gq.r += bias[4 * U + u];
      gq.h += bias[5 * U + u];
    }
    h[i] = math::gru_cell_forward(gx, gq, h_prev[i]);
    x[u] = gx.z;
    x[U + u] = gx.r;
    x[2 * U + u] = gx.h;
    q[2 * U + u] = gq.h;
  });
}

// gates, recurrent (N, 3U) as the forward left them; h_prev, dh_out (N, U; dh_out may be
// null); dh (N, U) in/out; dx, dq (N, 3U): the input and recurrent parts' gradients.
template <class T>
void gru_backward(cudaStream_t stream, int64_t N, int64_t U, const T* gates, const T* recurrent,
                  const T* keep, const T* h_prev, const T* dh_out, T* dh, T* dx, T* dq) {
  for_each(stream, N * U, [=] __device__(int64_t i) {
    const int64_t n = i / U, u = i % U;
    T* dxn = dx + n * 3 * U;
    T* dqn = dq + n * 3 * U;
    if (skipped(keep, n)) {
      dxn[u] = dxn[U + u] = dxn[2 * U + u] = T(0);
      dqn[u] = dqn[U + u] = dqn[2 * U + u] = T(0);
      return;
    }
    const T* a = gates + n * 3 * U;
    const T* q = recurrent + n * 3 * U;
    math::GruGates<T> g{a[u], a[U + u], a[2 * U + u]};
    math::GruGates<T> gx, gq;
    T grad_h = dh[i];
    if (dh_out) grad_h += dh_out[i];
    dh[i] = math::gru_cell_backward(g, q[2 * U + u], h_prev[i], grad_h, gx, gq);
    dxn[u] = gx.z;
    dxn[U + u] = gx.r;
    dxn[2 * U + u] = gx.h;
    dqn[u] = gq.z;
    dqn[U + u] = gq.r;
    dqn[2 * U + u] = gq.h;
  });
}

// h (N, U): x_t W + h_prev R in, act(. + bias) out (h_prev on skipped rows); bias (U) or null.
template <class T>
void simple_rnn_forward(cudaStream_t stream, int64_t N, int64_t U, Activation act, const T* bias,
                        const T* keep, const T* h_prev, T* h) {
  for_each(stream, N * U, [=] __device__(int64_t i) {
    const int64_t n = i / U, u = i % U;
    if (skipped(keep, n)) {
      h[i] = h_prev[i];
      return;
    }
    T z = h[i];
    if (bias) z += bias[u];
    h[i] = activate(act, z);
  });
}

// y (N, U) the step's output, dh_out (N, U) or null; dh in/out; dz (N, U).
template <class T>
void simple_rnn_backward(cudaStream_t stream, int64_t N, int64_t U, Activation act, const T* y,
                         const T* keep, const T* dh_out, T* dh, T* dz) {
  for_each(stream, N * U, [=] __device__(int64_t i) {
    if (skipped(keep, i / U)) {
      dz[i] = T(0);
      return;
    }
    const T grad_h = dh_out ? dh[i] + dh_out[i] : dh[i];
    dz[i] = grad_h * activation_grad_at_output(act, y[i]);
    dh[i] = T(0);
  });
}

// --- recurrent dropout around the recurrence's GEMMs ------------------------------------------

// dropped (N, U) = h (N, U) * mask (N, U): what multiplies R in the forward.
template <class T>
void apply_recurrent_mask(cudaStream_t stream, const Tensor& h, const Tensor& mask,
                          const Tensor& dropped) {
  const T* hp = h.data<T>();
  const T* m = mask.data<T>();
  T* out = dropped.data<T>();
  for_each(stream, h.numel(), [=] __device__(int64_t i) { out[i] = hp[i] * m[i]; });
}

// dh (N, U) += product (N, U) * mask (N, U): the recurrent GEMM's gradient through the mask.
template <class T>
void add_masked(cudaStream_t stream, const Tensor& product, const Tensor& mask, const Tensor& dh) {
  const T* p = product.data<T>();
  const T* m = mask.data<T>();
  T* d = dh.data<T>();
  for_each(stream, dh.numel(), [=] __device__(int64_t i) { d[i] += p[i] * m[i]; });
}

// --- sequences --------------------------------------------------------------------------------

// x (rows, C) of element type X -> out (rows): 1 where the row holds anything but value. One
// thread per row (a step of a sequence), reading its C elements.
template <class T, class X>
void step_mask_rows(cudaStream_t stream, const X* x, int64_t rows, int64_t C, double value,
                    const Tensor& out) {
  T* o = out.data<T>();
  for_each(stream, rows, [=] __device__(int64_t r) {
    const X* row = x + r * C;
    bool any = false;
    for (int64_t c = 0; c < C && !any; ++c) any = static_cast<double>(row[c]) != value;
    o[r] = any ? T(1) : T(0);
  });
}

template <class X>
void step_mask_of(cudaStream_t stream, const Tensor& x, double value, const Tensor& out) {
  const int64_t rows = out.numel(), C = rows == 0 ? 0 : x.numel() / rows;
  FASTNN_FLOAT_CALL(out.dtype(), "step_mask", step_mask_rows, stream, x.data<X>(), rows, C, value,
                    out);
}

// x (A, B, C) -> out (B, A, C), out[b][a] = x[xa][xb] (reversed indices where asked), zero
// where keep (A, B) is 0 at [xa][xb]. One thread per output element.
template <class T>
void swap_axes(cudaStream_t stream, const Tensor& x, bool reverse_a, bool reverse_b,
               const Tensor& keep, const Tensor& out) {
  const int64_t A = x.shape()[0], B = x.shape()[1];
  const int64_t C = A * B == 0 ? 0 : x.numel() / (A * B);
  const T* xp = x.data<T>();
  const T* kp = data_or_null<T>(keep);
  T* op = out.data<T>();
  for_each(stream, A * B * C, [=] __device__(int64_t i) {
    const int64_t c = i % C, ba = i / C, a = ba % A, b = ba / A;
    const int64_t xa = reverse_a ? A - 1 - a : a, xb = reverse_b ? B - 1 - b : b;
    const int64_t from = xa * B + xb;
    op[i] = skipped(kp, from) ? T(0) : xp[from * C + c];
  });
}

}  // namespace

// --- the cells ----------------------------------------------------------------------------------

namespace {

template <class T>
void lstm_forward_call(cudaStream_t stream, const Tensor& bias, const Tensor& keep,
                       const Tensor& h_prev, const Tensor& c_prev, const Tensor& gates,
                       const Tensor& c, const Tensor& h) {
  lstm_forward<T>(stream, c.shape()[0], c.shape()[1], data_or_null<T>(bias), data_or_null<T>(keep),
                  h_prev.data<T>(), c_prev.data<T>(), gates.data<T>(), c.data<T>(), h.data<T>());
}

template <class T>
void lstm_backward_call(cudaStream_t stream, const Tensor& gates, const Tensor& keep,
                        const Tensor& c_prev, const Tensor& c, const Tensor& dh_out,
                        const Tensor& dh, const Tensor& dc, const Tensor& dz) {
  lstm_backward<T>(stream, c.shape()[0], c.shape()[1], gates.data<T>(), data_or_null<T>(keep),
                   c_prev.data<T>(), c.data<T>(), data_or_null<T>(dh_out), dh.data<T>(),
                   dc.data<T>(), dz.data<T>());
}

template <class T>
void gru_forward_call(cudaStream_t stream, const Tensor& bias, const Tensor& keep,
                      const Tensor& h_prev, const Tensor& gates, const Tensor& recurrent,
                      const Tensor& h) {
  gru_forward<T>(stream, h.shape()[0], h.shape()[1], data_or_null<T>(bias), data_or_null<T>(keep),
                 h_prev.data<T>(), gates.data<T>(), recurrent.data<T>(), h.data<T>());
}

template <class T>
void gru_backward_call(cudaStream_t stream, const Tensor& gates, const Tensor& recurrent,
                       const Tensor& keep, const Tensor& h_prev, const Tensor& dh_out,
                       const Tensor& dh, const Tensor& dz_input, const Tensor& dz_recurrent) {
  gru_backward<T>(stream, h_prev.shape()[0], h_prev.shape()[1], gates.data<T>(),
                  recurrent.data<T>(), data_or_null<T>(keep), h_prev.data<T>(),
                  data_or_null<T>(dh_out), dh.data<T>(), dz_input.data<T>(),
                  dz_recurrent.data<T>());
}

template <class T>
void simple_rnn_forward_call(cudaStream_t stream, Activation act, const Tensor& bias,
                             const Tensor& keep, const Tensor& h_prev, const Tensor& h) {
  simple_rnn_forward<T>(stream, h.shape()[0], h.shape()[1], act, data_or_null<T>(bias),
                        data_or_null<T>(keep), h_prev.data<T>(), h.data<T>());
}

template <class T>
void simple_rnn_backward_call(cudaStream_t stream, Activation act, const Tensor& h,
                              const Tensor& keep, const Tensor& dh_out, const Tensor& dh,
                              const Tensor& dz) {
  simple_rnn_backward<T>(stream, h.shape()[0], h.shape()[1], act, h.data<T>(),
                         data_or_null<T>(keep), data_or_null<T>(dh_out), dh.data<T>(),
                         dz.data<T>());
}

}  // namespace

void CudaBackend::lstm_cell_forward(const Tensor& bias, const Tensor& keep, const Tensor& h_prev,
                                    const Tensor& c_prev, Tensor& gates, Tensor& c, Tensor& h) {
  auto& dev = state(h.device());
  FASTNN_FLOAT_CALL(gates.dtype(), "lstm_cell_forward", lstm_forward_call, dev.stream, bias, keep,
                    h_prev, c_prev, gates, c, h);
}

void CudaBackend::lstm_cell_backward(const Tensor& gates, const Tensor& keep, const Tensor& c_prev,
                                     const Tensor& c, const Tensor& dh_out, Tensor& dh, Tensor& dc,
                                     Tensor& dz) {
  auto& dev = state(dz.device());
  FASTNN_FLOAT_CALL(gates.dtype(), "lstm_cell_backward", lstm_backward_call, dev.stream, gates,
                    keep, c_prev, c, dh_out, dh, dc, dz);
}

void CudaBackend::gru_cell_forward(const Tensor& bias, const Tensor& keep, const Tensor& h_prev,
                                   Tensor& gates, Tensor& recurrent, Tensor& h) {
  auto& dev = state(h.device());
  FASTNN_FLOAT_CALL(gates.dtype(), "gru_cell_forward", gru_forward_call, dev.stream, bias, keep,
                    h_prev, gates, recurrent, h);
}

void CudaBackend::gru_cell_backward(const Tensor& gates, const Tensor& recurrent,
                                    const Tensor& keep, const Tensor& h_prev, const Tensor& dh_out,
                                    Tensor& dh, Tensor& dz_input, Tensor& dz_recurrent) {
  auto& dev = state(dh.device());
  FASTNN_FLOAT_CALL(gates.dtype(), "gru_cell_backward", gru_backward_call, dev.stream, gates,
                    recurrent, keep, h_prev, dh_out, dh, dz_input, dz_recurrent);
}

void CudaBackend::simple_rnn_cell_forward(Activation act, const Tensor& bias, const Tensor& keep,
                                          const Tensor& h_prev, Tensor& h) {
  auto& dev = state(h.device());
  FASTNN_FLOAT_CALL(h.dtype(), "simple_rnn_cell_forward", simple_rnn_forward_call, dev.stream,
                    act, bias, keep, h_prev, h);
}

void CudaBackend::simple_rnn_cell_backward(Activation act, const Tensor& h, const Tensor& keep,
                                           const Tensor& dh_out, Tensor& dh, Tensor& dz) {
  auto& dev = state(dh.device());
  FASTNN_FLOAT_CALL(h.dtype(), "simple_rnn_cell_backward", simple_rnn_backward_call, dev.stream,
                    act, h, keep, dh_out, dh, dz);
}

// --- the recurrence -----------------------------------------------------------------------------

// Per step t: the recurrent GEMM for the whole batch (cuBLAS, on the stream), then the cell's
// kernel above on views of step t's rows. LSTM: Z[t] += h[t] R; GRU: Q[t] = h[t] R; SimpleRNN:
// h[t+1] (= Z[t]) += h[t] R. Without an initial state h[0] is zero and step 0 skips its GEMM
// (GRU: Q[0] = 0), as the CPU does.
void CudaBackend::rnn_forward(const RnnRecurrence& r) {
  const int64_t T_ = r.steps, N = r.batch, U = r.units, G = r.recurrent_kernel.shape()[1];
  auto& dev = state(r.h.device());
  const Tensor none;
  // Recurrent dropout: h[t] * mask takes h[t]'s place in the GEMM. Scratch (N, U) from the
  // device's pool, once per call (not per step).
  Tensor dropped;
  if (r.recurrent_mask.defined()) dropped = Tensor::empty({N, U}, r.h.dtype(), r.h.device());
  for (int64_t t = 0; t < T_; ++t) {
    const Tensor h_prev = step(r.h, t, N);
    Tensor h_next = step(r.h, t + 1, N);
    const Tensor keep_t = r.keep.defined() ? step(r.keep, t, N) : none;
    const bool zero_prev = t == 0 && !r.initial_state;  // skip a GEMM by zeros
    Tensor h_in = h_prev;  // what multiplies R: h, or h times the mask
    if (dropped.defined() && !zero_prev) {
      FASTNN_FLOAT_CALL(r.h.dtype(), "rnn_forward", apply_recurrent_mask, dev.stream, h_prev,
                        r.recurrent_mask, dropped);
      h_in = dropped;
    }
    switch (r.cell) {
      case RnnCell::Lstm: {
        Tensor z_t = step(r.Z, t, N), c_next = step(r.c, t + 1, N);
        if (!zero_prev) gemm(false, false, N, G, U, 1.0, h_in, r.recurrent_kernel, 1.0, z_t);
        lstm_cell_forward(r.bias, keep_t, h_prev, step(r.c, t, N), z_t, c_next, h_next);
        break;
      }
      case RnnCell::Gru: {
        Tensor z_t = step(r.Z, t, N), q_t = step(r.Q, t, N);
        if (zero_prev)
          fill(q_t, 0.0);
        else
          gemm(false, false, N, G, U, 1.0, h_in, r.recurrent_kernel, 0.0, q_t);
        gru_cell_forward(r.bias, keep_t, h_prev, z_t, q_t, h_next);
        break;
      }
      case RnnCell::Simple:  // Z is h[1..T]: Z[t] is h_next
        if (!zero_prev) gemm(false, false, N, G, U, 1.0, h_in, r.recurrent_kernel, 1.0, h_next);
        simple_rnn_cell_forward(r.activation, r.bias, keep_t, h_prev, h_next);
        break;
    }
  }
}

// Per step t = T-1 .. 0: the cell's backward kernel (dZ[t], GRU also dQ[t]; dh keeps the part
// of h[t]'s gradient that bypasses R, dc that of c[t]), then dh += dZ[t] R^T (GRU: dQ[t] R^T)
// by a GEMM, through the recurrent dropout mask when there is one. Step 0's GEMM runs only
// when h0's gradient is wanted (with_initial_state), as on the CPU.
void CudaBackend::rnn_backward(const RnnRecurrence& r, const Tensor& dH, bool with_initial_state,
                               Tensor& dh, Tensor& dc, Tensor& dZ, Tensor& dQ) {
  const int64_t T_ = r.steps, N = r.batch, U = r.units, G = r.recurrent_kernel.shape()[1];
  auto& dev = state(dh.device());
  const Tensor none;
  // What R multiplied in the forward, whose gradient goes back through R^T.
  const Tensor& d_recurrent = r.cell == RnnCell::Gru ? dQ : dZ;
  // With recurrent dropout, dZ[t] R^T lands in this scratch (N, U) from the device's pool,
  // once per call, and is added to dh times the mask.
  Tensor product;
  if (r.recurrent_mask.defined()) product = Tensor::empty({N, U}, dh.dtype(), dh.device());
  for (int64_t t = T_ - 1; t >= 0; --t) {
    const Tensor keep_t = r.keep.defined() ? step(r.keep, t, N) : none;
    const Tensor dH_t = dH.defined() ? step(dH, t, N) : none;
    Tensor dz_t = step(dZ, t, N);
    switch (r.cell) {
      case RnnCell::Lstm:
        lstm_cell_backward(step(r.Z, t, N), keep_t, step(r.c, t, N), step(r.c, t + 1, N), dH_t,
                           dh, dc, dz_t);
        break;
      case RnnCell::Gru: {
        Tensor dq_t = step(dQ, t, N);
        gru_cell_backward(step(r.Z, t, N), step(r.Q, t, N), keep_t, step(r.h, t, N), dH_t, dh,
                          dz_t, dq_t);
        break;
      }
      case RnnCell::Simple:
        simple_rnn_cell_backward(r.activation, step(r.h, t + 1, N), keep_t, dH_t, dh, dz_t);
        break;
    }
    if (t == 0 && !with_initial_state) break;  // nobody reads h0's gradient
    const Tensor d_t = step(d_recurrent, t, N);
    if (product.defined()) {  // dh += (d_t R^T) * mask
      gemm(false, true, N, U, G, 1.0, d_t, r.recurrent_kernel, 0.0, product);
      FASTNN_FLOAT_CALL(dh.dtype(), "rnn_backward", add_masked, dev.stream, product,
                        r.recurrent_mask, dh);
    } else {
      gemm(false, true, N, U, G, 1.0, d_t, r.recurrent_kernel, 1.0, dh);
    }
  }
}

// --- sequences ----------------------------------------------------------------------------------

void CudaBackend::step_mask(const Tensor& x, double value, Tensor& out) {
  auto& dev = state(out.device());
  switch (x.dtype()) {
    case DType::Float32:
      return step_mask_of<float>(dev.stream, x, value, out);
    case DType::Float64:
      return step_mask_of<double>(dev.stream, x, value, out);
    case DType::Int32:
      return step_mask_of<int32_t>(dev.stream, x, value, out);
    case DType::Int64:
      return step_mask_of<int64_t>(dev.stream, x, value, out);
    case DType::Bool:
      return step_mask_of<bool>(dev.stream, x, value, out);
  }
}

void CudaBackend::swap_leading_axes(const Tensor& x, bool reverse_a, bool reverse_b,
                                    const Tensor& keep, Tensor& out) {
  auto& dev = state(out.device());
  FASTNN_FLOAT_CALL(x.dtype(), "swap_leading_axes", swap_axes, dev.stream, x, reverse_a,
                    reverse_b, keep, out);
}

}  // namespace fastnn
