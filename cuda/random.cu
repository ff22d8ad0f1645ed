// Random fills from Philox (csrc/cpu/random.cpp's counterpart): element i of out uses the
// Philox block at counter offset + i, with (seed, offset) read from the generator tensor on
// the device, so the values are the CPU's for the same generator state, and a replayed plan
// draws the next numbers. advance_generator then moves the offset past the draw.
#include "cuda/common.cuh"
#include "math/random.h"

namespace fastnn {

namespace cuda {

namespace {
// generator (int64 {seed, offset}): offset += count. One thread.
__global__ void advance_generator_kernel(uint64_t* generator, uint64_t count) {
  generator[1] += count;
}
}  // namespace

void advance_generator(cudaStream_t stream, Tensor& generator, int64_t count) {
  if (count == 0) return;
  advance_generator_kernel<<<1, 1, 0, stream>>>(generator.data<uint64_t>(),
                                                static_cast<uint64_t>(count));
  FASTNN_CUDA_CHECK_LAUNCH();
}

}  // namespace cuda

namespace {

// out (n) uniform in [low, high): a thread per element.
template <class T>
void uniform_fill(cudaStream_t stream, Tensor& out, double low, double high,
                  const Tensor& generator) {
  T* p = out.data<T>();
  const uint64_t* g = generator.data<uint64_t>();  // {seed, offset}
  cuda::for_each(stream, out.numel(), [=] __device__(int64_t i) {
    p[i] = math::uniform_value<T>(math::philox(g[0], g[1] + static_cast<uint64_t>(i)), low, high);
  });
}

// out (n) normal(mean, stddev): a thread per element.
template <class T>
void normal_fill(cudaStream_t stream, Tensor& out, double mean, double stddev,
                 const Tensor& generator) {
  T* p = out.data<T>();
  const uint64_t* g = generator.data<uint64_t>();
  cuda::for_each(stream, out.numel(), [=] __device__(int64_t i) {
    p[i] = math::normal_value<T>(math::philox(g[0], g[1] + static_cast<uint64_t>(i)), mean,
                                 stddev);
  });
}

}  // namespace

void CudaBackend::random_uniform(Tensor& out, double low, double high, Tensor& generator) {
  auto& dev = state(out.device());
  FASTNN_FLOAT_CALL(out.dtype(), "uniform", uniform_fill, dev.stream, out, low, high, generator);
  cuda::advance_generator(dev.stream, generator, out.numel());
}

void CudaBackend::random_normal(Tensor& out, double mean, double stddev, Tensor& generator) {
  auto& dev = state(out.device());
  FASTNN_FLOAT_CALL(out.dtype(), "normal", normal_fill, dev.stream, out, mean, stddev, generator);
  cuda::advance_generator(dev.stream, generator, out.numel());
}

}  // namespace fastnn
