// Dropout, inverted: x (any shape), mask (x's rank, each dim x's or 1) holding 1 / (1 - rate)
// where kept and 0 where dropped, y = x * mask. Mask element i keeps when lane i % 4 of the
// Philox block at counter offset + i / 4 is >= math::dropout_threshold(rate), so the mask
// depends on (seed, offset) only: the same on every device, thread count and dtype. The
// generator advances by mask.numel(), as random_uniform does for as many values (a quarter
// of those counters are used: four lanes per block, four times fewer Philox evaluations).
#include <algorithm>

#include "core/parallel.h"
#include "cpu/backend_cpu.h"
#include "math/random.h"

namespace fastnn {

namespace {
constexpr int64_t kBlocksPerBatch = 64;

// The lanes of Philox blocks first .. first + count (count <= kBlocksPerBatch), lane-major
// (lanes[l * kBlocksPerBatch + b]) so the loop over blocks has no dependence between
// iterations and vectorises.
void philox_lanes(uint64_t seed, uint64_t first, int64_t count, uint32_t* lanes) {
  for (int64_t b = 0; b < count; ++b) {
    const math::Philox4 r = math::philox(seed, first + b);
    for (int l = 0; l < 4; ++l) lanes[l * kBlocksPerBatch + b] = r.v[l];
  }
}
}  // namespace

void CpuBackend::dropout_forward(const Tensor& x, double rate, Tensor& generator, Tensor& mask,
                                 Tensor& y) {
  const int64_t n = mask.numel();
  auto [seed, offset] = take_counters(generator, n);
  const uint64_t threshold = math::dropout_threshold(rate);
  const bool broadcast = n != x.numel();
  dispatch_float(x.dtype(), "dropout", [&](auto zero) {
    using T = decltype(zero);
    const T scale = static_cast<T>(1.0 / (1.0 - rate));
    const T* xp = x.data<T>();
    T* mp = mask.data<T>();
    T* yp = y.data<T>();
    const uint64_t seed_ = seed, offset_ = offset;
    // Compared in 32 bits so the loop vectorises; a threshold of 2^32 (rate within 2^-32
    // of 1) keeps nothing.
    const bool keeps_none = threshold > 0xFFFFFFFFull;
    const uint32_t threshold_32 = keeps_none ? 0u : uint32_t(threshold);
    const int64_t batches = num_chunks(num_chunks(n, 4), kBlocksPerBatch);
    parallel_for(batches, 16, [&](int64_t b0, int64_t b1) {
      uint32_t lanes[4 * kBlocksPerBatch];
      for (int64_t batch = b0; batch < b1; ++batch) {
        const int64_t first = batch * kBlocksPerBatch;
        const int64_t count = std::min(kBlocksPerBatch, num_chunks(n, 4) - first);
        philox_lanes(seed_, offset_ + first, count, lanes);
        // Local pointers: through the lambda's captures the compiler would reload them
        // after every store.
        const int64_t begin = first * 4, size = std::min(n - begin, count * 4);
        const uint32_t keep_from = threshold_32;
        const T keep_scale = keeps_none ? T(0) : scale;
        T* m = mp + begin;
        for (int64_t j = 0; j < size; ++j)
          m[j] = T(lanes[(j & 3) * kBlocksPerBatch + (j >> 2)] >= keep_from) * keep_scale;
        if (broadcast) continue;
        const T* xs = xp + begin;
        T* ys = yp + begin;
        for (int64_t j = 0; j < size; ++j) ys[j] = xs[j] * m[j];
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
