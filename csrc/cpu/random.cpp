// Random fills from Philox: element i uses counter offset + i, with (seed, offset) read from
// the generator tensor, whose offset then moves past the draw.
#include "math/random.h"

#include <cmath>
#include <utility>

#include "core/parallel.h"
#include "cpu/backend_cpu.h"

namespace fastnn {

void CpuBackend::random_uniform(Tensor& out, double low, double high, Tensor& generator) {
  auto [seed, offset] = take_counters(generator, out.numel());
  dispatch_float(out.dtype(), "uniform", [&](auto zero) {
    using T = decltype(zero);
    T* p = out.data<T>();
    const T top = static_cast<T>(high);
    parallel_for(out.numel(), 4096, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        math::Philox4 r = math::philox(seed, offset + i);
        double u = sizeof(T) == 4 ? double(math::uniform_float(r)) : math::uniform_double(r);
        T v = static_cast<T>(low + (high - low) * u);
        // Rounding low + (high - low) * u to float can land on high; keep [low, high) with
        // the largest value below high rather than wrapping to low.
        p[i] = v < top ? v : std::nextafter(top, static_cast<T>(low));
      }
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
        p[i] = static_cast<T>(mean + stddev * math::normal_double(math::philox(seed, offset + i)));
    });
  });
}

}  // namespace fastnn
