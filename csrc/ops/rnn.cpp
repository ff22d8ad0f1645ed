// A recurrent layer (SimpleRNN, LSTM or GRU) over a whole sequence as one op: one autograd
// node with up to three outputs, built like cuDNN's. N = batch, T = timesteps, F = features,
// U = units, G = gate columns (U for SimpleRNN, 4U for LSTM, 3U for GRU).
//
// Forward, time-major inside (a step's rows are then contiguous, so each step's GEMM and
// cell pass work on plain (N, .) blocks):
//   xt (T, N, F)    = x (N, T, F) with the time axis first (reversed for go_backwards)
//   keep (T, N)     = the mask, likewise (when given): 0 where a step is skipped
//   Z  (T*N, G)     = xt @ W                  one GEMM for every step's input part
//   per step t:                               one recurrent GEMM (N x U x G), one cell pass:
//     LSTM:       Z[t] += h[t] @ R;  Z[t], c[t+1], h[t+1] = cell(Z[t] + b, c[t])
//     GRU:        Q[t] = h[t] @ R;   Z[t], Q[t], h[t+1] = cell(Z[t] + b_in, Q[t] + b_rec, h[t])
//     SimpleRNN:  Z is h[1..T] itself: h[t+1] += h[t] @ R;  h[t+1] = act(h[t+1] + b)
//   Z[t] keeps the activated gates (GRU: Q[t] its candidate's recurrent part) for backward.
//   With recurrent dropout, h[t] * m (m the (N, U) mask) takes h[t]'s place in the GEMM.
//   h, c ((T+1)*N, U): h[0] = h0, c[0] = c0 (zeros when not given), h[t+1] = h_t.
// Outputs: sequence (N, T, U) = h[1..T] batch-first, zero at skipped steps, in processing
// order (as Keras returns it for go_backwards) or, with sequence_in_input_order, in the
// input's (what Bidirectional needs); h_last = h[T], c_last = c[T] (LSTM only).
//
// Backward, reverse time, from the outputs' gradients (any may be absent):
//   dh = dh_last, dc = dc_last; per step t = T-1 .. 0:
//     the cell's backward gives dZ[t] (GRU: also dQ[t]) and leaves in dh the part of h[t]'s
//     gradient that bypasses R; then dh += dZ[t] @ R^T (GRU: dQ[t] @ R^T)   one GEMM
//     (with recurrent dropout: dh += (dZ[t] @ R^T) * m)
//   then over all steps at once: dW = xt^T @ dZ, dR = h[0..T-1]^T @ dZ (GRU: dQ), db =
//   column sums, dxt = dZ @ W^T (transposed back to batch-first), dh0 = dh, dc0 = dc
//   (with recurrent dropout dR takes h[0..T-1] * m).
// Buffers are allocated once per call; steps take views of them.
#include "core/launch.h"
#include "ops/ops.h"

namespace fastnn {

namespace {

int64_t gates_per_unit(RnnCell cell) {
  switch (cell) {
    case RnnCell::Simple:
      return 1;
    case RnnCell::Lstm:
      return 4;
    case RnnCell::Gru:
      return 3;
  }
  return 1;
}

const char* kernel_columns(RnnCell cell) {
  switch (cell) {
    case RnnCell::Simple:
      return "units";
    case RnnCell::Lstm:
      return "4 * units (gates i, f, c, o)";
    case RnnCell::Gru:
      return "3 * units (gates z, r, h)";
  }
  return "units";
}

void check_state(const Tensor& s, const Tensor& x, int64_t N, int64_t U, const char* who,
                 const char* arg) {
  if (!s.defined()) return;
  check_float_like(s, x, who, arg);
  FASTNN_CHECK(s.dim() == 2 && s.shape()[0] == N && s.shape()[1] == U, Value, who,
               ": expected '", arg, "' of shape (", N, ", ", U, ") (batch, units), got shape ",
               shape_str(s.shape()));
}

void check_bias(RnnCell cell, const Tensor& bias, const Tensor& x, int64_t U, const char* who) {
  if (!bias.defined()) return;
  check_float_like(bias, x, who, "bias");
  if (cell == RnnCell::Gru) {
    FASTNN_CHECK(bias.dim() == 2 && bias.shape()[0] == 2 && bias.shape()[1] == 3 * U, Value,
                 who, ": expected 'bias' of shape (2, ", 3 * U,
                 ") (input and recurrent biases of 3 * units), got shape ",
                 shape_str(bias.shape()));
  } else {
    const int64_t G = gates_per_unit(cell) * U;
    FASTNN_CHECK(bias.dim() == 1 && bias.shape()[0] == G, Value, who,
                 ": expected 'bias' of shape (", G, ",) (", kernel_columns(cell),
                 "), got shape ", shape_str(bias.shape()));
  }
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

RnnCell rnn_cell_from_name(const std::string& name) {
  if (name == "simple_rnn") return RnnCell::Simple;
  if (name == "lstm") return RnnCell::Lstm;
  if (name == "gru") return RnnCell::Gru;
  fail(ErrorKind::Value, "rnn: unknown cell '", name, "'; expected simple_rnn, lstm or gru");
}

RnnOutputs rnn(RnnCell cell, Activation activation, const Tensor& x, const Tensor& kernel,
               const Tensor& recurrent_kernel, const Tensor& bias, const Tensor& h0,
               const Tensor& c0, const Tensor& mask, const RnnOptions& options, const char* who) {
  check_float(x, who, "inputs");
  FASTNN_CHECK(x.dim() == 3, Value, who,
               ": expected 'inputs' of shape (batch, timesteps, features), got shape ",
               shape_str(x.shape()));
  check_nonempty(x, who, "inputs");
  check_float_like(kernel, x, who, "kernel");
  check_float_like(recurrent_kernel, x, who, "recurrent_kernel");
  const int64_t N = x.shape()[0], T = x.shape()[1], F = x.shape()[2];
  const int64_t per_unit = gates_per_unit(cell);
  FASTNN_CHECK(kernel.dim() == 2, Value, who, ": expected 'kernel' of shape (features, ",
               kernel_columns(cell), "), got shape ", shape_str(kernel.shape()));
  FASTNN_CHECK(kernel.shape()[0] == F, Value, who, ": expected 'inputs' with ",
               kernel.shape()[0], " features (the kernel's rows), got shape ",
               shape_str(x.shape()));
  const int64_t G = kernel.shape()[1], U = G / per_unit;
  FASTNN_CHECK(G > 0 && G % per_unit == 0, Value, who, ": expected 'kernel' with ",
               kernel_columns(cell), " columns, got shape ", shape_str(kernel.shape()));
  FASTNN_CHECK(recurrent_kernel.dim() == 2 && recurrent_kernel.shape()[0] == U &&
                   recurrent_kernel.shape()[1] == G,
               Value, who, ": expected 'recurrent_kernel' of shape (", U, ", ", G,
               ") (units, as the kernel's ", G, " columns imply), got shape ",
               shape_str(recurrent_kernel.shape()));
  check_bias(cell, bias, x, U, who);
  check_state(h0, x, N, U, who, "initial_state h");
  if (cell == RnnCell::Lstm)
    check_state(c0, x, N, U, who, "initial_state c");
  else
    FASTNN_CHECK(!c0.defined(), Value, who, ": only an LSTM has a cell state 'c0'");
  FASTNN_CHECK(cell != RnnCell::Simple ||
                   (activation != Activation::GELU && activation != Activation::LeakyReLU),
               Value, who, ": activation '", activation_name(activation),
               "' is not supported in a recurrent cell; expected tanh, relu, sigmoid or linear");
  const Tensor& recurrent_mask = options.recurrent_mask;
  if (recurrent_mask.defined()) {
    check_float_like(recurrent_mask, x, who, "recurrent_mask");
    FASTNN_CHECK(recurrent_mask.dim() == 2 && recurrent_mask.shape()[0] == N &&
                     recurrent_mask.shape()[1] == U,
                 Value, who, ": expected 'recurrent_mask' of shape (", N, ", ", U,
                 ") (batch, units), got shape ", shape_str(recurrent_mask.shape()));
  }
  if (mask.defined()) {
    check_float_like(mask, x, who, "mask");
    FASTNN_CHECK(mask.dim() == 2 && mask.shape()[0] == N && mask.shape()[1] == T, Value, who,
                 ": expected 'mask' of shape (", N, ", ", T, ") (batch, timesteps), got shape ",
                 shape_str(mask.shape()));
  }

  Backend& be = backend_of(x);
  const DType dt = x.dtype();
  const Device dev = x.device();
  const Tensor none;
  Tensor xt = Tensor::empty({T, N, F}, dt, dev);
  FASTNN_LAUNCH(be, swap_leading_axes, x, false, options.go_backwards, none, xt);
  Tensor keep;  // (T*N, 1) time-major, processing order
  if (mask.defined()) {
    keep = Tensor::empty({T, N, 1}, dt, dev);
    FASTNN_LAUNCH(be, swap_leading_axes, mask.view({N, T, 1}), false, options.go_backwards, none,
                  keep);
    keep = keep.view({T * N, 1});
  }
  Tensor h = Tensor::empty({(T + 1) * N, U}, dt, dev);
  copy_or_zero(be, h0, step(h, 0, N));
  // SimpleRNN's gates are its outputs: the input GEMM writes straight into h[1..T].
  Tensor Z = cell == RnnCell::Simple ? h.rows(N, (T + 1) * N) : Tensor::empty({T * N, G}, dt, dev);
  FASTNN_LAUNCH(be, gemm, false, false, T * N, G, F, 1.0, xt, kernel, 0.0, Z);
  Tensor c, Q;
  if (cell == RnnCell::Lstm) {
    c = Tensor::empty({(T + 1) * N, U}, dt, dev);
    copy_or_zero(be, c0, step(c, 0, N));
  }
  if (cell == RnnCell::Gru) Q = Tensor::empty({T * N, G}, dt, dev);
  RnnRecurrence recurrence;
  recurrence.cell = cell;
  recurrence.activation = activation;
  recurrence.steps = T, recurrence.batch = N, recurrence.units = U;
  recurrence.initial_state = h0.defined();
  recurrence.recurrent_kernel = recurrent_kernel.detach();
  recurrence.bias = bias.defined() ? bias.detach() : Tensor();
  recurrence.keep = keep;
  recurrence.recurrent_mask = recurrent_mask;
  recurrence.Z = Z, recurrence.Q = Q, recurrence.h = h, recurrence.c = c;
  FASTNN_LAUNCH(be, rnn_forward, recurrence);
  const bool reverse_sequence = options.go_backwards && options.sequence_in_input_order;
  RnnOutputs out;
  if (options.return_sequences) {
    out.sequence = Tensor::empty({N, T, U}, dt, dev);
    FASTNN_LAUNCH(be, swap_leading_axes, h.rows(N, (T + 1) * N).view({T, N, U}),
                  reverse_sequence, false, keep.defined() ? keep.view({T, N}) : none,
                  out.sequence);
  }
  out.h_last = Tensor::empty({N, U}, dt, dev);
  FASTNN_LAUNCH(be, copy, step(h, T, N), out.h_last);
  if (cell == RnnCell::Lstm) {
    out.c_last = Tensor::empty({N, U}, dt, dev);
    FASTNN_LAUNCH(be, copy, step(c, T, N), out.c_last);
  }
  if (!needs_grad({&x, &kernel, &recurrent_kernel, &bias, &h0, &c0})) return out;

  record_multi(
      who, {&out.sequence, &out.h_last, &out.c_last}, {x, kernel, recurrent_kernel, bias, h0, c0},
      [recurrence, xt, W = kernel.detach(), N, T, F, U, G, go_backwards = options.go_backwards,
       reverse_sequence](const std::vector<Tensor>& g, const std::vector<bool>& needs) {
        // g: sequence (N, T, U), h_last (N, U), c_last (N, U), each undefined when unused.
        const RnnCell cell = recurrence.cell;
        const Tensor &h = recurrence.h, &recurrent_mask = recurrence.recurrent_mask;
        Backend& be = backend_of(h);
        const DType dt = h.dtype();
        const Device dev = h.device();
        const Tensor none;
        Tensor dH;  // (T*N, U) time-major, processing order
        if (g[0].defined()) {
          dH = Tensor::empty({T * N, U}, dt, dev);
          FASTNN_LAUNCH(be, swap_leading_axes, g[0], false, reverse_sequence, none, dH);
        }
        Tensor dh = Tensor::empty({N, U}, dt, dev), dc;
        copy_or_zero(be, g[1], dh);
        if (cell == RnnCell::Lstm) {
          dc = Tensor::empty({N, U}, dt, dev);
          copy_or_zero(be, g[2], dc);
        }
        Tensor dZ = Tensor::empty({T * N, G}, dt, dev);
        Tensor dQ = cell == RnnCell::Gru ? Tensor::empty({T * N, G}, dt, dev) : Tensor();
        FASTNN_LAUNCH(be, rnn_backward, recurrence, dH, static_cast<bool>(needs[4]), dh, dc, dZ,
                      dQ);
        const Tensor& d_recurrent = cell == RnnCell::Gru ? dQ : dZ;  // what R multiplied
        std::vector<Tensor> grads(6);
        if (needs[0]) {
          Tensor dxt = Tensor::empty({T, N, F}, dt, dev);
          FASTNN_LAUNCH(be, gemm, false, true, T * N, F, G, 1.0, dZ, W, 0.0, dxt);
          grads[0] = Tensor::empty({N, T, F}, dt, dev);
          FASTNN_LAUNCH(be, swap_leading_axes, dxt, go_backwards, false, none, grads[0]);
        }
        if (needs[1]) {
          grads[1] = Tensor::empty({F, G}, dt, dev);
          FASTNN_LAUNCH(be, gemm, true, false, F, G, T * N, 1.0, xt, dZ, 0.0, grads[1]);
        }
        if (needs[2]) {
          Tensor h_in = h.rows(0, T * N);  // every step's h_prev
          if (recurrent_mask.defined()) {
            Tensor dropped = Tensor::empty({T, N, U}, dt, dev);
            FASTNN_LAUNCH(be, binary_forward, BinaryOp::Mul, h_in.view({T, N, U}),
                          recurrent_mask.view({1, N, U}), dropped);
            h_in = dropped.view({T * N, U});
          }
          grads[2] = Tensor::empty({U, G}, dt, dev);
          FASTNN_LAUNCH(be, gemm, true, false, U, G, T * N, 1.0, h_in, d_recurrent, 0.0,
                        grads[2]);
        }
        if (needs[3]) {
          if (cell == RnnCell::Gru) {
            grads[3] = Tensor::empty({2, G}, dt, dev);
            Tensor input_part = grads[3].rows(0, 1), recurrent_part = grads[3].rows(1, 2);
            FASTNN_LAUNCH(be, sum_to, dZ, input_part);
            FASTNN_LAUNCH(be, sum_to, dQ, recurrent_part);
          } else {
            grads[3] = bias_gradient(dZ, T * N, G);
          }
        }
        if (needs[4]) grads[4] = dh;
        if (needs[5]) grads[5] = dc;
        return grads;
      });
  return out;
}

Tensor step_mask(const Tensor& x, double value, DType dtype, const char* who) {
  FASTNN_CHECK(x.dim() >= 2, Value, who,
               ": expected inputs of shape (batch, timesteps, ...) to mask, got shape ",
               shape_str(x.shape()));
  FASTNN_CHECK(dtype == DType::Float32 || dtype == DType::Float64, Type, who,
               ": expected a float32 or float64 mask dtype, got ", dtype_name(dtype));
  Tensor out = Tensor::empty({x.shape()[0], x.shape()[1]}, dtype, x.device());
  FASTNN_LAUNCH(backend_of(x), step_mask, x, value, out);
  return out;
}

}  // namespace fastnn
