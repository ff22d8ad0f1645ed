// Batch normalisation over the last axis (csrc/cpu/norm.cpp's counterpart): x (R rows, C
// channels), gamma, beta, moving statistics, mean and invstd all (C). The per-element and
// per-channel formulas are math/norm.h's, shared with the CPU.
//
// Per-channel sums are taken in double, as the CPU takes them, in two fixed levels: a first
// kernel sums fixed chunks of rows (their boundaries depend on R only) into a partial sum per
// (chunk, channel), a second adds the chunks in order, one thread per channel. So results do
// not depend on the launch, and the float rounding differs from the CPU's only by the order
// of double additions. The first level reads x coalesced: a block covers 32 adjacent channels
// (threadIdx.x) of a chunk, its 8 row lanes (threadIdx.y) taking every 8th row.
//
// Scratch: the partial sums and the batch mean in double (and the backward's per-channel
// means) are device tensors allocated per call from the stream-ordered pool.
#include "cuda/common.cuh"
#include "math/norm.h"

namespace fastnn {

namespace {

constexpr int kChannelTile = 32;  // channels per block of the first level (threadIdx.x)
constexpr int kRowLanes = 8;      // rows summed side by side in a block (threadIdx.y)
// Rows per chunk: at least kMinChunkRows, and few enough chunks (kMaxChunks) that the
// second level's loop over them stays short.
constexpr int64_t kMinChunkRows = 256;
constexpr int64_t kMaxChunks = 1024;

// What the first level sums per channel: the values (the mean's sum), the squared deviations
// from the batch mean (the variance's), or gy and gy * xhat (the backward's two sums).
enum class ChannelSum { Values, SquaredDeviations, Gradients };

template <ChannelSum kind>
constexpr int sums_per_channel = kind == ChannelSum::Gradients ? 2 : 1;

struct Chunks {
  int64_t rows, count;  // rows per chunk, chunks
};
Chunks row_chunks(int64_t R) {
  const int64_t rows = std::max(kMinChunkRows, (R + kMaxChunks - 1) / kMaxChunks);
  return {rows, (R + rows - 1) / rows};
}

// partial (chunks, K, C), K = sums_per_channel<kind>: partial[b, k, c] = the double sum over
// chunk b's rows of channel c's k-th term. x and gy (R, C); center (C, double): the batch
// mean (SquaredDeviations); mean, invstd (C): the forward's (Gradients). Grid (channel
// tiles, chunks, a grid-stride loop over chunks beyond the grid), block (32, 8).
template <ChannelSum kind, class T>
__global__ void channel_partial_sums(const T* x, const T* gy, const double* center, const T* mean,
                                     const T* invstd, int64_t R, int64_t C, Chunks chunks,
                                     double* partial) {
  constexpr int K = sums_per_channel<kind>;
  __shared__ double lanes[K][kRowLanes][kChannelTile];
  const int64_t c = blockIdx.x * int64_t(kChannelTile) + threadIdx.x;
  for (int64_t chunk = blockIdx.y; chunk < chunks.count; chunk += gridDim.y) {
    double sum[K] = {};
    if (c < C) {
      const int64_t end = std::min(R, (chunk + 1) * chunks.rows);
      for (int64_t r = chunk * chunks.rows + threadIdx.y; r < end; r += kRowLanes) {
        const T v = x[r * C + c];
        if constexpr (kind == ChannelSum::Values) {
          sum[0] += v;
        } else if constexpr (kind == ChannelSum::SquaredDeviations) {
          sum[0] += math::squared_deviation(v, center[c]);
        } else {
          const T g = gy[r * C + c];
          sum[0] += g;
          sum[1] += math::batch_norm_gy_xhat(g, v, mean[c], invstd[c]);
        }
      }
    }
    for (int k = 0; k < K; ++k) lanes[k][threadIdx.y][threadIdx.x] = sum[k];
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
      for (int k = 0; k < K; ++k) {
        double total = 0;
        for (int lane = 0; lane < kRowLanes; ++lane) total += lanes[k][lane][threadIdx.x];
        partial[(chunk * K + k) * C + c] = total;
      }
    }
    __syncthreads();  // lanes is refilled for the next chunk
  }
}

// Launches the first level into a new (chunks, K, C) double tensor.
template <ChannelSum kind, class T>
Tensor partial_sums(cudaStream_t stream, const T* x, const T* gy, const double* center,
                    const T* mean, const T* invstd, int64_t R, int64_t C, Chunks chunks,
                    Device device) {
  constexpr int K = sums_per_channel<kind>;
  Tensor partial = Tensor::empty({chunks.count * K * C}, DType::Float64, device);
  const dim3 grid(static_cast<unsigned>((C + kChannelTile - 1) / kChannelTile),
                  static_cast<unsigned>(std::min<int64_t>(chunks.count, 65535)));
  const dim3 block(kChannelTile, kRowLanes);
  channel_partial_sums<kind, T><<<grid, block, 0, stream>>>(x, gy, center, mean, invstd, R, C,
                                                            chunks, partial.data<double>());
  FASTNN_CUDA_CHECK_LAUNCH();
  return partial;
}

// The second level for channel c: the sum over chunks, in order, of partial[b, k, c].
__device__ inline double chunk_total(const double* partial, int64_t chunks, int K, int k,
                                     int64_t C, int64_t c) {
  double total = 0;
  for (int64_t b = 0; b < chunks; ++b) total += partial[(b * K + k) * C + c];
  return total;
}

// Training: mean and invstd (C) from the batch, moving statistics updated in place.
// Inference: mean and invstd from the moving statistics. Then y = (x - mean) * invstd *
// gamma + beta, one thread per element; gamma, beta undefined (nullptr) mean 1 and 0.
template <class T>
void batch_norm_forward_values(cudaStream_t stream, bool training, double momentum,
                               double epsilon, bool unbiased_moving_variance, const Tensor& x, const Tensor& gamma,
                               const Tensor& beta, Tensor& moving_mean, Tensor& moving_variance,
                               Tensor& mean, Tensor& invstd, Tensor& y) {
  const int64_t C = x.shape().back(), R = C > 0 ? x.numel() / C : 0;
  const T* xp = x.data<T>();
  T* mp = mean.data<T>();
  T* ip = invstd.data<T>();
  T* mmp = moving_mean.data<T>();
  T* mvp = moving_variance.data<T>();
  if (training) {
    // Two passes (mean, then squared deviations) as the CPU, not E[x^2] - E[x]^2.
    const Chunks chunks = row_chunks(R);
    Tensor sums = partial_sums<ChannelSum::Values, T>(stream, xp, nullptr, nullptr, nullptr,
                                                      nullptr, R, C, chunks, x.device());
    Tensor batch_mean = Tensor::empty({C}, DType::Float64, x.device());
    const double* sp = sums.data<double>();
    double* bmp = batch_mean.data<double>();
    cuda::for_each(stream, C, [=] __device__(int64_t c) {
      bmp[c] = chunk_total(sp, chunks.count, 1, 0, C, c) / double(R);
    });
    Tensor squares = partial_sums<ChannelSum::SquaredDeviations, T>(
        stream, xp, nullptr, bmp, nullptr, nullptr, R, C, chunks, x.device());
    const double* qp = squares.data<double>();
    cuda::for_each(stream, C, [=] __device__(int64_t c) {
      const double squared = chunk_total(qp, chunks.count, 1, 0, C, c);
      const double variance = squared / double(R);
      mp[c] = static_cast<T>(bmp[c]);
      ip[c] = static_cast<T>(math::batch_norm_invstd(variance, epsilon));
      mmp[c] = static_cast<T>(math::moving_average(momentum, mmp[c], bmp[c]));
      mvp[c] = static_cast<T>(math::moving_average(
          momentum, mvp[c],
          math::moving_variance_sample(squared, R, unbiased_moving_variance)));
    });
  } else {
    cuda::for_each(stream, C, [=] __device__(int64_t c) {
      mp[c] = mmp[c];
      ip[c] = static_cast<T>(math::batch_norm_invstd(double(mvp[c]), epsilon));
    });
  }
  const T* gp = gamma.defined() ? gamma.data<T>() : nullptr;
  const T* bp = beta.defined() ? beta.data<T>() : nullptr;
  T* yp = y.data<T>();
  cuda::for_each(stream, R * C, [=] __device__(int64_t i) {
    const int64_t c = i % C;
    const T scale = ip[c] * (gp ? gp[c] : T(1));
    const T shift = bp ? bp[c] : T(0);
    yp[i] = math::batch_norm_apply(xp[i], mp[c], scale, shift);
  });
}

// gbeta = sum gy, ggamma = sum gy * xhat (C), and gx (R, C): training differentiates through
// the batch statistics too (math::batch_norm_input_grad). Each output undefined when not
// wanted.
template <class T>
void batch_norm_backward_values(cudaStream_t stream, bool training, const Tensor& x,
                                const Tensor& gamma, const Tensor& mean, const Tensor& invstd,
                                const Tensor& gy, Tensor& gx, Tensor& ggamma, Tensor& gbeta) {
  const int64_t C = x.shape().back(), R = C > 0 ? x.numel() / C : 0;
  const T* xp = x.data<T>();
  const T* gyp = gy.data<T>();
  const T* mp = mean.data<T>();
  const T* ip = invstd.data<T>();
  // means (2, C): mean(gy) and mean(gy * xhat) for gx, zero in inference.
  Tensor means;
  const T* meansp = nullptr;
  if (training || ggamma.defined() || gbeta.defined()) {
    const Chunks chunks = row_chunks(R);
    Tensor sums = partial_sums<ChannelSum::Gradients, T>(stream, xp, gyp, nullptr, mp, ip, R, C,
                                                         chunks, x.device());
    const double* sp = sums.data<double>();
    T* gbp = gbeta.defined() ? gbeta.data<T>() : nullptr;
    T* ggp = ggamma.defined() ? ggamma.data<T>() : nullptr;
    T* mnp = nullptr;
    if (training && gx.defined()) {
      means = Tensor::empty({2 * C}, x.dtype(), x.device());
      mnp = means.data<T>();
      meansp = mnp;
    }
    cuda::for_each(stream, C, [=] __device__(int64_t c) {
      const double sum_gy = chunk_total(sp, chunks.count, 2, 0, C, c);
      const double sum_gy_xhat = chunk_total(sp, chunks.count, 2, 1, C, c);
      if (gbp) gbp[c] = static_cast<T>(sum_gy);
      if (ggp) ggp[c] = static_cast<T>(sum_gy_xhat);
      if (mnp) {
        mnp[c] = static_cast<T>(sum_gy / double(R));
        mnp[C + c] = static_cast<T>(sum_gy_xhat / double(R));
      }
    });
  }
  if (!gx.defined()) return;
  const T* gp = gamma.defined() ? gamma.data<T>() : nullptr;
  T* gxp = gx.data<T>();
  cuda::for_each(stream, R * C, [=] __device__(int64_t i) {
    const int64_t c = i % C;
    const T scale = (gp ? gp[c] : T(1)) * ip[c];
    const T mean_gy = meansp ? meansp[c] : T(0);
    const T mean_gy_xhat = meansp ? meansp[C + c] : T(0);
    gxp[i] = math::batch_norm_input_grad(gyp[i], xp[i], mp[c], ip[c], scale, mean_gy,
                                         mean_gy_xhat);
  });
}

}  // namespace

void CudaBackend::batch_norm_forward(bool training, double momentum, double epsilon,
                                     bool unbiased_moving_variance, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                     Tensor& moving_mean, Tensor& moving_variance, Tensor& mean,
                                     Tensor& invstd, Tensor& y) {
  auto& dev = state(y.device());
  FASTNN_FLOAT_CALL(x.dtype(), "batch_norm", batch_norm_forward_values, dev.stream, training,
                    momentum, epsilon, unbiased_moving_variance, x, gamma, beta, moving_mean, moving_variance, mean, invstd,
                    y);
}

void CudaBackend::batch_norm_backward(bool training, const Tensor& x, const Tensor& gamma,
                                      const Tensor& mean, const Tensor& invstd, const Tensor& gy,
                                      Tensor& gx, Tensor& ggamma, Tensor& gbeta) {
  auto& dev = state(x.device());
  FASTNN_FLOAT_CALL(x.dtype(), "batch_norm backward", batch_norm_backward_values, dev.stream,
                    training, x, gamma, mean, invstd, gy, gx, ggamma, gbeta);
}

}  // namespace fastnn
