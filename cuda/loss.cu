// Losses, per sample (csrc/cpu/loss.cpp's counterpart): pred (N, C) with N all leading dims;
// the loss of row r is written to loss[r]. Elementwise losses average over C as Keras does;
// cross-entropies sum over classes. Backward scales each row's gradient by gloss[r].
//
// Row sums use one warp per row: the lanes stride over the row's columns and their partial
// sums combine in a fixed shuffle order, so every run gives the same bits (not the CPU's
// order: the two agree up to rounding).
#include "cuda/common.cuh"
#include "math/exp.h"
#include "math/loss.h"

namespace fastnn {

namespace {

constexpr int kWarp = 32;
constexpr int kRowsPerBlock = cuda::kThreads / kWarp;
constexpr unsigned kAllLanes = 0xffffffffu;

// Blocks for a warp-per-row kernel over N rows (the kernels loop over the rest).
unsigned row_blocks(int64_t N) {
  return cuda::blocks_for(N, kRowsPerBlock);
}

// Sum over the warp, the same total in every lane: each butterfly step adds the same two
// values in both lanes of a pair, and addition commutes.
template <class T>
__device__ T warp_sum(T v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(kAllLanes, v, offset);
  return v;
}

// Max over the warp, lane 0's result given to every lane (max of +0 and -0, or with a NaN,
// may depend on the operands' order: broadcasting keeps the lanes in agreement).
template <class T>
__device__ T warp_max(T v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    T other = __shfl_down_sync(kAllLanes, v, offset);
    v = other > v ? other : v;
  }
  return __shfl_sync(kAllLanes, v, 0);
}

__host__ __device__ bool is_sparse(LossKind kind) {
  return kind == LossKind::SparseCategoricalCrossentropy ||
         kind == LossKind::SparseCategoricalCrossentropyLogits;
}

// Where kernels report labels out of range (core/backend.h: kernel_errors).
struct ErrorSink {
  int64_t* errors;
  const int64_t* source;
};

// The class label of row r as loss.cpp's checked_label reads it (integer targets as they
// are, float ones through math::float_label), or -1 with `bad` the value to report.
__device__ int64_t label_of(const void* target, DType dtype, int64_t r, int64_t C, int64_t& bad) {
  int64_t y;
  switch (dtype) {
    case DType::Int64:
      y = static_cast<const int64_t*>(target)[r];
      break;
    case DType::Int32:
      y = static_cast<const int32_t*>(target)[r];
      break;
    case DType::Bool:
      y = static_cast<const bool*>(target)[r] ? 1 : 0;
      break;
    case DType::Float32:
      return math::float_label(static_cast<const float*>(target)[r], C, bad);
    default:
      return math::float_label(static_cast<const double*>(target)[r], C, bad);
  }
  if (y >= 0 && y < C) return y;
  bad = y;
  return -1;
}

// The row's label, or -1 for a bad one, which lane 0 reports (once per row, as the CPU
// kernel reports once per row, forward and backward alike). Every lane reads the label.
__device__ int64_t checked_row_label(const void* target, DType dtype, int64_t r, int64_t C,
                                     ErrorSink sink) {
  int64_t bad = -1;
  int64_t y = label_of(target, dtype, r, C, bad);
  if (y < 0 && threadIdx.x % kWarp == 0)
    cuda::report_out_of_range(sink.errors, sink.source, r, bad, C);
  return y;
}

// Elementwise losses' term and derivative by kind (math/loss.h).
template <LossKind Kind, class T>
__device__ T elementwise_term(T p, T t) {
  if constexpr (Kind == LossKind::MeanSquared) return math::squared_error(p, t);
  if constexpr (Kind == LossKind::MeanAbsolute) return math::absolute_error(p, t);
  if constexpr (Kind == LossKind::BinaryCrossentropy) return math::binary_crossentropy(p, t);
  if constexpr (Kind == LossKind::BinaryCrossentropyLogits)
    return math::binary_crossentropy_logits(p, t);
  return T(0);
}
template <LossKind Kind, class T>
__device__ T elementwise_term_grad(T p, T t) {
  if constexpr (Kind == LossKind::MeanSquared) return math::squared_error_grad(p, t);
  if constexpr (Kind == LossKind::MeanAbsolute) return math::absolute_error_grad(p, t);
  if constexpr (Kind == LossKind::BinaryCrossentropy) return math::binary_crossentropy_grad(p, t);
  if constexpr (Kind == LossKind::BinaryCrossentropyLogits)
    return math::binary_crossentropy_logits_grad(p, t);
  return T(0);
}

// pred, target (N, C) -> loss (N): the mean over the row of the elementwise term. A warp
// per row.
template <LossKind Kind, class T>
__global__ void elementwise_loss_forward_kernel(const T* pred, const T* target, T* loss,
                                                int64_t N, int64_t C) {
  const int lane = threadIdx.x % kWarp;
  for (int64_t r = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.x / kWarp; r < N;
       r += int64_t(gridDim.x) * kRowsPerBlock) {
    const T* p = pred + r * C;  // seek to row r
    const T* t = target + r * C;
    T sum = 0;
    for (int64_t c = lane; c < C; c += kWarp) sum += elementwise_term<Kind>(p[c], t[c]);
    sum = warp_sum(sum);
    if (lane == 0) loss[r] = sum / T(C);
  }
}

template <LossKind Kind, class T>
void elementwise_loss_forward(cudaStream_t stream, const Tensor& pred, const Tensor& target,
                              Tensor& loss, int64_t N, int64_t C) {
  elementwise_loss_forward_kernel<Kind, T><<<row_blocks(N), cuda::kThreads, 0, stream>>>(
      pred.data<T>(), target.data<T>(), loss.data<T>(), N, C);
  FASTNN_CUDA_CHECK_LAUNCH();
}

// gpred (N, C) = gloss[r] / C * the term's derivative: a thread per element.
template <LossKind Kind, class T>
void elementwise_loss_backward(cudaStream_t stream, const Tensor& pred, const Tensor& target,
                               const Tensor& gloss, Tensor& gpred, int64_t N, int64_t C) {
  const T* p = pred.data<T>();
  const T* t = target.data<T>();
  const T* gl = gloss.data<T>();
  T* gp = gpred.data<T>();
  cuda::for_each(stream, N * C, [=] __device__(int64_t i) {
    T scale = gl[i / C] / T(C);
    gp[i] = scale * elementwise_term_grad<Kind>(p[i], t[i]);
  });
}

// The row's max m and ls = log(sum_c exp(x_c - m)), the same in every lane.
template <class T>
__device__ void row_log_sum_exp(const T* x, int64_t C, T& m, T& ls) {
  const int lane = threadIdx.x % kWarp;
  T lane_max = x[0];
  for (int64_t c = lane; c < C; c += kWarp) lane_max = x[c] > lane_max ? x[c] : lane_max;
  m = warp_max(lane_max);
  T sum = 0;
  for (int64_t c = lane; c < C; c += kWarp) sum += math::vexp(x[c] - m);
  ls = log(warp_sum(sum));
}

// The row's sum, the same in every lane.
template <class T>
__device__ T row_sum(const T* x, int64_t C) {
  T sum = 0;
  for (int64_t c = threadIdx.x % kWarp; c < C; c += kWarp) sum += x[c];
  return warp_sum(sum);
}

// The cross-entropies, pred (N, C) -> loss (N). target: (N, C) of T for the categorical
// kinds, (N) labels of label_dtype for the sparse ones (NaN loss for a bad label). A warp
// per row; `kind` is the same for the whole launch, so the switch does not diverge.
template <class T>
__global__ void crossentropy_forward_kernel(LossKind kind, const T* pred, const void* target,
                                            DType label_dtype, T* loss, int64_t N, int64_t C,
                                            ErrorSink sink) {
  const int lane = threadIdx.x % kWarp;
  const bool sparse = is_sparse(kind);
  const T* t_all = static_cast<const T*>(target);
  for (int64_t r = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.x / kWarp; r < N;
       r += int64_t(gridDim.x) * kRowsPerBlock) {
    const T* x = pred + r * C;  // seek to pred[r, :]
    const T* t = sparse ? nullptr : t_all + r * C;  // target[r, :] of the categorical kinds
    T out = 0;
    switch (kind) {
      case LossKind::CategoricalCrossentropyLogits: {
        T m, ls, sum = 0;
        row_log_sum_exp(x, C, m, ls);
        for (int64_t c = lane; c < C; c += kWarp)
          if (t[c] != T(0)) sum += math::softmax_crossentropy(x[c], t[c], m, ls);
        out = warp_sum(sum);
        break;
      }
      case LossKind::CategoricalCrossentropy: {
        T s = row_sum(x, C), sum = 0;
        for (int64_t c = lane; c < C; c += kWarp)
          if (t[c] != T(0)) sum += math::probability_crossentropy(x[c], t[c], s);
        out = warp_sum(sum);
        break;
      }
      case LossKind::SparseCategoricalCrossentropyLogits: {
        int64_t y = checked_row_label(target, label_dtype, r, C, sink);
        if (y < 0) {
          out = T(NAN);
          break;
        }
        T m, ls;
        row_log_sum_exp(x, C, m, ls);
        out = math::softmax_crossentropy(x[y], T(1), m, ls);
        break;
      }
      case LossKind::SparseCategoricalCrossentropy: {
        int64_t y = checked_row_label(target, label_dtype, r, C, sink);
        if (y < 0) {
          out = T(NAN);
          break;
        }
        out = math::probability_crossentropy(x[y], T(1), row_sum(x, C));
        break;
      }
      default:
        break;
    }
    if (lane == 0) loss[r] = out;
  }
}

// Their gradients: gpred (N, C) from gloss (N), as the forward (a zero row for a bad label).
template <class T>
__global__ void crossentropy_backward_kernel(LossKind kind, const T* pred, const void* target,
                                             DType label_dtype, const T* gloss, T* gpred,
                                             int64_t N, int64_t C, ErrorSink sink) {
  const int lane = threadIdx.x % kWarp;
  const bool sparse = is_sparse(kind);
  const T* t_all = static_cast<const T*>(target);
  for (int64_t r = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.x / kWarp; r < N;
       r += int64_t(gridDim.x) * kRowsPerBlock) {
    const T* x = pred + r * C;
    const T* t = sparse ? nullptr : t_all + r * C;  // target[r, :] of the categorical kinds
    T* g = gpred + r * C;
    const T scale = gloss[r];
    switch (kind) {
      case LossKind::CategoricalCrossentropyLogits: {
        // d/dx_c = sum(t) softmax_c - t_c
        T m, ls;
        row_log_sum_exp(x, C, m, ls);
        const T t_sum = row_sum(t, C);
        for (int64_t c = lane; c < C; c += kWarp)
          g[c] = scale * math::softmax_crossentropy_grad(x[c], t[c], m, ls, t_sum);
        break;
      }
      case LossKind::CategoricalCrossentropy: {
        const T s = row_sum(x, C);
        T tu = 0;  // the targets of the classes whose probability is not clipped
        for (int64_t c = lane; c < C; c += kWarp)
          if (!math::probability_clipped(x[c] / s)) tu += t[c];
        tu = warp_sum(tu);
        for (int64_t c = lane; c < C; c += kWarp)
          g[c] = math::probability_crossentropy_grad(x[c], t[c], s, tu, scale);
        break;
      }
      case LossKind::SparseCategoricalCrossentropyLogits: {
        int64_t y = checked_row_label(target, label_dtype, r, C, sink);
        if (y < 0) {
          for (int64_t c = lane; c < C; c += kWarp) g[c] = T(0);
          break;
        }
        T m, ls;
        row_log_sum_exp(x, C, m, ls);
        for (int64_t c = lane; c < C; c += kWarp) {
          T v = scale * math::softmax_from_shifted(x[c], m, ls);
          g[c] = c == y ? v - scale : v;
        }
        break;
      }
      case LossKind::SparseCategoricalCrossentropy: {
        int64_t y = checked_row_label(target, label_dtype, r, C, sink);
        if (y < 0) {
          for (int64_t c = lane; c < C; c += kWarp) g[c] = T(0);
          break;
        }
        const T s = row_sum(x, C);
        // The one-hot target's sum over the unclipped classes: 1 or 0.
        const T tu = math::probability_clipped(x[y] / s) ? T(0) : T(1);
        for (int64_t c = lane; c < C; c += kWarp)
          g[c] = math::probability_crossentropy_grad(x[c], c == y ? T(1) : T(0), s, tu, scale);
        break;
      }
      default:
        break;
    }
  }
}

// Where a sparse loss's kernels report bad labels (only they need it).
ErrorSink error_sink(LossKind kind, Device device) {
  if (!is_sparse(kind)) return {nullptr, nullptr};
  return {kernel_errors(device).data<int64_t>(), kernel_error_source(device).data<int64_t>()};
}

template <class T>
void loss_forward_typed(cudaStream_t stream, LossKind kind, const Tensor& pred,
                        const Tensor& target, Tensor& loss) {
  const int64_t C = pred.dim() == 0 ? 1 : pred.shape().back();
  const int64_t N = C == 0 ? 0 : pred.numel() / C;
  if (N == 0) return;
  switch (kind) {
    case LossKind::MeanSquared:
      return elementwise_loss_forward<LossKind::MeanSquared, T>(stream, pred, target, loss, N, C);
    case LossKind::MeanAbsolute:
      return elementwise_loss_forward<LossKind::MeanAbsolute, T>(stream, pred, target, loss, N, C);
    case LossKind::BinaryCrossentropy:
      return elementwise_loss_forward<LossKind::BinaryCrossentropy, T>(stream, pred, target, loss,
                                                                      N, C);
    case LossKind::BinaryCrossentropyLogits:
      return elementwise_loss_forward<LossKind::BinaryCrossentropyLogits, T>(stream, pred, target,
                                                                            loss, N, C);
    default:
      break;
  }
  crossentropy_forward_kernel<T><<<row_blocks(N), cuda::kThreads, 0, stream>>>(
      kind, pred.data<T>(), target.raw(), target.dtype(), loss.data<T>(), N, C,
      error_sink(kind, pred.device()));
  FASTNN_CUDA_CHECK_LAUNCH();
}

template <class T>
void loss_backward_typed(cudaStream_t stream, LossKind kind, const Tensor& pred,
                         const Tensor& target, const Tensor& gloss, Tensor& gpred) {
  const int64_t C = pred.dim() == 0 ? 1 : pred.shape().back();
  const int64_t N = C == 0 ? 0 : pred.numel() / C;
  if (N == 0) return;
  switch (kind) {
    case LossKind::MeanSquared:
      return elementwise_loss_backward<LossKind::MeanSquared, T>(stream, pred, target, gloss,
                                                                gpred, N, C);
    case LossKind::MeanAbsolute:
      return elementwise_loss_backward<LossKind::MeanAbsolute, T>(stream, pred, target, gloss,
                                                                 gpred, N, C);
    case LossKind::BinaryCrossentropy:
      return elementwise_loss_backward<LossKind::BinaryCrossentropy, T>(stream, pred, target,
                                                                       gloss, gpred, N, C);
    case LossKind::BinaryCrossentropyLogits:
      return elementwise_loss_backward<LossKind::BinaryCrossentropyLogits, T>(
          stream, pred, target, gloss, gpred, N, C);
    default:
      break;
  }
  crossentropy_backward_kernel<T><<<row_blocks(N), cuda::kThreads, 0, stream>>>(
      kind, pred.data<T>(), target.raw(), target.dtype(), gloss.data<T>(), gpred.data<T>(), N, C,
      error_sink(kind, pred.device()));
  FASTNN_CUDA_CHECK_LAUNCH();
}

// index_crossentropy (PyTorch's cross_entropy with class indices; cpu/loss.cpp has the same
// per-row order: max, log-sum-exp, then the weight sums). A warp per row.

// The row's class, -1 when ignored, -2 when bad (lane 0 reports it, as checked_row_label).
__device__ int64_t index_label(const void* target, DType dtype, int64_t r, int64_t C,
                               int64_t ignore_index, ErrorSink sink) {
  const int64_t y = dtype == DType::Int64 ? static_cast<const int64_t*>(target)[r]
                                          : static_cast<const int32_t*>(target)[r];
  if (y == ignore_index) return -1;
  if (y >= 0 && y < C) return y;
  if (threadIdx.x % kWarp == 0) cuda::report_out_of_range(sink.errors, sink.source, r, y, C);
  return -2;
}

// W = sum_c w_c and wx = sum_c w_c x_c over the row (w null: all 1).
template <class T>
__device__ void row_weight_sums(const T* x, const T* w, int64_t C, T& W, T& wx) {
  W = 0, wx = 0;
  for (int64_t c = threadIdx.x % kWarp; c < C; c += kWarp) {
    const T wc = w ? w[c] : T(1);
    W += wc;
    wx += wc * x[c];
  }
  W = warp_sum(W);
  wx = warp_sum(wx);
}

template <class T>
__global__ void index_crossentropy_forward_kernel(const T* x, const void* target, DType dtype,
                                                  const T* w, int64_t ignore_index, T s, T* loss,
                                                  T* row_weight, int64_t R, int64_t C,
                                                  ErrorSink sink) {
  const int lane = threadIdx.x % kWarp;
  for (int64_t r = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.x / kWarp; r < R;
       r += int64_t(gridDim.x) * kRowsPerBlock) {
    const int64_t y = index_label(target, dtype, r, C, ignore_index, sink);
    if (y < 0) {
      if (lane == 0) {
        loss[r] = y == -1 ? T(0) : T(NAN);
        row_weight[r] = 0;
      }
      continue;
    }
    const T* row = x + r * C;
    T m, ls, W, wx;
    row_log_sum_exp(row, C, m, ls);
    row_weight_sums(row, w, C, W, wx);
    if (lane == 0) {
      const T w_y = w ? w[y] : T(1);
      row_weight[r] = w_y;
      loss[r] = math::index_crossentropy(row[y], w_y, m + ls, W, s != T(0) ? wx : T(0), s, T(C));
    }
  }
}

template <class T>
__global__ void index_crossentropy_backward_kernel(const T* x, const void* target, DType dtype,
                                                   const T* w, int64_t ignore_index, T s,
                                                   const T* gloss, T* gx, int64_t R, int64_t C,
                                                   ErrorSink sink) {
  const int lane = threadIdx.x % kWarp;
  for (int64_t r = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.x / kWarp; r < R;
       r += int64_t(gridDim.x) * kRowsPerBlock) {
    T* out = gx + r * C;
    const int64_t y = index_label(target, dtype, r, C, ignore_index, sink);
    if (y < 0) {
      for (int64_t c = lane; c < C; c += kWarp) out[c] = T(0);
      continue;
    }
    const T* row = x + r * C;
    T m, ls, W, wx;
    row_log_sum_exp(row, C, m, ls);
    row_weight_sums(row, w, C, W, wx);
    const T w_y = w ? w[y] : T(1), g = gloss[r];
    for (int64_t c = lane; c < C; c += kWarp)
      out[c] = g * math::index_crossentropy_grad(math::softmax_from_shifted(row[c], m, ls), c == y,
                                                 w_y, w ? w[c] : T(1), W, s, T(C));
  }
}

template <class T>
void index_crossentropy_forward_typed(cudaStream_t stream, const Tensor& x, const Tensor& target,
                                      const Tensor& weight, int64_t ignore_index, double s,
                                      Tensor& loss, Tensor& row_weight) {
  const int64_t R = x.size(0), C = x.size(1);
  if (R == 0) return;
  index_crossentropy_forward_kernel<T><<<row_blocks(R), cuda::kThreads, 0, stream>>>(
      x.data<T>(), target.raw(), target.dtype(), weight.defined() ? weight.data<T>() : nullptr,
      ignore_index, T(s), loss.data<T>(), row_weight.data<T>(), R, C,
      error_sink(LossKind::SparseCategoricalCrossentropyLogits, x.device()));
  FASTNN_CUDA_CHECK_LAUNCH();
}

template <class T>
void index_crossentropy_backward_typed(cudaStream_t stream, const Tensor& x, const Tensor& target,
                                       const Tensor& weight, int64_t ignore_index, double s,
                                       const Tensor& gloss, Tensor& gx) {
  const int64_t R = x.size(0), C = x.size(1);
  if (R == 0) return;
  index_crossentropy_backward_kernel<T><<<row_blocks(R), cuda::kThreads, 0, stream>>>(
      x.data<T>(), target.raw(), target.dtype(), weight.defined() ? weight.data<T>() : nullptr,
      ignore_index, T(s), gloss.data<T>(), gx.data<T>(), R, C,
      error_sink(LossKind::SparseCategoricalCrossentropyLogits, x.device()));
  FASTNN_CUDA_CHECK_LAUNCH();
}

}  // namespace

void CudaBackend::index_crossentropy_forward(const Tensor& x, const Tensor& target,
                                             const Tensor& weight, int64_t ignore_index,
                                             double smoothing, Tensor& loss, Tensor& row_weight) {
  auto& dev = state(x.device());
  FASTNN_FLOAT_CALL(x.dtype(), "cross_entropy", index_crossentropy_forward_typed, dev.stream, x,
                    target, weight, ignore_index, smoothing, loss, row_weight);
}

void CudaBackend::index_crossentropy_backward(const Tensor& x, const Tensor& target,
                                              const Tensor& weight, int64_t ignore_index,
                                              double smoothing, const Tensor& gloss, Tensor& gx) {
  auto& dev = state(x.device());
  FASTNN_FLOAT_CALL(x.dtype(), "cross_entropy backward", index_crossentropy_backward_typed,
                    dev.stream, x, target, weight, ignore_index, smoothing, gloss, gx);
}

void CudaBackend::loss_forward(LossKind kind, const Tensor& pred, const Tensor& target,
                               Tensor& loss) {
  auto& dev = state(pred.device());
  FASTNN_FLOAT_CALL(pred.dtype(), "loss", loss_forward_typed, dev.stream, kind, pred, target, loss);
}

void CudaBackend::loss_backward(LossKind kind, const Tensor& pred, const Tensor& target,
                                const Tensor& gloss, Tensor& gpred) {
  auto& dev = state(pred.device());
  FASTNN_FLOAT_CALL(pred.dtype(), "loss backward", loss_backward_typed, dev.stream, kind, pred,
                    target, gloss, gpred);
}

}  // namespace fastnn
