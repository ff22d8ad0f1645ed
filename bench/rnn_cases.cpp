// The recurrent cases of fastnn_bench (overview in fastnn_bench.cpp, shared harness in
// harness.h): the LSTM and GRU cell kernels alone (Backend calls, GB/s), and whole layers
// through ops rnn() at a text model's shape (GFLOP/s). Every reference here is written from
// the cell formulas in double, independently of csrc/math/rnn.h:
//   LSTM (gates i, f, c, o):  c = s(f) c_prev + s(i) tanh(g),  h = s(o) tanh(c)
//   GRU (reset_after; z, r, h): z = s(x_z + q_z), r = s(x_r + q_r), g = tanh(x_h + r q_h),
//                               h = z h_prev + (1 - z) g
// with s the sigmoid, x_* = x_t W + input bias and q_* = h_prev R + recurrent bias.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/node.h"
#include "harness.h"
#include "ops/ops.h"

namespace bench {

namespace {

double sig(double v) {
  return 1 / (1 + std::exp(-v));
}

// --- the cell kernels alone ---

constexpr int64_t kUnits = 128;

// lstm_cell_forward on pre-activations z (N, 4U) + bias, then lstm_cell_backward on what that
// forward left (activated gates, c), with a gradient from the step's output (dh_out) as in
// a layer returning sequences. Every element against the double cell; the backward's reference
// differentiates the double forward at the same pre-activations. Timing reruns each kernel on
// its own outputs (in place): the gates stay activations, and the backward's dh (zeroed) and
// dc (a contraction towards a fixed point) stay bounded, so the cost is that of fresh inputs.
void bench_lstm_cell(Backend& be, int64_t N) {
  const int64_t U = kUnits;
  Tensor z0 = random_tensor({N, 4 * U}, -3, 3), bias = random_tensor({4 * U}, -0.5, 0.5),
         h_prev = random_tensor({N, U}, -1, 1), c_prev = random_tensor({N, U}, -1, 1);
  Tensor gates = z0.clone(), c = empty_tensor({N, U}), h = empty_like(c), none;
  be.lstm_cell_forward(bias, none, h_prev, c_prev, gates, c, h);
  const Tensor acts = gates.clone(), c_new = c.clone();  // the backward's inputs
  // Host copies for the checks (the tensors themselves on the CPU).
  const Tensor z0_h = to_host(z0), bias_h = to_host(bias), c_prev_h = to_host(c_prev),
               acts_h = to_host(acts), c_new_h = to_host(c_new), h_h = to_host(h);

  struct Cell {
    double i, f, g, o, c;
  };
  auto ref = [&](int64_t n, int64_t u) {  // the double forward of element (n, u)
    auto pre = [&](int64_t gate) {
      return at(z0_h, n * 4 * U + gate * U + u) + at(bias_h, gate * U + u);
    };
    Cell r{sig(pre(0)), sig(pre(1)), std::tanh(pre(2)), sig(pre(3)), 0};
    r.c = r.f * at(c_prev_h, n * U + u) + r.i * r.g;
    return r;
  };
  Check fwd{1e-5};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t u = 0; u < U; ++u) {
      const Cell r = ref(n, u);
      const int64_t k = n * 4 * U + u;
      fwd.expect(at(acts_h, k), r.i);
      fwd.expect(at(acts_h, k + U), r.f);
      fwd.expect(at(acts_h, k + 2 * U), r.g);
      fwd.expect(at(acts_h, k + 3 * U), r.o);
      fwd.expect(at(c_new_h, n * U + u), r.c);
      fwd.expect(at(h_h, n * U + u), r.o * std::tanh(r.c));
    }
  const std::string shape = dims(N, U);
  // Reads z, c_prev, bias; writes the gates, c, h.
  report(
      "lstm cell fwd", shape, fwd,
      [&] { be.lstm_cell_forward(bias, none, h_prev, c_prev, gates, c, h); },
      4.0 * (11 * N * U + 4 * U), Unit::Bytes);

  // dh leaves as 0 (h_prev reaches h only through R), dc as c_prev's gradient.
  Tensor dh_out = random_tensor({N, U}, -1, 1), dh0 = random_tensor({N, U}, -1, 1),
         dc0 = random_tensor({N, U}, -1, 1);
  Tensor dh = dh0.clone(), dc = dc0.clone(), dz = empty_tensor({N, 4 * U});
  be.lstm_cell_backward(acts, none, c_prev, c_new, dh_out, dh, dc, dz);
  const Tensor dh_out_h = to_host(dh_out), dh0_h = to_host(dh0), dc0_h = to_host(dc0),
               dh_h = to_host(dh), dc_h = to_host(dc), dz_h = to_host(dz);
  Check bwd{1e-5};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t u = 0; u < U; ++u) {
      const Cell r = ref(n, u);
      const int64_t s = n * U + u, k = n * 4 * U + u;
      const double tc = std::tanh(r.c), grad_h = at(dh0_h, s) + at(dh_out_h, s);
      const double dc_total = at(dc0_h, s) + grad_h * r.o * (1 - tc * tc);
      bwd.expect(at(dz_h, k), dc_total * r.g * r.i * (1 - r.i));
      bwd.expect(at(dz_h, k + U), dc_total * at(c_prev_h, s) * r.f * (1 - r.f));
      bwd.expect(at(dz_h, k + 2 * U), dc_total * r.i * (1 - r.g * r.g));
      bwd.expect(at(dz_h, k + 3 * U), grad_h * tc * r.o * (1 - r.o));
      bwd.expect(at(dc_h, s), dc_total * r.f);
      bwd.expect(at(dh_h, s), 0);
    }
  // Reads the gates, c_prev, c, dh_out, dh, dc; writes dh, dc, dz.
  report(
      "lstm cell bwd", shape, bwd,
      [&] { be.lstm_cell_backward(acts, none, c_prev, c_new, dh_out, dh, dc, dz); },
      4.0 * 15 * N * U, Unit::Bytes);
}

// gru_cell_forward on x_t W (N, 3U) and h_prev R (N, 3U) plus both biases, then
// gru_cell_backward on what that forward left, as for the LSTM above. Of q on exit only the
// candidate third (q_h + its bias) is checked: the backward reads nothing else, and the CPU
// kernel leaves the z and r thirds without their bias. Timing in place: the gates stay
// activations, q's candidate third grows by its bias each call (tanh saturates; the cost does
// not depend on the values), dh contracts towards a fixed point.
void bench_gru_cell(Backend& be, int64_t N) {
  const int64_t U = kUnits;
  Tensor x0 = random_tensor({N, 3 * U}, -3, 3), q0 = random_tensor({N, 3 * U}, -2, 2),
         bias = random_tensor({2, 3 * U}, -0.5, 0.5), h_prev = random_tensor({N, U}, -1, 1);
  Tensor gates = x0.clone(), q = q0.clone(), h = empty_tensor({N, U}), none;
  be.gru_cell_forward(bias, none, h_prev, gates, q, h);
  const Tensor acts = gates.clone(), q_new = q.clone();  // the backward's inputs
  // Host copies for the checks (the tensors themselves on the CPU).
  const Tensor x0_h = to_host(x0), q0_h = to_host(q0), bias_h = to_host(bias),
               h_prev_h = to_host(h_prev), acts_h = to_host(acts), q_new_h = to_host(q_new),
               h_h = to_host(h);

  struct Cell {
    double z, r, g, q_h;
  };
  auto ref = [&](int64_t n, int64_t u) {
    auto xp = [&](int64_t gate) {
      return at(x0_h, n * 3 * U + gate * U + u) + at(bias_h, gate * U + u);
    };
    auto qp = [&](int64_t gate) {
      return at(q0_h, n * 3 * U + gate * U + u) + at(bias_h, 3 * U + gate * U + u);
    };
    Cell c{sig(xp(0) + qp(0)), sig(xp(1) + qp(1)), 0, qp(2)};
    c.g = std::tanh(xp(2) + c.r * c.q_h);
    return c;
  };
  Check fwd{1e-5};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t u = 0; u < U; ++u) {
      const Cell r = ref(n, u);
      const int64_t k = n * 3 * U + u;
      fwd.expect(at(acts_h, k), r.z);
      fwd.expect(at(acts_h, k + U), r.r);
      fwd.expect(at(acts_h, k + 2 * U), r.g);
      fwd.expect(at(q_new_h, k + 2 * U), r.q_h);  // the candidate third, what the backward reads
      fwd.expect(at(h_h, n * U + u), r.z * at(h_prev_h, n * U + u) + (1 - r.z) * r.g);
    }
  const std::string shape = dims(N, U);
  // Reads x, q, h_prev, bias; writes the gates, q's candidate third, h.
  report(
      "gru cell fwd", shape, fwd, [&] { be.gru_cell_forward(bias, none, h_prev, gates, q, h); },
      4.0 * (12 * N * U + 6 * U), Unit::Bytes);

  // dh leaves as dh * z, the part of h_prev's gradient that bypasses R.
  Tensor dh_out = random_tensor({N, U}, -1, 1), dh0 = random_tensor({N, U}, -1, 1);
  Tensor dh = dh0.clone(), dx = empty_tensor({N, 3 * U}), dq = empty_like(dx);
  be.gru_cell_backward(acts, q_new, none, h_prev, dh_out, dh, dx, dq);
  const Tensor dh_out_h = to_host(dh_out), dh0_h = to_host(dh0), dh_h = to_host(dh),
               dx_h = to_host(dx), dq_h = to_host(dq);
  Check bwd{1e-5};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t u = 0; u < U; ++u) {
      const Cell r = ref(n, u);
      const int64_t s = n * U + u, k = n * 3 * U + u;
      const double grad_h = at(dh0_h, s) + at(dh_out_h, s);
      const double d_z = grad_h * (at(h_prev_h, s) - r.g) * r.z * (1 - r.z);
      const double d_h = grad_h * (1 - r.z) * (1 - r.g * r.g);
      const double d_r = d_h * r.q_h * r.r * (1 - r.r);
      bwd.expect(at(dx_h, k), d_z);
      bwd.expect(at(dx_h, k + U), d_r);
      bwd.expect(at(dx_h, k + 2 * U), d_h);
      bwd.expect(at(dq_h, k), d_z);
      bwd.expect(at(dq_h, k + U), d_r);
      bwd.expect(at(dq_h, k + 2 * U), d_h * r.r);
      bwd.expect(at(dh_h, s), grad_h * r.z);
    }
  // Reads the gates, q's candidate third, h_prev, dh_out, dh; writes dh, dx, dq.
  report(
      "gru cell bwd", shape, bwd,
      [&] { be.gru_cell_backward(acts, q_new, none, h_prev, dh_out, dh, dx, dq); },
      4.0 * 14 * N * U, Unit::Bytes);
}

// --- the layer through ops rnn() ---

// Row n of t viewed as (rows, len), in double.
std::vector<double> row_of(const Tensor& t, int64_t n, int64_t len) {
  std::vector<double> v(len);
  for (int64_t k = 0; k < len; ++k) v[k] = at(t, n * len + k);
  return v;
}

// The layer in double, one sample at a time.
struct RefLayer {
  RnnCell cell;
  int64_t F, U, G;
  std::vector<double> W, R, b;  // (F, G), (U, G), (G) or the GRU's (2, G)

  RefLayer(RnnCell cell, const Tensor& kernel, const Tensor& recurrent, const Tensor& bias)
      : cell(cell), F(kernel.size(0)), U(recurrent.size(0)), G(kernel.size(1)) {
    W = row_of(kernel, 0, kernel.numel());
    R = row_of(recurrent, 0, recurrent.numel());
    b = row_of(bias, 0, bias.numel());
  }

  // One step of one sample: h, c (U; c unused by the GRU) advanced in place from x (F).
  void step(const double* x, double* h, double* c) const {
    const bool gru = cell == RnnCell::Gru;
    std::vector<double> zx(b.begin(), b.begin() + G), zh(G, 0.0);  // x W + b, h R (+ b_rec)
    if (gru) std::copy(b.begin() + G, b.end(), zh.begin());
    for (int64_t f = 0; f < F; ++f)
      for (int64_t g = 0; g < G; ++g) zx[g] += x[f] * W[f * G + g];
    for (int64_t u = 0; u < U; ++u)
      for (int64_t g = 0; g < G; ++g) zh[g] += h[u] * R[u * G + g];
    for (int64_t u = 0; u < U; ++u) {
      if (gru) {
        const double z = sig(zx[u] + zh[u]), r = sig(zx[U + u] + zh[U + u]);
        const double g = std::tanh(zx[2 * U + u] + r * zh[2 * U + u]);
        h[u] = z * h[u] + (1 - z) * g;
      } else {
        auto gate = [&](int64_t k) { return zx[k * U + u] + zh[k * U + u]; };
        c[u] = sig(gate(1)) * c[u] + sig(gate(0)) * std::tanh(gate(2));
        h[u] = sig(gate(3)) * std::tanh(c[u]);
      }
    }
  }

  // Steps t0 .. T-1 of one sample's inputs xs (T, F) from state (h, c); a step whose keep
  // is 0 is skipped (the state carries through, its output is 0). seq (T, U), when given,
  // gets each step's output.
  void run(const double* xs, const double* keep, int64_t T, int64_t t0, std::vector<double>& h,
           std::vector<double>& c, double* seq) const {
    for (int64_t t = t0; t < T; ++t) {
      const bool kept = !keep || keep[t] != 0;
      if (kept) step(xs + t * F, h.data(), c.data());
      if (seq)
        for (int64_t u = 0; u < U; ++u) seq[t * U + u] = kept ? h[u] : 0;
    }
  }
};

// The outputs' values in host memory, for the checks.
RnnOutputs outputs_to_host(const RnnOutputs& out) {
  return {to_host(out.sequence), to_host(out.h_last), to_host(out.c_last)};
}

double dot(const std::vector<double>& a, const Tensor& b, int64_t offset) {
  double s = 0;
  for (size_t k = 0; k < a.size(); ++k) s += a[k] * at(b, offset + k);
  return s;
}

// The sequence (every step and unit), h_last and the LSTM's c_last on sampled rows (all
// tensors in host memory, as the other checks here).
Check check_layer_forward(const RefLayer& ref, const Tensor& x, const Tensor& mask,
                          const RnnOutputs& out) {
  const int64_t N = x.size(0), T = x.size(1), F = ref.F, U = ref.U;
  const bool lstm = ref.cell == RnnCell::Lstm;
  Check check{1e-4};
  check.require(out.sequence.shape() == Shape{N, T, U} && out.h_last.shape() == Shape{N, U});
  check.require(!lstm || out.c_last.shape() == Shape{N, U});
  if (!check.ok()) return check;
  std::vector<double> seq(T * U), keep;
  for (int64_t n : sample(N, 6)) {
    std::vector<double> h(U, 0.0), c(U, 0.0), xs = row_of(x, n, T * F);
    if (mask.defined()) keep = row_of(mask, n, T);
    ref.run(xs.data(), mask.defined() ? keep.data() : nullptr, T, 0, h, c, seq.data());
    for (int64_t k = 0; k < T * U; ++k) check.expect(at(out.sequence, n * T * U + k), seq[k]);
    for (int64_t u = 0; u < U; ++u) {
      check.expect(at(out.h_last, n * U + u), h[u]);
      if (lstm) check.expect(at(out.c_last, n * U + u), c[u]);
    }
  }
  return check;
}

constexpr double kStep = 1e-5;  // central differences in double: error ~1e-10

// With L = sum(wy * h_last): the input gradient gx on sampled rows and steps against central
// differences of the double forward. Changing x[n, t] changes only row n from step t on, so
// each difference reruns the row from the state saved before step t. Compared relative to
// the largest of the row's sampled entries (earlier steps' gradients fade).
Check check_input_gradient(const RefLayer& ref, const Tensor& x, const Tensor& wy,
                           const Tensor& gx) {
  const int64_t N = x.size(0), T = x.size(1), F = ref.F, U = ref.U;
  Check check{1e-4};
  check.require(gx.defined() && gx.shape() == x.shape());
  if (!check.ok()) return check;
  for (int64_t n : sample(N, 3)) {
    std::vector<double> xs = row_of(x, n, T * F), h(U, 0.0), c(U, 0.0);
    std::vector<std::vector<double>> hs, cs;  // the state before each step
    for (int64_t t = 0; t < T; ++t) {
      hs.push_back(h), cs.push_back(c);
      ref.step(xs.data() + t * F, h.data(), c.data());
    }
    auto loss_from = [&](int64_t t) {
      std::vector<double> ht = hs[t], ct = cs[t];
      ref.run(xs.data(), nullptr, T, t, ht, ct, nullptr);
      return dot(ht, wy, n * U);
    };
    std::vector<std::pair<int64_t, double>> wants;  // (index in the row, gradient)
    double scale = 0;
    for (int64_t t : sample(T, 4))
      for (int64_t f : sample(F, 3)) {
        double& v = xs[t * F + f];
        const double v0 = v;
        v = v0 + kStep;
        const double up = loss_from(t);
        v = v0 - kStep;
        const double down = loss_from(t);
        v = v0;
        wants.push_back({t * F + f, (up - down) / (2 * kStep)});
        scale = std::max(scale, std::abs(wants.back().second));
      }
    for (auto [k, want] : wants) check.expect(at(gx, n * T * F + k), want, scale);
  }
  return check;
}

// Every gradient (inputs, kernel, recurrent kernel, bias) of a small layer, N=3, T=5, F=7,
// U=6, through rnn() and backward() from a random weight on h_last, against central
// differences of the double forward's L = sum(wy * h_last); each tensor's entries relative
// to its largest. The big shapes check only sampled input gradients: their weight
// gradients sum over every row, a full double forward per entry.
Check check_small_gradients(RnnCell cell) {
  const int64_t N = 3, T = 5, F = 7, U = 6, G = (cell == RnnCell::Lstm ? 4 : 3) * U;
  const Shape bias_shape = cell == RnnCell::Gru ? Shape{2, G} : Shape{G};
  Tensor x = random_tensor({N, T, F}, -1, 1), w = random_tensor({F, G}, -0.5, 0.5),
         r = random_tensor({U, G}, -0.5, 0.5), b = random_tensor(bias_shape, -0.5, 0.5),
         wy = random_tensor({N, U}, -1, 1), none;
  for (Tensor* t : {&x, &w, &r, &b}) t->set_requires_grad(true);
  RnnOutputs out = rnn(cell, Activation::Tanh, x, w, r, b, none, none, none, {}, "bench");
  backward(out.h_last, wy, false);

  RefLayer ref(cell, to_host(w), to_host(r), to_host(b));
  const Tensor wy_h = to_host(wy);
  std::vector<double> xs = row_of(to_host(x), 0, N * T * F);
  auto loss = [&] {
    double l = 0;
    for (int64_t n = 0; n < N; ++n) {
      std::vector<double> h(U, 0.0), c(U, 0.0);
      ref.run(xs.data() + n * T * F, nullptr, T, 0, h, c, nullptr);
      l += dot(h, wy_h, n * U);
    }
    return l;
  };
  Check check{1e-4};
  auto compare = [&](const Tensor& grad, std::vector<double>& values) {
    check.require(grad.defined() && grad.numel() == int64_t(values.size()));
    if (!check.ok()) return;
    std::vector<double> wants;
    double scale = 0;
    for (double& v : values) {
      const double v0 = v;
      v = v0 + kStep;
      const double up = loss();
      v = v0 - kStep;
      const double down = loss();
      v = v0;
      wants.push_back((up - down) / (2 * kStep));
      scale = std::max(scale, std::abs(wants.back()));
    }
    for (size_t k = 0; k < wants.size(); ++k) check.expect(at(grad, k), wants[k], scale);
  };
  compare(to_host(x.grad()), xs);
  compare(to_host(w.grad()), ref.W);
  compare(to_host(r.grad()), ref.R);
  compare(to_host(b.grad()), ref.b);
  return check;
}

// One layer of F = 64 features and U = 128 units over T steps, as a text model's LSTM/GRU
// after an Embedding(64): weights scaled as 1/sqrt(fan-in), no initial state, the whole
// sequence returned. FLOPs of the forward: 2*N*T*(F+U)*G, the input and recurrent GEMMs
// (G = 4U or 3U); the cell passes between them are not counted.
void bench_layer(RnnCell cell, int64_t N, int64_t T) {
  const int64_t F = 64, U = kUnits, G = (cell == RnnCell::Lstm ? 4 : 3) * U;
  const bool lstm = cell == RnnCell::Lstm;
  const double rf = 1 / std::sqrt(double(F)), ru = 1 / std::sqrt(double(U));
  Tensor x = random_tensor({N, T, F}, -1, 1), w = random_tensor({F, G}, -rf, rf),
         r = random_tensor({U, G}, -ru, ru),
         b = random_tensor(lstm ? Shape{G} : Shape{2, G}, -0.1, 0.1),
         wy = random_tensor({N, U}, -1, 1), none;
  const Tensor x_h = to_host(x), wy_h = to_host(wy);  // for the checks
  const RefLayer ref(cell, to_host(w), to_host(r), to_host(b));
  const std::string name = lstm ? "lstm" : "gru";
  const std::string shape = dims(T, F) + " -> " + std::to_string(U);
  const double flops = 2.0 * N * T * (F + U) * G;

  // Inference: nothing requires grad, so no graph and nothing kept for a backward.
  RnnOutputs out = rnn(cell, Activation::Tanh, x, w, r, b, none, none, none, {}, "bench");
  report(
      name + " fwd", shape, check_layer_forward(ref, x_h, none, outputs_to_host(out)),
      [&] { out = rnn(cell, Activation::Tanh, x, w, r, b, none, none, none, {}, "bench"); }, flops,
      Unit::Flops);

  // A training step: x, kernel, recurrent kernel and bias need gradients (dropped before
  // each step, as zero_grad(set_to_none) does), backward from a random weight wy on h_last
  // (a classifier reading the last state). Counted at 3x the forward's FLOPs. The check: the
  // forward on sampled rows, sampled input gradients, and every gradient at a small shape.
  Tensor xa = x.clone(), wa = w.clone(), ra = r.clone(), ba = b.clone();
  for (Tensor* t : {&xa, &wa, &ra, &ba}) t->set_requires_grad(true);
  RnnOutputs outa;
  auto step = [&] {
    for (Tensor* t : {&xa, &wa, &ra, &ba}) t->set_grad(Tensor());
    outa = rnn(cell, Activation::Tanh, xa, wa, ra, ba, none, none, none, {}, "bench");
    backward(outa.h_last, wy, false);
  };
  step();
  Check check = check_layer_forward(ref, x_h, none, outputs_to_host(outa));
  check.require(wa.grad().shape() == w.shape() && ra.grad().shape() == r.shape() &&
                ba.grad().shape() == b.shape());
  check.merge(check_input_gradient(ref, x_h, wy_h, to_host(xa.grad())));
  check.merge(check_small_gradients(cell));
  report(name + " f+b", shape, check, step, 3 * flops, Unit::Flops);

  if (!lstm) return;
  // The mask's cost: the LSTM forward with every other row padded to half length (steps
  // t >= T/2 of odd rows masked, as Embedding(mask_zero=True) marks post-padding). The GEMMs
  // still run on every row; the cell skips masked rows and the sequence zeroes them. Counted
  // at the unmasked FLOPs, so the rate compares directly with "lstm fwd".
  Tensor mask_h = Tensor::empty({N, T}, F32);  // made on the host
  for (int64_t n = 0; n < N; ++n)
    for (int64_t t = 0; t < T; ++t) mask_h.data<float>()[n * T + t] = n % 2 && t >= T / 2 ? 0 : 1;
  const Tensor mask = mask_h.to(g_device);
  out = rnn(cell, Activation::Tanh, x, w, r, b, none, none, mask, {}, "bench");
  report(
      "lstm fwd masked", shape, check_layer_forward(ref, x_h, mask_h, outputs_to_host(out)),
      [&] { out = rnn(cell, Activation::Tanh, x, w, r, b, none, none, mask, {}, "bench"); },
      flops, Unit::Flops);
}

}  // namespace

void bench_rnn_cells(Backend& be, int64_t batch) {
  bench_lstm_cell(be, batch);
  bench_gru_cell(be, batch);
}

void bench_rnn_layers(int64_t batch, int64_t steps) {
  for (RnnCell cell : {RnnCell::Lstm, RnnCell::Gru}) bench_layer(cell, batch, steps);
}

}  // namespace bench
