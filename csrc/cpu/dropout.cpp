// Dropout, inverted: x (any shape), mask (x's rank, each dim x's or 1) holding 1 / (1 - rate)
// where kept and 0 where dropped, y = x * mask. Mask element i keeps when the uniform that
// random_uniform would draw at counter offset + i is >= rate, so under one seed a dropout
// mask equals fn.rand(mask.shape) >= rate, on every device and thread count.
#include "core/parallel.h"
#include "cpu/backend_cpu.h"
#include "math/random.h"

namespace fastnn {

namespace {
template <class T>
T keep_scale(uint64_t seed, uint64_t counter, double rate, T scale) {
  math::Philox4 r = math::philox(seed, counter);
  double u = sizeof(T) == 4 ? double(math::uniform_float(r)) : math::uniform_double(r);
  return u >= rate ? scale : T(0);
}
}  // namespace

void CpuBackend::dropout_forward(const Tensor& x, double rate, Tensor& generator, Tensor& mask,
                                 Tensor& y) {
  auto [seed, offset] = take_counters(generator, mask.numel());
  const bool broadcast = mask.numel() != x.numel();
  dispatch_float(x.dtype(), "dropout", [&](auto zero) {
    using T = decltype(zero);
    const T scale = static_cast<T>(1.0 / (1.0 - rate));
    const T* xp = x.data<T>();
    T* mp = mask.data<T>();
    T* yp = y.data<T>();
    parallel_for(mask.numel(), 4096, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        mp[i] = keep_scale<T>(seed, offset + i, rate, scale);
        if (!broadcast) yp[i] = xp[i] * mp[i];
      }
    });
  });
  if (broadcast) binary_forward(BinaryOp::Mul, x, mask, y);
}

void CpuBackend::dropout_backward(const Tensor& gy, const Tensor& mask, Tensor& gx) {
  if (mask.numel() != gy.numel()) {
    binary_forward(BinaryOp::Mul, gy, mask, gx);
    return;
  }
  dispatch_float(gy.dtype(), "dropout backward", [&](auto zero) {
    using T = decltype(zero);
    const T* gp = gy.data<T>();
    const T* mp = mask.data<T>();
    T* op = gx.data<T>();
    parallel_for(gy.numel(), kElementwiseGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) op[i] = gp[i] * mp[i];
    });
  });
}

}  // namespace fastnn
