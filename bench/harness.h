// The shared part of fastnn_bench (fastnn_bench.cpp has the overview): the device the cases
// run on, timing, random inputs, the double-precision checks, the ceilings (sgemm and memcpy
// on the CPU; Backend::gemm and Backend::copy on a device) and the row printer.
// The cases live in fastnn_bench.cpp (dense, activations, losses, optimizers, and main),
// conv_cases.cpp (convolution, im2col/col2im, pooling, batch normalisation) and rnn_cases.cpp
// (LSTM and GRU cells and layers).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/backend.h"

namespace bench {

using namespace fastnn;

constexpr DType F32 = DType::Float32;
using Clock = std::chrono::steady_clock;

extern Device g_device;       // where the cases run: the CPU, or a device (--device)
extern double g_budget_s;     // timed seconds per case (--quick: 0.02; --budget)
extern double g_gemm_gflops;  // the GEMM ceiling (sgemm on the CPU), measured first
extern double g_copy_gbps;    // a device's copy bandwidth, measured first (unused on the CPU)
extern int g_failed, g_passed;
extern std::mt19937_64 g_rng;

inline bool on_device() {
  return g_device.kind != DeviceKind::CPU;
}

double seconds_since(Clock::time_point t0);

struct Timing {
  double median_us, min_us;  // per call
};
// Synchronises g_device's backend around the timed calls: a GPU's kernels return before they
// have run (on the CPU that is a no-op).
Timing time_calls(const std::function<void()>& f);

// --- inputs and checks ---

// Uniform in [lo, hi), drawn on the host from g_rng (each case draws fresh inputs), then moved
// to g_device.
Tensor random_tensor(const Shape& shape, double lo, double hi);
// Uninitialised, on g_device.
Tensor empty_tensor(const Shape& shape, DType dtype = F32);
Tensor empty_like(const Tensor& t);  // t's shape, dtype and device
// The values of t in host memory, for the checks to read: a transfer from a device, t itself
// on the CPU (undefined stays undefined).
Tensor to_host(const Tensor& t);
// The elements of a host tensor. A device tensor's data would be device memory, which the
// host must not dereference; this refuses it even on the emulated device (whose memory is
// the host's), so `--device emulated` shows a check that forgot to_host.
template <class T = float>
const T* host_data(const Tensor& t) {
  if (t.device().kind != DeviceKind::CPU)
    throw std::logic_error("a check read " + t.device().name() +
                           " memory directly (to_host first)");
  return t.data<T>();
}
inline double at(const Tensor& t, int64_t i) {
  return host_data(t)[i];
}

// n indices to compare at: all of [0, count) when that is few, else evenly spaced from the
// first to the last.
std::vector<int64_t> sample(int64_t count, int64_t n);

// A sum of terms beside the sum of their magnitudes, which float rounding scales with.
struct Dot {
  double sum = 0, mag = 0;
  void add(double term) { sum += term, mag += std::abs(term); }
};

// The worst error of a kernel's outputs against the double reference, as |got - want| over
// max(scale, |want|): scale is 1 for values of order one, the sum of |terms| for a dot product.
struct Check {
  double tol;
  double worst = 0;
  void expect(double got, double want, double scale = 1) {
    double err = std::abs(got - want) / std::max({scale, std::abs(want), 1e-30});
    worst = std::max(worst, std::isnan(err) ? INFINITY : err);
  }
  void expect(double got, const Dot& want) { expect(got, want.sum, want.mag); }
  // A wrong shape fails the case outright (its elements are not comparable).
  void require(bool ok) {
    if (!ok) worst = INFINITY;
  }
  void merge(const Check& other) { worst = std::max(worst, other.worst); }  // same tol
  bool ok() const { return worst <= tol; }
};

// A dot product: `got` against the sum of term(k) for k < n.
template <class Term>
void expect_dot(Check& check, double got, int64_t n, Term term) {
  Dot dot;
  for (int64_t k = 0; k < n; ++k) dot.add(term(k));
  check.expect(got, dot);
}

double act_ref(Activation a, double x);
double act_grad_ref(Activation a, double x);
// The derivative from the activation's output, as the dense and conv backwards compute it
// (the seed models' layers use linear, relu and sigmoid only).
double act_grad_from_y(Activation a, double y);

// --- reporting ---

enum class Unit { Flops, Bytes };

// Prints one row: the check, then (if it passed) the median and minimum time of f and the rate
// of `amount` FLOPs or bytes per call at the median.
void report(const std::string& kernel, const std::string& shape, const Check& check,
            const std::function<void()>& f, double amount, Unit unit);
void section(const std::string& title);
std::string dims(int64_t a, int64_t b);  // "AxB"

// The ceilings, each checked and printed; they return the rate.
// The CPU's: blas_sgemm on n^3 (best of reps), in GFLOP/s.
double measure_sgemm_gflops(int64_t n, int reps);
// A device's: Backend::gemm of float32 n^3 on g_device (best of reps after a warm-up), in
// GFLOP/s, and Backend::copy of a buffer of `bytes` to another, in GB/s read + written.
double measure_device_gemm_gflops(int64_t n, int reps);
double measure_device_copy_gbps(int64_t bytes, int reps);

// --- the CNN cases (conv_cases.cpp), at one batch size ---

// The seed CNNs' convolutions through ops conv2d (forward; forward + backward), and the
// im2col/col2im kernels alone.
void bench_convolutions(Backend& be, int64_t batch);
// 2x2 stride 2 max and average pooling, forward and backward, at those convolutions' outputs.
void bench_pooling(Backend& be, int64_t batch);
// Batch normalisation forward (training, inference) and backward.
void bench_batch_norm(Backend& be, int64_t batch);

// --- the recurrent cases (rnn_cases.cpp), at one batch size ---

// The LSTM and GRU cell kernels alone (128 units), forward and backward.
void bench_rnn_cells(Backend& be, int64_t batch);
// LSTM and GRU layers (64 features, 128 units) over `steps` steps through ops rnn():
// forward, forward + backward, and the LSTM forward with half the rows padded.
void bench_rnn_layers(int64_t batch, int64_t steps);

}  // namespace bench
