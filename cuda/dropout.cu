// Dropout, inverted (csrc/cpu/dropout.cpp's counterpart): x (any shape), mask (x's rank, each
// dim x's or 1) holding 1 / (1 - rate) where kept and 0 where dropped, y = x * mask. Mask
// element i keeps when lane i % 4 of the Philox block at counter offset + i / 4 is >=
// math::dropout_threshold(rate): the CPU's mask for the same generator state, bit for bit.
// The generator advances by mask.numel(), as on the CPU.
#include "cuda/common.cuh"
#include "math/random.h"

namespace fastnn {

namespace {

// mask (n) from the generator {seed, offset}, and y = x * mask when x (n) has the mask's
// shape (x and y null otherwise: the caller broadcasts). A thread per Philox block: four
// consecutive elements.
template <class T>
void dropout_mask(cudaStream_t stream, double rate, const Tensor& generator, Tensor& mask,
                  const T* x, T* y) {
  const int64_t n = mask.numel();
  const uint64_t threshold = math::dropout_threshold(rate);
  // Compared in 32 bits as the CPU does; a threshold of 2^32 (rate within 2^-32 of 1)
  // keeps nothing.
  const bool keeps_none = threshold > 0xFFFFFFFFull;
  const uint32_t keep_from = keeps_none ? 0u : static_cast<uint32_t>(threshold);
  const T keep_scale = keeps_none ? T(0) : static_cast<T>(1.0 / (1.0 - rate));
  const uint64_t* g = generator.data<uint64_t>();
  T* m = mask.data<T>();
  cuda::for_each(stream, (n + 3) / 4, [=] __device__(int64_t block) {
    const math::Philox4 r = math::philox(g[0], g[1] + static_cast<uint64_t>(block));
    const int64_t begin = block * 4;
#pragma unroll
    for (int lane = 0; lane < 4; ++lane) {
      const int64_t i = begin + lane;
      if (i >= n) break;
      const T keep = T(r.v[lane] >= keep_from) * keep_scale;
      m[i] = keep;
      if (y != nullptr) y[i] = x[i] * keep;
    }
  });
}

template <class T>
void dropout_forward_typed(cudaStream_t stream, const Tensor& x, double rate,
                           const Tensor& generator, Tensor& mask, Tensor& y, bool broadcast) {
  dropout_mask<T>(stream, rate, generator, mask, broadcast ? nullptr : x.data<T>(),
                  broadcast ? nullptr : y.data<T>());
}

// gx = gy * mask, all (n): a thread per element.
template <class T>
void dropout_backward_typed(cudaStream_t stream, const Tensor& gy, const Tensor& mask,
                            Tensor& gx) {
  const T* g = gy.data<T>();
  const T* m = mask.data<T>();
  T* out = gx.data<T>();
  cuda::for_each(stream, gy.numel(), [=] __device__(int64_t i) { out[i] = g[i] * m[i]; });
}

}  // namespace

void CudaBackend::dropout_forward(const Tensor& x, double rate, Tensor& generator, Tensor& mask,
                                  Tensor& y) {
  auto& dev = state(x.device());
  const int64_t n = mask.numel();
  const bool broadcast = n != x.numel();
  FASTNN_FLOAT_CALL(x.dtype(), "dropout", dropout_forward_typed, dev.stream, x, rate, generator,
                    mask, y, broadcast);
  cuda::advance_generator(dev.stream, generator, n);
  // A broadcast mask (noise_shape, SpatialDropout) multiplies as the CPU's does.
  if (broadcast) binary_forward(BinaryOp::Mul, x, mask, y);
}

void CudaBackend::dropout_backward(const Tensor& gy, const Tensor& mask, Tensor& gx) {
  if (mask.numel() != gy.numel()) {
    binary_forward(BinaryOp::Mul, gy, mask, gx);
    return;
  }
  auto& dev = state(gx.device());
  FASTNN_FLOAT_CALL(gy.dtype(), "dropout backward", dropout_backward_typed, dev.stream, gy, mask,
                    gx);
}

}  // namespace fastnn
