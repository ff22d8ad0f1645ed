// The LSTM over a whole sequence as one op (one autograd node with three outputs), built
// like cuDNN's: N = batch, T = timesteps, F = features, U = units, G = 4U gate columns.
//
// Forward, time-major inside (a step's rows are then contiguous, so each step's GEMM and
// cell pass work on plain (N, .) blocks):
//   xt (T, N, F)    = x (N, T, F) with the time axis first (reversed for go_backwards)
//   Z  (T*N, G)     = xt @ W                          one GEMM for every step's input part
//   per step t:  Z[t] += h[t] @ R                     one recurrent GEMM (N x U x G)
//                Z[t], c[t+1], h[t+1] = cell(Z[t] + b, c[t])   one fused pass; Z[t] keeps
//                                                     the activated gates for backward
//   h, c ((T+1)*N, U): h[0] = h0, c[0] = c0 (zeros when not given), h[t+1] = h_t.
// Outputs: h_seq (N, T, U) = h[1..T] batch-first (in processing order, as Keras returns
// it for go_backwards), h_last = h[T], c_last = c[T].
//
// Backward, reverse time, from dh_seq, dh_last, dc_last (any may be absent):
//   dh = dh_last, dc = dc_last; per step t = T-1 .. 0:
//     dZ[t], dc = cell_backward(Z[t], c[t], c[t+1], dh + dh_seq[t], dc)
//     dh = dZ[t] @ R^T                                one GEMM (N x G x U)
//   then over all steps at once: dW = xt^T @ dZ, dR = h[0..T-1]^T @ dZ, db = column sums
//   of dZ, dxt = dZ @ W^T (transposed back to batch-first), dh0 = dh, dc0 = dc.
// Buffers are allocated once per call; steps take views of them.
#include "core/launch.h"
#include "ops/ops.h"

namespace fastnn {

namespace {

void check_state(const Tensor& s, const Tensor& x, int64_t N, int64_t U, const char* who,
                 const char* arg) {
  if (!s.defined()) return;
  check_float(s, who, arg);
  check_same_dtype(x, s, who, arg);
  check_same_device(x, s, who, arg);
  FASTNN_CHECK(s.dim() == 2 && s.shape()[0] == N && s.shape()[1] == U, Value, who,
               ": expected '", arg, "' of shape (", N, ", ", U, ") (batch, units), got shape ",
               shape_str(s.shape()));
}

// Row block [t * N, (t + 1) * N) of a time-major buffer: step t's (N, cols) matrix.
Tensor step(const Tensor& buffer, int64_t t, int64_t N) {
  return buffer.rows(t * N, (t + 1) * N);
}

// dst = src, or zeros when src is undefined.
void copy_or_zero(Backend& be, const Tensor& src, Tensor dst) {
  if (src.defined())
    FASTNN_LAUNCH(be, copy, src, dst);
  else
    FASTNN_LAUNCH(be, fill, dst, 0.0);
}

}  // namespace

LstmOutputs lstm(const Tensor& x, const Tensor& kernel, const Tensor& recurrent_kernel,
                 const Tensor& bias, const Tensor& h0, const Tensor& c0, bool go_backwards,
                 const char* who) {
  check_float(x, who, "inputs");
  FASTNN_CHECK(x.dim() == 3, Value, who,
               ": expected 'inputs' of shape (batch, timesteps, features), got shape ",
               shape_str(x.shape()));
  check_nonempty(x, who, "inputs");
  check_float(kernel, who, "kernel");
  check_same_dtype(x, kernel, who, "kernel");
  check_same_device(x, kernel, who, "kernel");
  check_float(recurrent_kernel, who, "recurrent_kernel");
  check_same_dtype(x, recurrent_kernel, who, "recurrent_kernel");
  check_same_device(x, recurrent_kernel, who, "recurrent_kernel");
  const int64_t N = x.shape()[0], T = x.shape()[1], F = x.shape()[2];
  FASTNN_CHECK(kernel.dim() == 2, Value, who,
               ": expected 'kernel' of shape (features, 4 * units), got shape ",
               shape_str(kernel.shape()));
  FASTNN_CHECK(kernel.shape()[0] == F, Value, who, ": expected 'inputs' with ",
               kernel.shape()[0], " features (the kernel's rows), got shape ",
               shape_str(x.shape()));
  const int64_t G = kernel.shape()[1], U = G / 4;
  FASTNN_CHECK(G > 0 && G % 4 == 0, Value, who,
               ": expected 'kernel' with 4 * units columns (gates i, f, c, o), got shape ",
               shape_str(kernel.shape()));
  FASTNN_CHECK(recurrent_kernel.dim() == 2 && recurrent_kernel.shape()[0] == U &&
                   recurrent_kernel.shape()[1] == G,
               Value, who, ": expected 'recurrent_kernel' of shape (", U, ", ", G,
               ") (units, 4 * units, as the kernel's ", G, " columns imply), got shape ",
               shape_str(recurrent_kernel.shape()));
  if (bias.defined()) {
    check_float(bias, who, "bias");
    check_same_dtype(x, bias, who, "bias");
    check_same_device(x, bias, who, "bias");
    FASTNN_CHECK(bias.dim() == 1 && bias.shape()[0] == G, Value, who,
                 ": expected 'bias' of shape (", G, ",) (4 * units), got shape ",
                 shape_str(bias.shape()));
  }
  check_state(h0, x, N, U, who, "initial_state h");
  check_state(c0, x, N, U, who, "initial_state c");

  Backend& be = backend_of(x);
  const DType dt = x.dtype();
  const Device dev = x.device();
  Tensor xt = Tensor::empty({T, N, F}, dt, dev);
  FASTNN_LAUNCH(be, swap_leading_axes, x, false, go_backwards, xt);
  Tensor Z = Tensor::empty({T * N, G}, dt, dev);
  FASTNN_LAUNCH(be, gemm, false, false, T * N, G, F, 1.0, xt, kernel, 0.0, Z);
  Tensor h = Tensor::empty({(T + 1) * N, U}, dt, dev);
  Tensor c = Tensor::empty({(T + 1) * N, U}, dt, dev);
  copy_or_zero(be, h0, step(h, 0, N));
  copy_or_zero(be, c0, step(c, 0, N));
  for (int64_t t = 0; t < T; ++t) {
    Tensor zt = step(Z, t, N), c_next = step(c, t + 1, N), h_next = step(h, t + 1, N);
    if (t > 0 || h0.defined())  // h[0] is zero otherwise
      FASTNN_LAUNCH(be, gemm, false, false, N, G, U, 1.0, step(h, t, N), recurrent_kernel, 1.0,
                    zt);
    FASTNN_LAUNCH(be, lstm_cell_forward, bias, step(c, t, N), zt, c_next, h_next);
  }
  LstmOutputs out;
  out.h_seq = Tensor::empty({N, T, U}, dt, dev);
  FASTNN_LAUNCH(be, swap_leading_axes, h.rows(N, (T + 1) * N).view({T, N, U}), false, false,
                out.h_seq);
  out.h_last = Tensor::empty({N, U}, dt, dev);
  out.c_last = Tensor::empty({N, U}, dt, dev);
  FASTNN_LAUNCH(be, copy, step(h, T, N), out.h_last);
  FASTNN_LAUNCH(be, copy, step(c, T, N), out.c_last);
  if (!needs_grad({&x, &kernel, &recurrent_kernel, &bias, &h0, &c0})) return out;

  record_multi(
      who, {&out.h_seq, &out.h_last, &out.c_last}, {x, kernel, recurrent_kernel, bias, h0, c0},
      [xt, W = kernel.detach(), R = recurrent_kernel.detach(), Z, h, c, N, T, F, U, G,
       go_backwards](const std::vector<Tensor>& g, const std::vector<bool>& needs) {
        // g: h_seq (N, T, U), h_last (N, U), c_last (N, U), each undefined when unused.
        Backend& be = backend_of(Z);
        const DType dt = Z.dtype();
        const Device dev = Z.device();
        Tensor dH;  // (T*N, U) time-major
        if (g[0].defined()) {
          dH = Tensor::empty({T * N, U}, dt, dev);
          FASTNN_LAUNCH(be, swap_leading_axes, g[0], false, false, dH);
        }
        Tensor dh = Tensor::empty({N, U}, dt, dev), dc = Tensor::empty({N, U}, dt, dev);
        copy_or_zero(be, g[1], dh);
        copy_or_zero(be, g[2], dc);
        Tensor dZ = Tensor::empty({T * N, G}, dt, dev);
        const Tensor none;
        for (int64_t t = T - 1; t >= 0; --t) {
          Tensor dzt = step(dZ, t, N);
          FASTNN_LAUNCH(be, lstm_cell_backward, step(Z, t, N), step(c, t, N), step(c, t + 1, N),
                        dh, dH.defined() ? step(dH, t, N) : none, dc, dzt);
          if (t > 0 || needs[4])
            FASTNN_LAUNCH(be, gemm, false, true, N, U, G, 1.0, dzt, R, 0.0, dh);
        }
        std::vector<Tensor> grads(6);
        if (needs[0]) {
          Tensor dxt = Tensor::empty({T, N, F}, dt, dev);
          FASTNN_LAUNCH(be, gemm, false, true, T * N, F, G, 1.0, dZ, W, 0.0, dxt);
          grads[0] = Tensor::empty({N, T, F}, dt, dev);
          FASTNN_LAUNCH(be, swap_leading_axes, dxt, go_backwards, false, grads[0]);
        }
        if (needs[1]) {
          grads[1] = Tensor::empty({F, G}, dt, dev);
          FASTNN_LAUNCH(be, gemm, true, false, F, G, T * N, 1.0, xt, dZ, 0.0, grads[1]);
        }
        if (needs[2]) {
          grads[2] = Tensor::empty({U, G}, dt, dev);
          FASTNN_LAUNCH(be, gemm, true, false, U, G, T * N, 1.0, h.rows(0, T * N), dZ, 0.0,
                        grads[2]);
        }
        if (needs[3]) grads[3] = bias_gradient(dZ, T * N, G);
        if (needs[4]) grads[4] = dh;
        if (needs[5]) grads[5] = dc;
        return grads;
      });
  return out;
}

}  // namespace fastnn
