// fastnn_bench: checks, then times, libfastnn's kernels at the seed models' shapes, on the CPU
// or (--device) on a GPU through the CUDA backend. No Python: it links libfastnn and calls the
// Backend and the ops layer directly.
//
// What it measures (float32, per call: the median of 7 repeats after a warm-up, ~0.2 s a case):
//   dense fwd        Backend::gemm + bias_activation_forward             GFLOP/s of 2*B*I*O
//   dense bwd        activation_backward + the two gradient GEMMs + sum_to  GFLOP/s of 4*B*I*O
//   dense f+b (ops)  ops dense() on tensors that require grad, then backward()  6*B*I*O
//   activations, the bias+activation epilogue, losses, SGD/Adam updates: GB/s (bytes read +
//   written by the kernel, counted once)
//   conv_cases.cpp, at batch 64 and 256, the seed CNNs' layers (mnist_cnn, mnist_lenet,
//   cifar_cnn; per-image shapes, "3x3s" marks "same" padding):
//     conv fwd       ops conv2d() (im2col + GEMM + epilogue)    GFLOP/s of 2*N*OH*OW*KH*KW*C*F
//     conv f+b       conv2d() on tensors that require grad, then backward()   3x that; a
//                    first layer ("f+b-gx") has x without grad, as in training, and so skips
//                    the input gradient's GEMM and col2im, yet is counted at 3x too
//     im2col, col2im Backend kernels alone                      GB/s of x and cols
//     max/avg pooling 2x2 stride 2, forward and backward, at the convs' outputs   GB/s
//     batch norm forward (training, inference) and training's backward   GB/s
//   rnn_cases.cpp, at batch 64 and 256, LSTM and GRU (Keras's gates; GRU reset_after), 128 units:
//     cell fwd, bwd  Backend lstm/gru_cell_forward/backward alone, one step   GB/s
//     fwd            ops rnn() over T=50 steps of 64 features (--quick: T=10), inference
//                    GFLOP/s of the GEMMs, 2*N*T*(F+U)*G (G = 4U for LSTM, 3U for GRU)
//     f+b            rnn() on x and weights that require grad, backward() from h_last   3x that
//     lstm fwd masked  the LSTM forward with odd rows padded to half length, at the
//                    unmasked FLOPs (the mask's cost)
// GFLOP/s is also shown as a share of OpenBLAS's sgemm rate (blas_sgemm on 1024^3, best of
// several, measured at the start of the same run); GB/s as a share of a plain memcpy moving the
// same number of bytes, split over threads as fastnn's elementwise loops are.
//
// On a device (--device cuda, cuda:N, or emulated) the same cases run through the device's
// Backend: inputs are drawn on the host and moved there, the checks read host copies of the
// outputs (to_host; host_data refuses a device tensor), and time_calls synchronises the device
// around the timed calls. The ceilings, measured at the start: Backend::gemm on float32 4096^3
// (cuBLAS, at the default matmul precision "highest": no TF32), "gemm" in the last column, and
// Backend::copy of a 256 MiB buffer (bytes read + written per second), "copy"; --quick uses
// 1024^3 and 32 MiB, which understate a GPU's. The CPU-only lines (threads, OpenBLAS) and
// --threads are left out. The CUDA backend is libfastnn_cuda.so, loaded at run time from
// --cuda-library PATH, else beside this executable or in the cuda/ directory of its build
// tree; a missing library, driver or GPU prints why and exits with status 2. "emulated" is a
// stand-in cuda:0 whose memory is the host's and whose kernels are the CPU's: it runs every
// line of the device path without a GPU (how that path is tested; its rates mean nothing).
//
// Every case is first checked against a double-precision reference loop written here (sampled
// rows for the GEMMs, sampled pixels of a direct convolution for the convs, sampled rows of
// the recurrence for the RNN layers, whose gradients are checked against central differences,
// every element otherwise); a failed check prints FAIL and skips the timing, and the exit
// status is then 1.
// harness.h/.cpp hold the timing, checks and reporting the cases share.
//
// Build and run from the repository root (bench/README.md has the full cmake line):
//   cmake -S . -B build/bench -G Ninja ... && ninja -C build/bench fastnn_bench
//   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE build/bench/fastnn_bench [--quick] [--threads N]
//   build/cuda/fastnn_bench --device cuda [--cuda-library PATH]   (a build with FASTNN_CUDA)
//   build/bench/fastnn_bench --device emulated --quick
// --quick runs batch 64 and the smallest sizes only (a smoke test, ~15 s: the CNN cases
// at batch 64 take most of it). --budget SECONDS sets the timed seconds per case (0.2;
// --quick 0.02).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "autograd/node.h"
#include "core/parallel.h"
#include "cpu/backend_cpu.h"  // register_emulated_cuda
#include "cpu/blas.h"
#include "harness.h"
#include "ops/ops.h"

using namespace bench;

namespace {

// --- dense ---

struct DenseLayer {
  int64_t in, out;
  Activation act;
};
// The seed models' dense layers: binary_mlp, mnist_mlp, autoencoder (encoder in, decoder out),
// digits_mlp.
const DenseLayer kDenseLayers[] = {{2, 32, Activation::ReLU},    {32, 1, Activation::Linear},
                                   {784, 256, Activation::ReLU}, {256, 10, Activation::Linear},
                                   {784, 128, Activation::ReLU}, {128, 784, Activation::Sigmoid},
                                   {64, 64, Activation::ReLU},   {64, 10, Activation::Linear}};

// y = act(x @ w + b) on sampled rows, every column.
Check check_dense_forward(const Tensor& x, const Tensor& w, const Tensor& b, Activation act,
                          const Tensor& y) {
  const int64_t B = x.size(0), I = w.size(0), O = w.size(1);
  Check check{1e-4};
  for (int64_t r : sample(B, 16))
    for (int64_t o = 0; o < O; ++o) {
      Dot z;
      z.add(at(b, o));
      for (int64_t i = 0; i < I; ++i) z.add(at(x, r * I + i) * at(w, i * O + o));
      check.expect(at(y, r * O + o), act_ref(act, z.sum), z.mag);
    }
  return check;
}

// With gz = gy * act'(y): gx = gz @ w^T on sampled rows, gw = x^T @ gz on sampled entries,
// gb = the column sums of gz.
Check check_dense_backward(const Tensor& x, const Tensor& w, Activation act, const Tensor& y,
                           const Tensor& gy, const Tensor& gx, const Tensor& gw, const Tensor& gb) {
  const int64_t B = x.size(0), I = w.size(0), O = w.size(1);
  std::vector<double> gz(B * O);
  for (int64_t k = 0; k < B * O; ++k) gz[k] = at(gy, k) * act_grad_from_y(act, at(y, k));
  Check check{1e-4};
  for (int64_t r : sample(B, 16))
    for (int64_t i = 0; i < I; ++i)
      expect_dot(check, at(gx, r * I + i), O,
                 [&](int64_t o) { return gz[r * O + o] * at(w, i * O + o); });
  for (int64_t i : sample(I, 16))
    for (int64_t o : sample(O, 16))
      expect_dot(check, at(gw, i * O + o), B,
                 [&](int64_t b) { return at(x, b * I + i) * gz[b * O + o]; });
  for (int64_t o = 0; o < O; ++o)
    expect_dot(check, at(gb, o), B, [&](int64_t b) { return gz[b * O + o]; });
  return check;
}

void bench_dense(Backend& be, int64_t B, const DenseLayer& layer) {
  const int64_t I = layer.in, O = layer.out;
  const Activation act = layer.act;
  const double r = 1 / std::sqrt(double(I));
  Tensor x = random_tensor({B, I}, -1, 1), w = random_tensor({I, O}, -r, r),
         b = random_tensor({O}, -0.1, 0.1), gy = random_tensor({B, O}, -1, 1);
  Tensor y = empty_tensor({B, O}), gz = empty_like(y), gx = empty_like(x), gw = empty_like(w),
         gb = empty_tensor({1, O}), no_z;
  // The kernels dense() and its backward launch, called directly.
  auto forward_kernels = [&] {
    be.gemm(false, false, B, O, I, 1.0, x, w, 0.0, y);
    be.bias_activation_forward(act, 0.0, b, y, no_z);
  };
  auto backward_kernels = [&] {
    Tensor g = gy;
    if (act != Activation::Linear) {
      be.activation_backward(act, 0.0, Tensor(), y, gy, gz);
      g = gz;
    }
    be.gemm(false, true, B, I, O, 1.0, g, w, 0.0, gx);
    be.gemm(true, false, I, O, B, 1.0, x, g, 0.0, gw);
    be.sum_to(g, gb);
  };
  const std::string shape =
      std::to_string(B) + "x" + std::to_string(I) + " -> " + std::to_string(O);
  const std::string name = activation_name(act);
  const double flops = 2.0 * B * I * O;
  // Host copies of the inputs for the checks (the tensors themselves on the CPU).
  const Tensor x_h = to_host(x), w_h = to_host(w), b_h = to_host(b), gy_h = to_host(gy);
  forward_kernels();
  report("dense fwd " + name, shape, check_dense_forward(x_h, w_h, b_h, act, to_host(y)),
         forward_kernels, flops, Unit::Flops);
  backward_kernels();
  report(
      "dense bwd " + name, shape,
      check_dense_backward(x_h, w_h, act, to_host(y), gy_h, to_host(gx), to_host(gw), to_host(gb)),
      backward_kernels, 2 * flops, Unit::Flops);

  // The ops layer: a hidden layer's training step (x, kernel and bias all need gradients),
  // with the gradients dropped before each step as zero_grad(set_to_none) does.
  Tensor xa = x.clone(), wa = w.clone(), ba = b.clone(), ya;
  for (Tensor* t : {&xa, &wa, &ba}) t->set_requires_grad(true);
  auto step = [&] {
    for (Tensor* t : {&xa, &wa, &ba}) t->set_grad(Tensor());
    ya = dense(xa, wa, ba, act, 0.0);
    backward(ya, gy, false);
  };
  step();
  const Tensor ya_h = to_host(ya);
  Check check = check_dense_forward(x_h, w_h, b_h, act, ya_h);
  check.merge(check_dense_backward(x_h, w_h, act, ya_h, gy_h, to_host(xa.grad()),
                                   to_host(wa.grad()), to_host(ba.grad())));
  report("dense f+b (ops) " + name, shape, check, step, 3 * flops, Unit::Flops);
}

// --- activations and the dense epilogue ---

void bench_activations(Backend& be, int64_t N, int64_t C) {
  Tensor x = random_tensor({N, C}, -4, 4), gy = random_tensor({N, C}, -1, 1),
         bias = random_tensor({C}, -0.5, 0.5);
  Tensor y = empty_like(x), gx = empty_like(x);
  const Tensor x_h = to_host(x), gy_h = to_host(gy), bias_h = to_host(bias);  // for the checks
  const int64_t n = N * C;
  const std::string shape = dims(N, C);
  for (Activation a : {Activation::ReLU, Activation::Sigmoid, Activation::Tanh, Activation::GELU}) {
    const std::string name = activation_name(a);
    be.activation_forward(a, 0.0, x, y);
    const Tensor y_h = to_host(y);
    Check fwd{1e-5};
    for (int64_t k = 0; k < n; ++k) fwd.expect(at(y_h, k), act_ref(a, at(x_h, k)));
    report(
        name + " fwd", shape, fwd, [&] { be.activation_forward(a, 0.0, x, y); }, 8.0 * n,
        Unit::Bytes);
    // The backward reads y, except GELU's, which reads x.
    Tensor x_in = a == Activation::GELU ? x : Tensor();
    be.activation_backward(a, 0.0, x_in, y, gy, gx);
    const Tensor gx_h = to_host(gx);
    Check bwd{1e-5};
    for (int64_t k = 0; k < n; ++k)
      bwd.expect(at(gx_h, k), at(gy_h, k) * act_grad_ref(a, at(x_h, k)));
    report(
        name + " bwd", shape, bwd, [&] { be.activation_backward(a, 0.0, x_in, y, gy, gx); },
        12.0 * n, Unit::Bytes);
  }
  // The epilogue after dense's GEMM, in place on y: relu as in inference (no z kept), and
  // gelu in training (z = y + bias kept for its backward).
  for (bool keep_z : {false, true}) {
    Activation a = keep_z ? Activation::GELU : Activation::ReLU;
    Tensor yb = x.clone(), z = keep_z ? empty_like(x) : Tensor();
    be.bias_activation_forward(a, 0.0, bias, yb, z);
    const Tensor yb_h = to_host(yb), z_h = to_host(z);
    Check check{1e-5};
    for (int64_t k = 0; k < n; ++k) {
      double v = at(x_h, k) + at(bias_h, k % C);
      check.expect(at(yb_h, k), act_ref(a, v));
      if (keep_z) check.expect(at(z_h, k), v);
    }
    report(
        std::string("bias+") + activation_name(a) + (keep_z ? " (+z)" : ""), shape, check,
        [&] { be.bias_activation_forward(a, 0.0, bias, yb, z); },
        4.0 * (2 * n + C + (keep_z ? n : 0)), Unit::Bytes);
  }
}

// --- losses ---

void bench_losses(Backend& be, int64_t N, int64_t C) {
  Tensor logits = random_tensor({N, C}, -3, 3), soft = random_tensor({N, C}, 0, 1),
         gloss = random_tensor({N}, 0.5, 1.5);
  Tensor labels_h = Tensor::empty({N}, DType::Int64);  // drawn on the host
  for (int64_t r = 0; r < N; ++r) labels_h.data<int64_t>()[r] = int64_t(g_rng() % C);
  Tensor labels = labels_h.to(g_device);
  const Tensor logits_h = to_host(logits), soft_h = to_host(soft), gloss_h = to_host(gloss);
  Tensor loss = empty_tensor({N}), gpred = empty_like(logits);
  const std::string shape = dims(N, C);
  struct Case {
    LossKind kind;
    const char* name;
  };
  for (Case c : {Case{LossKind::SparseCategoricalCrossentropyLogits, "sparse_ce_logits"},
                 Case{LossKind::BinaryCrossentropyLogits, "bce_logits"},
                 Case{LossKind::MeanSquared, "mse"}}) {
    const bool sparse = c.kind == LossKind::SparseCategoricalCrossentropyLogits;
    const Tensor& target = sparse ? labels : soft;
    be.loss_forward(c.kind, logits, target, loss);
    be.loss_backward(c.kind, logits, target, gloss, gpred);
    const Tensor loss_h = to_host(loss), gpred_h = to_host(gpred);
    Check fwd{1e-5}, bwd{1e-5};
    for (int64_t r = 0; r < N; ++r) {
      const float* x = host_data(logits_h) + r * C;  // seek to logits[r, :]
      const float* t = host_data(soft_h) + r * C;
      double want = 0, g = at(gloss_h, r);
      if (sparse) {
        int64_t label = host_data<int64_t>(labels_h)[r];
        double mx = *std::max_element(x, x + C), s = 0;
        for (int64_t j = 0; j < C; ++j) s += std::exp(x[j] - mx);
        double lse = mx + std::log(s);
        want = lse - x[label];
        for (int64_t j = 0; j < C; ++j)
          bwd.expect(at(gpred_h, r * C + j), g * (std::exp(x[j] - lse) - (j == label)));
      } else {
        for (int64_t j = 0; j < C; ++j) {
          double p = 1 / (1 + std::exp(-double(x[j])));
          bool bce = c.kind == LossKind::BinaryCrossentropyLogits;
          want += bce ? -(t[j] * std::log(p) + (1 - t[j]) * std::log(1 - p))
                      : (double(x[j]) - t[j]) * (double(x[j]) - t[j]);
          double d = bce ? p - t[j] : 2 * (double(x[j]) - t[j]);
          bwd.expect(at(gpred_h, r * C + j), g * d / C);
        }
        want /= C;
      }
      fwd.expect(at(loss_h, r), want);
    }
    const double pred_bytes = 4.0 * N * C, target_bytes = sparse ? 8.0 * N : 4.0 * N * C;
    report(
        std::string(c.name) + " fwd", shape, fwd,
        [&] { be.loss_forward(c.kind, logits, target, loss); }, pred_bytes + target_bytes + 4.0 * N,
        Unit::Bytes);
    report(
        std::string(c.name) + " bwd", shape, bwd,
        [&] { be.loss_backward(c.kind, logits, target, gloss, gpred); },
        2 * pred_bytes + target_bytes + 4.0 * N, Unit::Bytes);
  }
}

// --- optimizer updates ---

// Mid-training state (step 10, non-zero moments). Moments are compared relative to the size
// of their terms (they can cancel), the parameter step p - p0 in units of lr, so an error of
// 0.01% of the update shows.
void bench_optimizers(Backend& be, int64_t n) {
  const std::string shape = std::to_string(n);
  Tensor g = random_tensor({n}, -1, 1), p = random_tensor({n}, -0.5, 0.5), p0 = p.clone();
  Tensor m = random_tensor({n}, -0.1, 0.1), v = random_tensor({n}, 0, 0.01), no_vmax;
  Tensor m0 = m.clone(), v0 = v.clone();
  AdamConfig adam;  // lr 1e-3, betas (0.9, 0.999), eps 1e-8
  const int64_t step = 10;
  Tensor adam_config = config_tensor(adam, g_device), steps = empty_tensor({1}, DType::Int64);
  be.fill(steps, step - 1);  // the update counts this step
  be.adam_update(adam_config, steps, 0, p, g, m, v, no_vmax);
  // Host copies for the check: the state before the update (the clones) and after it.
  const Tensor g_h = to_host(g), p_h = to_host(p), p0_h = to_host(p0), m_h = to_host(m),
               m0_h = to_host(m0), v_h = to_host(v), v0_h = to_host(v0);
  Check check{1e-4};
  const double b1 = adam.beta1, b2 = adam.beta2;
  for (int64_t i = 0; i < n; ++i) {
    double gi = at(g_h, i), mi = b1 * at(m0_h, i) + (1 - b1) * gi,
           vi = b2 * at(v0_h, i) + (1 - b2) * gi * gi;
    double mhat = mi / (1 - std::pow(b1, step)), vhat = vi / (1 - std::pow(b2, step));
    check.expect(at(m_h, i), mi, b1 * std::abs(at(m0_h, i)) + (1 - b1) * std::abs(gi));
    check.expect(at(v_h, i), vi, 1e-12);
    check.expect(at(p_h, i) - at(p0_h, i), -adam.lr * mhat / (std::sqrt(vhat) + adam.eps), adam.lr);
  }
  report(
      "adam update", shape, check,
      [&] { be.adam_update(adam_config, steps, 0, p, g, m, v, no_vmax); },
      4.0 * 7 * n, Unit::Bytes);

  SGDConfig sgd;
  sgd.lr = 0.01, sgd.momentum = 0.9;
  // Fresh parameters: the Adam timing above moved p far from 0, and a float step p - p0 on
  // a large p would lose the digits the check looks at.
  Tensor q = random_tensor({n}, -0.5, 0.5), q0 = q.clone(), buf = m.clone(), buf0 = m.clone();
  Tensor sgd_config = config_tensor(sgd, g_device);
  be.fill(steps, 1);  // past the first step: the buffer carries momentum
  be.sgd_update(sgd_config, steps, 0, q, g, buf);
  const Tensor q_h = to_host(q), q0_h = to_host(q0), buf_h = to_host(buf), buf0_h = to_host(buf0);
  Check sgd_check{1e-4};
  for (int64_t i = 0; i < n; ++i) {
    double bi = sgd.momentum * at(buf0_h, i) + at(g_h, i);
    sgd_check.expect(at(buf_h, i), bi,
                     sgd.momentum * std::abs(at(buf0_h, i)) + std::abs(at(g_h, i)));
    sgd_check.expect(at(q_h, i) - at(q0_h, i), -sgd.lr * bi, sgd.lr);
  }
  report(
      "sgd momentum update", shape, sgd_check,
      [&] { be.sgd_update(sgd_config, steps, 0, q, g, buf); },
      4.0 * 5 * n, Unit::Bytes);
}

// --- the device ---

// The CUDA backend's library when --cuda-library is not given: beside this executable, or in
// the cuda/ directory of the build tree it was built in (where CMake puts libfastnn_cuda.so).
// "" when neither exists.
std::string default_cuda_library() {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::path dir = fs::read_symlink("/proc/self/exe", error).parent_path();
  for (const fs::path& path : {dir / "libfastnn_cuda.so", dir / "cuda" / "libfastnn_cuda.so"})
    if (fs::exists(path, error)) return path.string();
  return "";
}

// Sets g_device to what --device names: "cpu", "cuda" or "cuda:N" (after loading the CUDA
// backend's library), or "emulated" (a host-emulated cuda:0, whose kernels are the CPU's).
// Returns "" or why the CUDA backend cannot be used (no library, driver or GPU); a device
// index past the GPUs is backend_for's error.
std::string select_device(const std::string& name, const std::string& cuda_library) {
  if (name == "emulated") {
    register_emulated_cuda(1);
    g_device = Device{DeviceKind::CUDA, 0};
    return "";
  }
  g_device = device_from_name(name);
  if (!on_device()) return "";
  const std::string library = cuda_library.empty() ? default_cuda_library() : cuda_library;
  if (library.empty())
    return "no libfastnn_cuda.so beside fastnn_bench or in its cuda/ directory (a build "
           "without CUDA?); give its path with --cuda-library";
  return load_backend_library(DeviceKind::CUDA, library);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  double budget = 0;  // 0: the default for --quick or not
  int threads = 0;
  std::string device = "cpu", cuda_library;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--quick") {
      quick = true;
    } else if (arg == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (arg == "--budget" && i + 1 < argc) {
      budget = std::atof(argv[++i]);
    } else if (arg == "--device" && i + 1 < argc) {
      device = argv[++i];
    } else if (arg == "--cuda-library" && i + 1 < argc) {
      cuda_library = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: %s [--quick] [--budget SECONDS] [--threads N]\n"
                   "       [--device cpu|cuda|cuda:N|emulated] [--cuda-library PATH]\n",
                   argv[0]);
      return 2;
    }
  }
  g_budget_s = budget > 0 ? budget : quick ? 0.02 : 0.2;
  auto start = Clock::now();
  try {
    const std::string why = select_device(device, cuda_library);
    if (!why.empty()) {
      std::fprintf(stderr, "fastnn_bench: device '%s' is not available: %s\n",
                   g_device.name().c_str(), why.c_str());
      return 2;
    }
    if (threads > 0) {
      if (on_device()) {
        std::fprintf(stderr, "fastnn_bench: --threads is for the CPU (--device cpu)\n");
        return 2;
      }
      set_num_threads(threads);
    }
    Backend& be = backend_for(g_device);
    if (on_device()) {
      std::printf("fastnn_bench%s: backend %s, device %s: %s\n", quick ? " --quick" : "", be.name(),
                  g_device.name().c_str(), be.device_name(g_device.index).c_str());
    } else {
      std::printf("fastnn_bench%s: backend %s, threads %d (OpenBLAS %d)\n", quick ? " --quick" : "",
                  be.name(), get_num_threads(), blas_get_num_threads());
      std::printf("OpenBLAS core: %s\n%s\n", blas_corename().c_str(), blas_config().c_str());
    }
    // Two threads in a GEMM stall for whole scheduler slices when a core is busy elsewhere
    // (and a busy host delays a device's launches).
    double load = 0;
    int cores = static_cast<int>(std::thread::hardware_concurrency());
    if (getloadavg(&load, 1) == 1 && load > 0.5 * cores)
      std::printf("warning: load average %.1f on %d cores; timings may be noisy\n", load, cores);
    if (on_device()) {
      // Sizes that keep a GPU busy (4096^3: ~2.5 ms of float32 on an H100); --quick's are
      // smaller, for the emulated device's CPU kernels, and understate a GPU's ceilings.
      g_gemm_gflops = measure_device_gemm_gflops(quick ? 1024 : 4096, quick ? 5 : 20);
      g_copy_gbps = measure_device_copy_gbps(int64_t(quick ? 32 : 256) << 20, quick ? 5 : 20);
    } else {
      g_gemm_gflops = measure_sgemm_gflops(1024, quick ? 5 : 20);
    }
    std::printf("%-24s %-22s %-5s %10s %10s %16s %11s\n", "kernel", "shape", "check", "median us",
                "min us", "rate (median)", "of ceiling");

    // Smallest sizes first; --quick runs the first of each.
    const std::vector<int64_t> batches = {64, 1024};
    const std::vector<std::pair<int64_t, int64_t>> elementwise = {{64, 256}, {1024, 784}};
    const std::vector<std::pair<int64_t, int64_t>> losses = {{64, 10}, {1024, 10}};
    const std::vector<int64_t> params = {64 * 10, 784 * 256};
    const std::vector<int64_t> cnn_batches = {64, 256};
    const size_t count = quick ? 1 : 2;
    for (size_t s = 0; s < count; ++s) {
      section("dense, batch " + std::to_string(batches[s]));
      for (const DenseLayer& layer : kDenseLayers) bench_dense(be, batches[s], layer);
    }
    section("activations and the bias+activation epilogue");
    for (size_t s = 0; s < count; ++s)
      bench_activations(be, elementwise[s].first, elementwise[s].second);
    section("losses (per-sample kernels)");
    for (size_t s = 0; s < count; ++s) bench_losses(be, losses[s].first, losses[s].second);
    section("optimizer updates (parameters)");
    for (size_t s = 0; s < count; ++s) bench_optimizers(be, params[s]);
    for (size_t s = 0; s < count; ++s) {
      const std::string batch = ", batch " + std::to_string(cnn_batches[s]);
      section("convolution (ops conv2d; im2col, col2im alone; per-image shapes)" + batch);
      bench_convolutions(be, cnn_batches[s]);
      section("pooling 2x2 stride 2 (per-image shapes)" + batch);
      bench_pooling(be, cnn_batches[s]);
      section("batch normalisation (per-sample shapes)" + batch);
      bench_batch_norm(be, cnn_batches[s]);
    }
    const std::vector<int64_t> rnn_batches = {64, 256};
    const int64_t rnn_steps = quick ? 10 : 50;
    for (size_t s = 0; s < count; ++s) {
      const std::string batch = ", batch " + std::to_string(rnn_batches[s]);
      section("recurrent cells (Backend kernels alone; batch x units)" + batch);
      bench_rnn_cells(be, rnn_batches[s]);
      section("recurrent layers (ops rnn(); per-sample steps x features -> units)" + batch);
      bench_rnn_layers(rnn_batches[s], rnn_steps);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fastnn_bench: %s\n", e.what());
    return 2;
  }
  std::printf("\n%d checks passed, %d failed (%.1f s)\n", g_passed, g_failed, seconds_since(start));
  return g_failed ? 1 : 0;
}
