// Random fills from Philox: element i uses counter offset + i, with (seed, offset) read from
// the generator tensor, whose offset then moves past the draw.
#include "math/random.h"

#include <utility>

#include "core/parallel.h"
#include "cpu/backend_cpu.h"

namespace fastnn {

void CpuBackend::random_uniform(Tensor& out, double low, double high, Tensor& generator) {
  auto [seed, offset] = take_counters(generator, out.numel());
  dispatch_float(out.dtype(), "uniform", [&](auto zero) {
    using T = decltype(zero);
    T* p = out.data<T>();
    parallel_for(out.numel(), 4096, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        p[i] = math::uniform_value<T>(math::philox(seed, offset + i), low, high);
    });
  });
}

void CpuBackend::random_normal(Tensor& out, double mean, double stddev, Tensor& generator) {
  auto [seed, offset] = take_counters(generator, out.numel());
  dispatch_float(out.dtype(), "normal", [&](auto zero) {
    using T = decltype(zero);
    T* p = out.data<T>();
    parallel_for(out.numel(), 4096, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        p[i] = math::normal_value<T>(math::philox(seed, offset + i), mean, stddev);
    });
  });
}

}  // namespace fastnn
