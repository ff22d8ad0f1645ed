// Launch and error helpers shared by the CUDA kernels: every kernel file includes this.
//
// Kernels are grid-stride loops launched on the device's stream (CudaDeviceState::stream);
// their per-element bodies are device lambdas that call the shared math in csrc/math. nvcc
// allows no device lambda inside a generic lambda, so a kernel for both float types is a
// function template called through float_call (not dispatch_float's `auto zero`).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "core/backend.h"
#include "core/error.h"
#include "cuda/backend_cuda.h"

namespace fastnn::cuda {

// RuntimeError naming the failed call and CUDA's own words.
[[noreturn]] void fail_cuda(cudaError_t error, const char* call, const char* file, int line);
[[noreturn]] void fail_cublas(cublasStatus_t status, const char* call, const char* file, int line);

#define FASTNN_CUDA_CHECK(call)                                                   \
  do {                                                                            \
    cudaError_t fastnn_cuda_error_ = (call);                                      \
    if (fastnn_cuda_error_ != cudaSuccess)                                        \
      ::fastnn::cuda::fail_cuda(fastnn_cuda_error_, #call, __FILE__, __LINE__);   \
  } while (0)
#define FASTNN_CUBLAS_CHECK(call)                                                 \
  do {                                                                            \
    cublasStatus_t fastnn_cublas_status_ = (call);                                \
    if (fastnn_cublas_status_ != CUBLAS_STATUS_SUCCESS)                           \
      ::fastnn::cuda::fail_cublas(fastnn_cublas_status_, #call, __FILE__, __LINE__); \
  } while (0)
// After a <<<...>>> launch: a bad configuration surfaces here, not at the next sync.
#define FASTNN_CUDA_CHECK_LAUNCH() FASTNN_CUDA_CHECK(cudaGetLastError())

// The backend (registered by memory.cu) and the state of `device`, made current.
CudaBackend& backend();
inline CudaDeviceState& state_of(const Tensor& t) {
  return backend().state(t.device());
}

constexpr int kThreads = 256;
// Blocks for a grid-stride loop over n elements: enough to fill the GPU, no more than the
// work needs (the loop covers the rest).
inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  return static_cast<unsigned>(std::clamp<int64_t>((n + threads - 1) / threads, 1, 1 << 16));
}

template <class F>
__global__ void for_each_kernel(int64_t n, F f) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(blockDim.x) * gridDim.x)
    f(i);
}

// f(i) for i in [0, n) on the stream: the elementwise kernel of most ops.
template <class F>
void for_each(cudaStream_t stream, int64_t n, F f) {
  if (n <= 0) return;
  for_each_kernel<<<blocks_for(n), kThreads, 0, stream>>>(n, f);
  FASTNN_CUDA_CHECK_LAUNCH();
}

// run<float>() or run<double>() by a float dtype; TypeError for any other.
#define FASTNN_FLOAT_CALL(dtype, who, fn, ...)                                         \
  do {                                                                                  \
    switch (dtype) {                                                                    \
      case ::fastnn::DType::Float32:                                                    \
        fn<float>(__VA_ARGS__);                                                         \
        break;                                                                          \
      case ::fastnn::DType::Float64:                                                    \
        fn<double>(__VA_ARGS__);                                                        \
        break;                                                                          \
      default:                                                                          \
        ::fastnn::fail(::fastnn::ErrorKind::Type, who,                                  \
                       ": expected a float32 or float64 tensor, got ",                  \
                       ::fastnn::dtype_name(dtype));                                    \
    }                                                                                   \
  } while (0)

// fn<Word>(args...) with Word the unsigned integer of the dtype's size: kernels that only move
// elements (concat, slices, gathers, strided copies) work on any dtype as words.
#define FASTNN_WORD_CALL(dtype, fn, ...)                \
  do {                                                  \
    if (::fastnn::dtype_size(dtype) == 1)               \
      fn<uint8_t>(__VA_ARGS__);                         \
    else if (::fastnn::dtype_size(dtype) == 4)          \
      fn<uint32_t>(__VA_ARGS__);                        \
    else                                                \
      fn<uint64_t>(__VA_ARGS__);                        \
  } while (0)

// run<T>() with T the C++ type of any dtype (bool for Bool): kernels of the tensor API.
#define FASTNN_ANY_CALL(dtype, fn, ...)          \
  do {                                            \
    switch (dtype) {                              \
      case ::fastnn::DType::Float32:              \
        fn<float>(__VA_ARGS__);                   \
        break;                                    \
      case ::fastnn::DType::Float64:              \
        fn<double>(__VA_ARGS__);                  \
        break;                                    \
      case ::fastnn::DType::Int32:                \
        fn<int32_t>(__VA_ARGS__);                 \
        break;                                    \
      case ::fastnn::DType::Int64:                \
        fn<int64_t>(__VA_ARGS__);                 \
        break;                                    \
      case ::fastnn::DType::Bool:                 \
        fn<bool>(__VA_ARGS__);                    \
        break;                                    \
    }                                             \
  } while (0)

// The same without Bool (TypeError naming `who`).
#define FASTNN_NUMERIC_CALL(dtype, who, fn, ...)                                      \
  do {                                                                                 \
    switch (dtype) {                                                                   \
      case ::fastnn::DType::Float32:                                                   \
        fn<float>(__VA_ARGS__);                                                        \
        break;                                                                         \
      case ::fastnn::DType::Float64:                                                   \
        fn<double>(__VA_ARGS__);                                                       \
        break;                                                                         \
      case ::fastnn::DType::Int32:                                                     \
        fn<int32_t>(__VA_ARGS__);                                                      \
        break;                                                                         \
      case ::fastnn::DType::Int64:                                                     \
        fn<int64_t>(__VA_ARGS__);                                                      \
        break;                                                                         \
      default:                                                                         \
        ::fastnn::fail(::fastnn::ErrorKind::Type, who, ": expected a numeric tensor, got bool"); \
    }                                                                                  \
  } while (0)

// combine(a, b) of v over the block (blockDim.x a multiple of 32, at most 1024), in a fixed
// order (warp shuffles, then the warps' results in warp order), so results are
// deterministic; every thread gets the total. `shared` holds 32 values. In the second round
// the lanes past the last warp take idle(shared), a value that leaves the total unchanged.
template <class T, class Combine, class Idle>
__device__ T block_reduce(T v, T* shared, Combine combine, Idle idle) {
  for (int offset = 16; offset > 0; offset /= 2)
    v = combine(v, __shfl_down_sync(0xffffffffu, v, offset));
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  __syncthreads();  // shared may still be read by a previous call
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  const int warps = blockDim.x / 32;
  v = lane < warps ? shared[lane] : idle(shared);
  if (warp == 0)
    for (int offset = 16; offset > 0; offset /= 2)
      v = combine(v, __shfl_down_sync(0xffffffffu, v, offset));
  if (threadIdx.x == 0) shared[0] = v;
  __syncthreads();
  return shared[0];
}

// Sum of v over the block (block_reduce); idle lanes add 0.
template <class T>
__device__ T block_sum(T v, T* shared) {
  return block_reduce(
      v, shared, [](T a, T b) { return a + b; }, [](const T*) { return T(0); });
}

// Max of v over the block (block_reduce); idle lanes repeat warp 0's value, which max
// absorbs, so no infinity of T is needed.
template <class T>
__device__ T block_max(T v, T* shared) {
  return block_reduce(
      v, shared, [](T a, T b) { return max(a, b); }, [](const T* s) { return s[0]; });
}

// The device side of report_out_of_range (core/backend.h): the first kernel to find a bad
// label or index writes {count, row, value, limit, source} into the device's kernel_errors
// tensor; later ones only count. errors = kernel_errors(device).data<int64_t>(), source =
// kernel_error_source(device).data<int64_t>().
__device__ inline void report_out_of_range(int64_t* errors, const int64_t* source, int64_t row,
                                           int64_t value, int64_t limit) {
  auto* count = reinterpret_cast<unsigned long long*>(errors);
  if (atomicAdd(count, 1ull) == 0) {
    errors[1] = row;
    errors[2] = value;
    errors[3] = limit;
    errors[4] = source[0];
  }
}

// Random draws keep the generator (int64 {seed, offset}, core/rng.h) on the device, so a
// replayed graph draws new numbers: a drawing kernel reads seed and offset there, and
// advance_generator (random.cu), launched right after it on the same stream, adds `count` to
// the offset with one thread.
void advance_generator(cudaStream_t stream, Tensor& generator, int64_t count);

}  // namespace fastnn::cuda
