// The shared part of fastnn_bench: see harness.h.
#include "harness.h"

#include <cstdio>
#include <cstring>
#include <map>

#include "core/parallel.h"
#include "cpu/backend_cpu.h"  // kElementwiseGrain
#include "cpu/blas.h"

namespace bench {

Device g_device;
double g_budget_s = 0.2;
double g_gemm_gflops = 0;
double g_copy_gbps = 0;
int g_failed = 0, g_passed = 0;
std::mt19937_64 g_rng(20240601);

namespace {
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
}  // namespace

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Times one call of f: warm up for a tenth of the budget, then 7 repeats of a loop sized so
// that together they take about the budget. The minimum shows how much of the median is noise
// from other processes on the machine. On a device, kernels run after their launch returns:
// every clock reading follows a synchronize, so that they count where they run. The warm-up
// synchronises after each call, so that it stops on time (a long kernel's launches would
// otherwise queue up far past it); its estimate then includes the wait, which only shortens
// the loops.
Timing time_calls(const std::function<void()>& f) {
  Backend& be = backend_for(g_device);
  be.synchronize();
  auto t0 = Clock::now();
  int64_t warm = 0;
  while (warm < 3 || seconds_since(t0) < 0.1 * g_budget_s) {
    f();
    be.synchronize();
    ++warm;
  }
  const int repeats = 7;
  double per_call = seconds_since(t0) / warm;
  int64_t iters = std::max<int64_t>(1, static_cast<int64_t>(g_budget_s / repeats / per_call));
  std::vector<double> samples;
  for (int r = 0; r < repeats; ++r) {
    auto t = Clock::now();
    for (int64_t i = 0; i < iters; ++i) f();
    be.synchronize();
    samples.push_back(seconds_since(t) * 1e6 / iters);
  }
  std::sort(samples.begin(), samples.end());
  return {samples[repeats / 2], samples[0]};
}

// --- inputs and checks ---

Tensor random_tensor(const Shape& shape, double lo, double hi) {
  Tensor t = Tensor::empty(shape, F32);  // on the host
  std::uniform_real_distribution<double> u(lo, hi);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(u(g_rng));
  return t.to(g_device);
}

Tensor empty_tensor(const Shape& shape, DType dtype) {
  return Tensor::empty(shape, dtype, g_device);
}

Tensor empty_like(const Tensor& t) {
  return Tensor::empty(t.shape(), t.dtype(), t.device());
}

Tensor to_host(const Tensor& t) {
  return t.defined() ? t.to(Device{}) : t;
}

std::vector<int64_t> sample(int64_t count, int64_t n) {
  std::vector<int64_t> idx;
  for (int64_t j = 0; j < std::min(count, n); ++j)
    idx.push_back(count <= n ? j : j * (count - 1) / (n - 1));
  return idx;
}

double act_ref(Activation a, double x) {
  switch (a) {
    case Activation::ReLU:
      return x > 0 ? x : 0;
    case Activation::Sigmoid:
      return 1 / (1 + std::exp(-x));
    case Activation::Tanh:
      return std::tanh(x);
    case Activation::GELU:
      return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    default:
      return x;  // Linear
  }
}

double act_grad_ref(Activation a, double x) {
  switch (a) {
    case Activation::ReLU:
      return x > 0 ? 1 : 0;
    case Activation::Sigmoid:
      return act_ref(a, x) * (1 - act_ref(a, x));
    case Activation::Tanh:
      return 1 - std::tanh(x) * std::tanh(x);
    case Activation::GELU:
      return 0.5 * (1 + std::erf(x / std::sqrt(2.0))) + x * std::exp(-0.5 * x * x) * kInvSqrt2Pi;
    default:
      return 1;
  }
}

double act_grad_from_y(Activation a, double y) {
  switch (a) {
    case Activation::ReLU:
      return y > 0 ? 1 : 0;
    case Activation::Sigmoid:
      return y * (1 - y);
    case Activation::Tanh:
      return 1 - y * y;
    default:
      return 1;
  }
}

// --- reporting ---

namespace {
// Rate of a plain memcpy moving `bytes` in all (half read, half written), split over threads
// as fastnn's elementwise loops are: the ceiling for a memory-bound kernel of that size.
double copy_gbps(double bytes) {
  static std::map<int64_t, double> cache;
  int64_t half = std::max<int64_t>(64, static_cast<int64_t>(bytes / 2));
  auto it = cache.find(half);
  if (it != cache.end()) return it->second;
  std::vector<char> src(half, 1), dst(half, 0);
  Timing t = time_calls([&] {
    parallel_for(half, kElementwiseGrain * 4,
                 [&](int64_t b, int64_t e) { std::memcpy(dst.data() + b, src.data() + b, e - b); });
  });
  return cache[half] = 2.0 * half / t.median_us / 1e3;
}
}  // namespace

void report(const std::string& kernel, const std::string& shape, const Check& check,
            const std::function<void()>& f, double amount, Unit unit) {
  if (!check.ok()) {
    ++g_failed;
    std::printf("%-24s %-22s FAIL  worst error %.2e > tolerance %.0e; not timed\n", kernel.c_str(),
                shape.c_str(), check.worst, check.tol);
    return;
  }
  ++g_passed;
  Timing t = time_calls(f);
  double rate = amount / t.median_us / 1e3;  // per µs -> G per s
  bool flops = unit == Unit::Flops;
  // On the CPU a memory-bound kernel is compared with a memcpy of its own size; on a device
  // with the copy bandwidth of a large buffer (a small kernel's share shows its launch cost).
  double ceiling = flops ? g_gemm_gflops : on_device() ? g_copy_gbps : copy_gbps(amount);
  const char* ceiling_name =
      flops ? (on_device() ? "gemm" : "sgemm") : (on_device() ? "copy" : "memcpy");
  std::printf("%-24s %-22s PASS %10.2f %10.2f %8.2f %-7s %4.0f%% %s\n", kernel.c_str(),
              shape.c_str(), t.median_us, t.min_us, rate, flops ? "GFLOP/s" : "GB/s",
              100 * rate / ceiling, ceiling_name);
  std::fflush(stdout);
}

void section(const std::string& title) {
  std::printf("-- %s\n", title.c_str());
}

std::string dims(int64_t a, int64_t b) {
  return std::to_string(a) + "x" + std::to_string(b);
}

// --- the ceilings ---

namespace {
// The best of `reps` timings of f, each synchronised, after one untimed call (a device's first
// GEMM also picks its kernel and may allocate a workspace).
double best_seconds(Backend& be, int reps, const std::function<void()>& f) {
  f();
  double best = INFINITY;
  for (int i = 0; i < reps; ++i) {
    be.synchronize();
    auto t0 = Clock::now();
    f();
    be.synchronize();
    best = std::min(best, seconds_since(t0));
  }
  return best;
}

}  // namespace

double measure_sgemm_gflops(int64_t n, int reps) {
  std::vector<float> a(n * n), b(n * n), c(n * n);
  std::uniform_real_distribution<float> u(-1, 1);
  for (int64_t i = 0; i < n * n; ++i) a[i] = u(g_rng), b[i] = u(g_rng);
  auto run = [&] {
    blas_sgemm(false, false, n, n, n, 1, a.data(), n, b.data(), n, 0, c.data(), n);
  };
  // The ceiling is OpenBLAS threading itself over as many threads as fastnn uses (inside
  // fastnn it runs single-threaded, on the pool's threads).
  blas_set_num_threads(get_num_threads());
  const double best = best_seconds(backend_for(Device{}), reps, run);
  blas_set_num_threads(1);
  Check check{1e-4};
  for (int64_t r : sample(n, 8))
    for (int64_t j : sample(n, 8))
      expect_dot(check, c[r * n + j], n,
                 [&](int64_t k) { return double(a[r * n + k]) * b[k * n + j]; });
  std::printf("sgemm %ldx%ldx%ld (blas_sgemm, best of %d): %.1f GFLOP/s  check %s\n\n", long(n),
              long(n), long(n), reps, 2.0 * n * n * n / best / 1e9, check.ok() ? "PASS" : "FAIL");
  check.ok() ? ++g_passed : ++g_failed;
  return 2.0 * n * n * n / best / 1e9;
}

double measure_device_gemm_gflops(int64_t n, int reps) {
  Backend& be = backend_for(g_device);
  Tensor a = random_tensor({n, n}, -1, 1), b = random_tensor({n, n}, -1, 1),
         c = empty_tensor({n, n});
  const double seconds =
      best_seconds(be, reps, [&] { be.gemm(false, false, n, n, n, 1, a, b, 0, c); });
  const Tensor ha = to_host(a), hb = to_host(b), hc = to_host(c);
  Check check{1e-4};
  for (int64_t r : sample(n, 8))
    for (int64_t j : sample(n, 8))
      expect_dot(check, at(hc, r * n + j), n,
                 [&](int64_t k) { return at(ha, r * n + k) * at(hb, k * n + j); });
  const double gflops = 2.0 * n * n * n / seconds / 1e9;
  std::printf(
      "gemm %ldx%ldx%ld (Backend::gemm, float32, matmul precision \"%s\", best of %d): "
      "%.1f GFLOP/s  check %s\n",
      long(n), long(n), long(n), float32_matmul_precision().c_str(), reps, gflops,
      check.ok() ? "PASS" : "FAIL");
  check.ok() ? ++g_passed : ++g_failed;
  return gflops;
}

double measure_device_copy_gbps(int64_t bytes, int reps) {
  Backend& be = backend_for(g_device);
  // Rows of 1024 floats, so that the check can fetch a few of them.
  const int64_t rows = bytes / 4096;
  Tensor src = empty_tensor({rows, 1024}), dst = empty_tensor({rows, 1024});
  be.arange_fill(src, 0, 1);
  const double seconds = best_seconds(be, reps, [&] { be.copy(src, dst); });
  Check check{0};  // a copy: exact
  for (int64_t r : sample(rows, 16)) {
    const Tensor want = to_host(src.rows(r, r + 1)), got = to_host(dst.rows(r, r + 1));
    for (int64_t k = 0; k < 1024; ++k) check.expect(at(got, k), at(want, k));
  }
  const double gbps = 2.0 * rows * 4096 / seconds / 1e9;
  std::printf("copy %ld MiB (Backend::copy, read + written, best of %d): %.1f GB/s  check %s\n\n",
              long(rows * 4096 >> 20), reps, gbps, check.ok() ? "PASS" : "FAIL");
  check.ok() ? ++g_passed : ++g_failed;
  return gbps;
}

}  // namespace bench
