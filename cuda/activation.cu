// Activations, the dense epilogue (bias + activation in one pass) and softmax
// (csrc/cpu/activation.cpp's counterpart). N = rows (all leading dims), C = the last axis.
// The per-element math is csrc/math/activation.h's, through cuda/activation_dispatch.cuh.
#include "cuda/activation_dispatch.cuh"
#include "cuda/common.cuh"
#include "math/exp.h"

namespace fastnn {
namespace {

using cuda::for_each;

// y (any shape) = act(x), one thread per element.
template <class T, Activation A>
void activation_forward_launch(cudaStream_t stream, T alpha, const T* x, T* y, int64_t n) {
  for_each(stream, n, [=] __device__(int64_t i) { y[i] = cuda::activate<A>(x[i], alpha); });
}

template <class T>
void activation_forward_typed(cudaStream_t stream, Activation act, double alpha, const Tensor& x,
                              Tensor& y) {
  FASTNN_ACTIVATION_CALL(act, activation_forward_launch, T, stream, static_cast<T>(alpha),
                         x.data<T>(), y.data<T>(), x.numel());
}

// gx (any shape) = gy * act'(x, y), one thread per element.
template <class T, Activation A>
void activation_backward_launch(cudaStream_t stream, T alpha, const T* x, const T* y, const T* gy,
                                T* gx, int64_t n) {
  for_each(stream, n, [=] __device__(int64_t i) {
    gx[i] = gy[i] * cuda::activation_grad<A>(x[i], y[i], alpha);
  });
}

template <class T>
void activation_backward_typed(cudaStream_t stream, Activation act, double alpha, const Tensor& x,
                               const Tensor& y, const Tensor& gy, Tensor& gx) {
  // Only GELU reads x and only the others read y; point the undefined one at gy.
  const T* xp = x.defined() ? x.data<T>() : gy.data<T>();
  const T* yp = y.defined() ? y.data<T>() : gy.data<T>();
  FASTNN_ACTIVATION_CALL(act, activation_backward_launch, T, stream, static_cast<T>(alpha), xp, yp,
                         gy.data<T>(), gx.data<T>(), gy.numel());
}

// y (N, C) = act(y + bias) in place, bias (C) or null; z (N, C), when not null, gets the
// pre-activation y + bias. One thread per element.
template <class T, Activation A>
void bias_activation_launch(cudaStream_t stream, T alpha, const T* bias, T* y, T* z, int64_t n,
                            int64_t C) {
  for_each(stream, n, [=] __device__(int64_t i) {
    T v = y[i];
    if (bias) v += bias[i % C];
    if (z) z[i] = v;
    y[i] = cuda::activate<A>(v, alpha);
  });
}

template <class T>
void bias_activation_typed(cudaStream_t stream, Activation act, double alpha, const Tensor& bias,
                           Tensor& y, Tensor& z) {
  const int64_t C = y.dim() == 0 ? 1 : y.shape().back();
  if (C == 0) return;
  FASTNN_ACTIVATION_CALL(act, bias_activation_launch, T, stream, static_cast<T>(alpha),
                         bias.defined() ? bias.data<T>() : nullptr, y.data<T>(),
                         z.defined() ? z.data<T>() : nullptr, y.numel(), C);
}

// --- softmax ---------------------------------------------------------------------------------
//
// One row per warp for rows of up to kWarpRowLimit columns, else one row per block. The
// threads of a row's group take columns lane, lane + width, ... and combine their partial
// max and sum in a fixed order (shuffles, block_sum), so results do not vary run to run.

constexpr int kSoftmaxThreads = 256;
constexpr int64_t kWarpRowLimit = 1024;

// Sum and max over a warp by butterfly: every lane ends with the same value (each step adds
// the same two numbers on both lanes of a pair, and addition commutes exactly).
template <class T>
__device__ T warp_sum(T v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}
template <class T>
__device__ T warp_max(T v) {
  for (int offset = 16; offset > 0; offset /= 2)
    v = max(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// Where a thread sits: its row group (a warp or the block), its lane in it, the group's
// width, and the first row and row stride of the group's grid-stride loop. A group's
// threads always share the row, so the loop exits together (shuffles and __syncthreads
// need every thread of the group).
template <bool kWarp>
struct RowGroup {
  int lane, width;
  int64_t first_row, row_stride;
  __device__ RowGroup() {
    if constexpr (kWarp) {
      const int64_t warps = blockDim.x / 32;
      lane = threadIdx.x % 32;
      width = 32;
      first_row = blockIdx.x * warps + threadIdx.x / 32;
      row_stride = gridDim.x * warps;
    } else {
      lane = threadIdx.x;
      width = blockDim.x;
      first_row = blockIdx.x;
      row_stride = gridDim.x;
    }
  }
  template <class T>
  __device__ T sum(T v, T* shared) const {
    if constexpr (kWarp)
      return warp_sum(v);
    else
      return cuda::block_sum(v, shared);
  }
  template <class T>
  __device__ T max_of(T v, T* shared) const {
    if constexpr (kWarp)
      return warp_max(v);
    else
      return cuda::block_max(v, shared);
  }
};

// y (N, C) = softmax or log_softmax of x (N, C) over C, as the CPU: the row's max
// subtracted before exp, the sum of exp(x - max) in T.
template <class T, bool kWarp>
__global__ void softmax_forward_kernel(int64_t N, int64_t C, bool log, const T* x, T* y) {
  __shared__ T shared[32];
  const RowGroup<kWarp> g;
  for (int64_t r = g.first_row; r < N; r += g.row_stride) {
    const T* xr = x + r * C;  // seek to x[r, :]
    T* yr = y + r * C;
    T mx = xr[0];
    for (int64_t c = g.lane; c < C; c += g.width) mx = max(mx, xr[c]);
    mx = g.max_of(mx, shared);
    T sum = 0;
    for (int64_t c = g.lane; c < C; c += g.width) sum += math::vexp(xr[c] - mx);
    sum = g.sum(sum, shared);
    if (log) {
      const T log_sum = math::log(sum);
      for (int64_t c = g.lane; c < C; c += g.width)
        yr[c] = math::log_softmax_value(xr[c], mx, log_sum);
    } else {
      const T inv = T(1) / sum;
      for (int64_t c = g.lane; c < C; c += g.width) yr[c] = math::softmax_value(xr[c], mx, inv);
    }
  }
}

// gx (N, C) from y and gy (N, C): softmax's y * (gy - sum(gy * y)), log_softmax's
// gy - exp(y) * sum(gy), the sums over the row.
template <class T, bool kWarp>
__global__ void softmax_backward_kernel(int64_t N, int64_t C, bool log, const T* y, const T* gy,
                                        T* gx) {
  __shared__ T shared[32];
  const RowGroup<kWarp> g;
  for (int64_t r = g.first_row; r < N; r += g.row_stride) {
    const T* yr = y + r * C;  // seek to row r
    const T* gr = gy + r * C;
    T* out = gx + r * C;
    T dot = 0;
    if (log) {
      for (int64_t c = g.lane; c < C; c += g.width) dot += gr[c];
    } else {
      for (int64_t c = g.lane; c < C; c += g.width) dot += gr[c] * yr[c];
    }
    dot = g.sum(dot, shared);
    if (log) {
      for (int64_t c = g.lane; c < C; c += g.width)
        out[c] = math::log_softmax_grad(yr[c], gr[c], dot);
    } else {
      for (int64_t c = g.lane; c < C; c += g.width) out[c] = math::softmax_grad(yr[c], gr[c], dot);
    }
  }
}

// Rows of x (the last axis is the row).
void rows_and_columns(const Tensor& x, int64_t& N, int64_t& C) {
  C = x.dim() == 0 ? 1 : x.shape().back();
  N = C == 0 ? 0 : x.numel() / C;
}

template <class T>
void softmax_forward_typed(cudaStream_t stream, bool log, const Tensor& x, Tensor& y) {
  int64_t N = 0, C = 0;
  rows_and_columns(x, N, C);
  if (N == 0) return;
  if (C <= kWarpRowLimit) {
    const unsigned blocks = cuda::blocks_for(N, kSoftmaxThreads / 32);
    softmax_forward_kernel<T, true>
        <<<blocks, kSoftmaxThreads, 0, stream>>>(N, C, log, x.data<T>(), y.data<T>());
  } else {
    const unsigned blocks = cuda::blocks_for(N, 1);
    softmax_forward_kernel<T, false>
        <<<blocks, kSoftmaxThreads, 0, stream>>>(N, C, log, x.data<T>(), y.data<T>());
  }
  FASTNN_CUDA_CHECK_LAUNCH();
}

template <class T>
void softmax_backward_typed(cudaStream_t stream, bool log, const Tensor& y, const Tensor& gy,
                            Tensor& gx) {
  int64_t N = 0, C = 0;
  rows_and_columns(y, N, C);
  if (N == 0) return;
  if (C <= kWarpRowLimit) {
    const unsigned blocks = cuda::blocks_for(N, kSoftmaxThreads / 32);
    softmax_backward_kernel<T, true><<<blocks, kSoftmaxThreads, 0, stream>>>(
        N, C, log, y.data<T>(), gy.data<T>(), gx.data<T>());
  } else {
    const unsigned blocks = cuda::blocks_for(N, 1);
    softmax_backward_kernel<T, false><<<blocks, kSoftmaxThreads, 0, stream>>>(
        N, C, log, y.data<T>(), gy.data<T>(), gx.data<T>());
  }
  FASTNN_CUDA_CHECK_LAUNCH();
}

}  // namespace

void CudaBackend::activation_forward(Activation act, double alpha, const Tensor& x, Tensor& y) {
  auto& dev = state(y.device());
  FASTNN_FLOAT_CALL(x.dtype(), "activation", activation_forward_typed, dev.stream, act, alpha, x,
                    y);
}

void CudaBackend::activation_backward(Activation act, double alpha, const Tensor& x,
                                      const Tensor& y, const Tensor& gy, Tensor& gx) {
  auto& dev = state(gx.device());
  FASTNN_FLOAT_CALL(gy.dtype(), "activation backward", activation_backward_typed, dev.stream, act,
                    alpha, x, y, gy, gx);
}

void CudaBackend::bias_activation_forward(Activation act, double alpha, const Tensor& bias,
                                          Tensor& y, Tensor& z) {
  auto& dev = state(y.device());
  FASTNN_FLOAT_CALL(y.dtype(), "dense", bias_activation_typed, dev.stream, act, alpha, bias, y, z);
}

void CudaBackend::softmax_forward(bool log, const Tensor& x, Tensor& y) {
  auto& dev = state(y.device());
  FASTNN_FLOAT_CALL(x.dtype(), log ? "log_softmax" : "softmax", softmax_forward_typed, dev.stream,
                    log, x, y);
}

void CudaBackend::softmax_backward(bool log, const Tensor& y, const Tensor& gy, Tensor& gx) {
  auto& dev = state(gx.device());
  FASTNN_FLOAT_CALL(y.dtype(), log ? "log_softmax backward" : "softmax backward",
                    softmax_backward_typed, dev.stream, log, y, gy, gx);
}

}  // namespace fastnn
