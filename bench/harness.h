// The shared part of fastnn_bench (fastnn_bench.cpp has the overview): timing, random
// inputs, the double-precision checks, the sgemm and memcpy ceilings and the row printer.
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
#include <string>
#include <vector>

#include "core/backend.h"

namespace bench {

using namespace fastnn;

constexpr DType F32 = DType::Float32;
using Clock = std::chrono::steady_clock;

extern double g_budget_s;      // timed seconds per case (--quick: 0.02)
extern double g_sgemm_gflops;  // the machine's sgemm rate, measured first
extern int g_failed, g_passed;
extern std::mt19937_64 g_rng;

double seconds_since(Clock::time_point t0);

struct Timing {
  double median_us, min_us;  // per call
};
Timing time_calls(const std::function<void()>& f);

// --- inputs and checks ---

// Uniform in [lo, hi), from g_rng: each case draws fresh inputs.
Tensor random_tensor(const Shape& shape, double lo, double hi);
Tensor empty_like(const Tensor& t);
inline double at(const Tensor& t, int64_t i) {
  return t.data<float>()[i];
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

// Times blas_sgemm on n^3 (best of reps), checks it, prints it and returns its GFLOP/s.
double measure_sgemm_gflops(int64_t n, int reps);

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
