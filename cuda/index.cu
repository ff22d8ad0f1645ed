// Strided selections (permute, slices with steps, expand) and index writes of the tensor API
// (csrc/cpu/index.cpp's counterpart), for any dtype: elements move as 1-, 4- or 8-byte
// words, one thread per element.
#include <cstdint>

#include "cuda/common.cuh"

namespace fastnn {
namespace {

using cuda::for_each;

int64_t layout_numel(const StridedLayout& L) {
  int64_t n = 1;
  for (int d = 0; d < L.dims; ++d) n *= L.shape[d];
  return n;
}

// Where element e (row-major over L's shape) of the selection lies in the source.
__device__ __forceinline__ int64_t position(const StridedLayout& L, int64_t e) {
  int64_t at = L.offset;
  for (int d = L.dims - 1; d >= 0; --d) {
    const int64_t n = L.shape[d], q = e / n;
    at += (e - q * n) * L.stride[d];
    e = q;
  }
  return at;
}

template <class Word>
void strided_copy_words(cudaStream_t stream, const Tensor& x, const StridedLayout& L,
                        Tensor& out) {
  const Word* xp = static_cast<const Word*>(x.raw());
  Word* op = static_cast<Word*>(out.raw());
  for_each(stream, layout_numel(L), [=] __device__(int64_t e) { op[e] = xp[position(L, e)]; });
}

template <class Word>
void strided_assign_words(cudaStream_t stream, const Tensor& src, const StridedLayout& L,
                          Tensor& dst) {
  const Word* sp = static_cast<const Word*>(src.raw());
  Word* dp = static_cast<Word*>(dst.raw());
  // Positions do not repeat (the contract): no two threads write one element.
  for_each(stream, layout_numel(L), [=] __device__(int64_t e) { dp[position(L, e)] = sp[e]; });
}

// Rows index[i] of out = rows i of src, the last i winning where an index repeats (the CPU
// writes in order): pass one marks each target row with its largest i (+1) by atomicMax,
// pass two lets only that i write. Deterministic, parallel over the elements.
template <class Word>
void index_assign_words(cudaStream_t stream, const Tensor& src, const Tensor& index, Tensor& out,
                        unsigned long long* owner, int64_t limit, int64_t* errors,
                        const int64_t* source) {
  const Word* sp = static_cast<const Word*>(src.raw());
  Word* op = static_cast<Word*>(out.raw());
  const int64_t* ip = index.data<int64_t>();
  const int64_t n = index.numel(), row = limit ? out.numel() / limit : 0;
  for_each(stream, n, [=] __device__(int64_t i) {
    const int64_t k = ip[i];
    if (k < 0 || k >= limit) {
      cuda::report_out_of_range(errors, source, i, k, limit);
      return;
    }
    atomicMax(owner + k, static_cast<unsigned long long>(i + 1));
  });
  const int64_t step = row > 0 ? row : 1;
  for_each(stream, n * step, [=] __device__(int64_t e) {
    const int64_t i = e / step, c = e - i * step;
    const int64_t k = ip[i];
    if (k < 0 || k >= limit || c >= row) return;
    if (owner[k] == static_cast<unsigned long long>(i + 1)) op[k * row + c] = sp[i * row + c];
  });
}

template <class T>
void arange_typed(cudaStream_t stream, Tensor& out, double start, double step) {
  T* op = out.data<T>();
  for_each(stream, out.numel(), [=] __device__(int64_t i) {
    op[i] = static_cast<T>(start + static_cast<double>(i) * step);
  });
}

}  // namespace

void CudaBackend::strided_copy(const Tensor& x, const StridedLayout& L, Tensor& out) {
  if (layout_numel(L) == 0) return;
  auto& dev = state(out.device());
  FASTNN_WORD_CALL(x.dtype(), strided_copy_words, dev.stream, x, L, out);
}

void CudaBackend::strided_assign(const Tensor& src, const StridedLayout& L, Tensor& dst) {
  if (layout_numel(L) == 0) return;
  auto& dev = state(dst.device());
  FASTNN_WORD_CALL(dst.dtype(), strided_assign_words, dev.stream, src, L, dst);
}

void CudaBackend::index_assign_rows(const Tensor& src, const Tensor& index, Tensor& out) {
  if (index.numel() == 0) return;
  auto& dev = state(out.device());
  const int64_t limit = out.dim() ? out.size(0) : 0;
  // The owner of each target row, zeroed on the stream (scratch from the pool).
  Tensor owner = Tensor::empty({limit > 0 ? limit : 1}, DType::Int64, out.device());
  FASTNN_CUDA_CHECK(cudaMemsetAsync(owner.raw(), 0, owner.nbytes(), dev.stream));
  int64_t* errors = kernel_errors(out.device()).data<int64_t>();
  const int64_t* source = kernel_error_source(out.device()).data<int64_t>();
  FASTNN_WORD_CALL(out.dtype(), index_assign_words, dev.stream, src, index, out,
                         owner.data<unsigned long long>(), limit, errors, source);
}

void CudaBackend::arange_fill(Tensor& out, double start, double step) {
  if (out.numel() == 0) return;
  auto& dev = state(out.device());
  FASTNN_ANY_CALL(out.dtype(), arange_typed, dev.stream, out, start, step);
}

}  // namespace fastnn
