// Running totals of a training epoch, kept on the device so replayed steps never read a
// value back (csrc/cpu/metrics.cpp's counterpart): the loss (with the first non-finite step)
// and accuracy metrics summed over samples. N = samples, C = the last axis.
#include <cmath>

#include "cuda/common.cuh"

namespace fastnn {

namespace {

constexpr int kWarp = 32;
constexpr unsigned kAllLanes = 0xffffffffu;
// The accuracy kernel is one block (its sum has one fixed order) with a warp per row.
constexpr int kAccuracyThreads = 1024;

// Element i of a tensor of any dtype as a double (targets may come as ints or floats), as
// the CPU's value_of.
__device__ double value_at(const void* data, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::Float32:
      return static_cast<const float*>(data)[i];
    case DType::Float64:
      return static_cast<const double*>(data)[i];
    case DType::Int32:
      return static_cast<const int32_t*>(data)[i];
    case DType::Int64:
      return static_cast<double>(static_cast<const int64_t*>(data)[i]);
    case DType::Bool:
      return static_cast<const bool*>(data)[i] ? 1.0 : 0.0;
  }
  return 0;
}

// numpy's argmax over value(0 .. C-1) as the CPU computes it (best = 0; c replaces best
// when value(c) > value(best)): the first index of the largest non-NaN value, and 0 when
// value(0) is NaN. The lanes stride over the row keeping their first largest value; the
// butterfly keeps the larger value, the smaller index on ties, so all lanes agree.
template <class F>
__device__ int64_t warp_argmax(F value, int64_t C) {
  double best = 0;
  int64_t at = -1;  // no candidate yet (NaNs never are)
  for (int64_t c = threadIdx.x % kWarp; c < C; c += kWarp) {
    double v = value(c);
    if (v == v && (at < 0 || v > best)) {
      best = v;
      at = c;
    }
  }
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    double other = __shfl_xor_sync(kAllLanes, best, offset);
    long long other_at = __shfl_xor_sync(kAllLanes, static_cast<long long>(at), offset);
    if (other_at >= 0 && (at < 0 || other > best || (other == best && other_at < at))) {
      best = other;
      at = other_at;
    }
  }
  double first = value(0);
  return first != first || at < 0 ? 0 : at;
}

// Sum over the warp, the same total in every lane.
__device__ double warp_sum(double v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(kAllLanes, v, offset);
  return v;
}

// total[0] += the sum over rows of pred (N, C) of each row's accuracy against target (any
// dtype: (N) labels, or (N, C) one-hot or 0/1 values). One block: warp w takes rows w, w +
// 32, ..., its lane 0 sums their accuracies in row order, then block_sum adds the warps'
// sums in a fixed order. Per-row accuracies are the CPU's exactly; only the order of the
// total's additions differs (the counts of the categorical kinds are exact either way).
template <class T>
__global__ void accuracy_kernel(AccuracyKind kind, double threshold, const T* pred,
                                const void* target, DType target_dtype, int64_t N, int64_t C,
                                double* total) {
  __shared__ double shared[32];
  const int lane = threadIdx.x % kWarp, warps = blockDim.x / kWarp;
  double warp_total = 0;
  for (int64_t r = threadIdx.x / kWarp; r < N; r += warps) {
    const T* row = pred + r * C;  // seek to pred[r, :]
    auto pred_at = [row](int64_t c) { return static_cast<double>(row[c]); };
    double accuracy = 0;
    switch (kind) {
      case AccuracyKind::SparseCategorical:
        accuracy = value_at(target, target_dtype, r) ==
                           static_cast<double>(warp_argmax(pred_at, C))
                       ? 1.0
                       : 0.0;
        break;
      case AccuracyKind::Categorical: {
        auto target_at = [=](int64_t c) { return value_at(target, target_dtype, r * C + c); };
        accuracy = warp_argmax(target_at, C) == warp_argmax(pred_at, C) ? 1.0 : 0.0;
        break;
      }
      case AccuracyKind::Binary: {
        double hits = 0;  // a count: exact in any order
        for (int64_t c = lane; c < C; c += kWarp)
          hits += (static_cast<double>(row[c]) > threshold ? 1.0 : 0.0) ==
                          value_at(target, target_dtype, r * C + c)
                      ? 1.0
                      : 0.0;
        accuracy = warp_sum(hits) / static_cast<double>(C);
        break;
      }
    }
    warp_total += accuracy;
  }
  double sum = cuda::block_sum(lane == 0 ? warp_total : 0.0, shared);
  if (threadIdx.x == 0) total[0] += sum;
}

template <class T>
void accuracy_typed(cudaStream_t stream, AccuracyKind kind, double threshold, const Tensor& pred,
                    const Tensor& target, Tensor& total) {
  const int64_t C = pred.dim() == 0 ? 1 : pred.shape().back();
  const int64_t N = C == 0 ? 0 : pred.numel() / C;
  if (N == 0) return;  // total += 0
  accuracy_kernel<T><<<1, kAccuracyThreads, 0, stream>>>(kind, threshold, pred.data<T>(),
                                                         target.raw(), target.dtype(), N, C,
                                                         total.data<double>());
  FASTNN_CUDA_CHECK_LAUNCH();
}

// totals {sum, first non-finite step or -1, steps} += one step's loss (loss[0], any dtype)
// times weight. One thread.
__global__ void loss_accumulate_kernel(const void* loss, DType dtype, double weight,
                                       double* totals) {
  double value = value_at(loss, dtype, 0);
  if (!std::isfinite(value) && totals[1] < 0) totals[1] = totals[2];
  totals[0] += weight * value;
  totals[2] += 1;
}

}  // namespace

void CudaBackend::loss_accumulate(const Tensor& loss, double weight, Tensor& totals) {
  auto& dev = state(totals.device());
  loss_accumulate_kernel<<<1, 1, 0, dev.stream>>>(loss.raw(), loss.dtype(), weight,
                                                  totals.data<double>());
  FASTNN_CUDA_CHECK_LAUNCH();
}

void CudaBackend::accuracy_accumulate(AccuracyKind kind, double threshold, const Tensor& pred,
                                      const Tensor& target, Tensor& total) {
  auto& dev = state(total.device());
  FASTNN_FLOAT_CALL(pred.dtype(), "accuracy", accuracy_typed, dev.stream, kind, threshold, pred,
                    target, total);
}

}  // namespace fastnn
