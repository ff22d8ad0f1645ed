// Concatenation, slicing along an axis, row gathers and scatters (batch indexing,
// Embedding) and the index query (csrc/cpu/shape.cpp's counterpart). A tensor of shape
// (outer, axis, inner) is addressed as x[o, a, i] = x[(o * axis + a) * inner + i]. Moves
// are of any dtype: elements are copied as 1-, 4- or 8-byte words.
#include <algorithm>
#include <cstdint>

#include "cuda/common.cuh"

namespace fastnn {
namespace {

using cuda::for_each;

int64_t inner_size(const Shape& s, int64_t axis) {
  int64_t n = 1;
  for (size_t d = axis + 1; d < s.size(); ++d) n *= s[d];
  return n;
}

// out (outer, out_cols) gets input k's (outer, in_cols) at columns [at, at + in_cols),
// cols = size along the axis * inner; one launch per input, one thread per input element.
template <class Word>
void concat_words(cudaStream_t stream, const std::vector<Tensor>& inputs, int64_t axis,
                  int64_t inner, int64_t out_cols, Tensor& out) {
  Word* op = static_cast<Word*>(out.raw());
  int64_t at = 0;
  for (const Tensor& in : inputs) {
    const int64_t in_cols = in.shape()[axis] * inner;
    const Word* ip = static_cast<const Word*>(in.raw());
    for_each(stream, in.numel(), [=] __device__(int64_t i) {
      const int64_t o = i / in_cols, c = i - o * in_cols;
      op[o * out_cols + at + c] = ip[i];
    });
    at += in_cols;
  }
}

// out (outer, out_cols) = x (outer, x_cols) from column `first`; one thread per element of out.
template <class Word>
void slice_words(cudaStream_t stream, const Tensor& x, int64_t x_cols, int64_t first,
                 int64_t out_cols, Tensor& out) {
  const Word* xp = static_cast<const Word*>(x.raw());
  Word* op = static_cast<Word*>(out.raw());
  for_each(stream, out.numel(), [=] __device__(int64_t i) {
    const int64_t o = i / out_cols, c = i - o * out_cols;
    op[i] = xp[o * x_cols + first + c];
  });
}

// out (n, row) = x[index[i]] (x (limit, row)); one thread per element of out. An index out
// of [0, limit) (one the host never checked, in a replay) is reported once, by its row's
// first thread, and its row is zeros. With empty rows there is still one thread per index,
// to check it, as the CPU does.
template <class Word, class Index>
void take_rows_launch(cudaStream_t stream, const Word* x, const Index* index, int64_t n,
                      int64_t row, int64_t limit, Word* out, int64_t* errors,
                      const int64_t* source) {
  const int64_t step = std::max<int64_t>(row, 1);
  for_each(stream, n * step, [=] __device__(int64_t e) {
    const int64_t i = e / step, c = e - i * step;
    const int64_t k = static_cast<int64_t>(index[i]);
    if (k >= 0 && k < limit) {
      if (c < row) out[e] = x[k * row + c];
    } else {
      if (c == 0) cuda::report_out_of_range(errors, source, i, k, limit);
      if (c < row) out[e] = Word(0);
    }
  });
}

template <class Word>
void take_rows_words(cudaStream_t stream, const Tensor& x, const Tensor& index, Tensor& out,
                     int64_t* errors, const int64_t* source) {
  const int64_t row = inner_size(x.shape(), 0), limit = x.dim() ? x.size(0) : 0;
  const Word* xp = static_cast<const Word*>(x.raw());
  Word* op = static_cast<Word*>(out.raw());
  if (index.dtype() == DType::Int32)
    take_rows_launch(stream, xp, index.data<int32_t>(), index.numel(), row, limit, op, errors,
                     source);
  else
    take_rows_launch(stream, xp, index.data<int64_t>(), index.numel(), row, limit, op, errors,
                     source);
}

// out (limit, row) += g[i] at row index[i], for i in order. Deterministic without float
// atomics: output row k belongs to bucket k % buckets, and thread (bucket b, column c)
// walks the whole index list in order, adding the rows of its bucket at column c. Each
// output element has one owner that adds in index order, so the result does not depend on
// the number of buckets (a power of two: enough threads to fill the GPU even for short
// rows, no more buckets than output rows). Every thread reads every index: cheap, as a
// warp's threads read the same one. A bad index is reported once (thread 0) and skipped.
constexpr int64_t kScatterThreads = int64_t(1) << 15;
constexpr int64_t kMaxBuckets = 1024;

template <class T, class Index>
void scatter_add_launch(cudaStream_t stream, const T* g, const Index* index, int64_t n,
                        int64_t row, int64_t limit, T* out, int64_t* errors,
                        const int64_t* source) {
  const int64_t step = std::max<int64_t>(row, 1);
  int64_t buckets = 1;
  while (buckets * step < kScatterThreads && buckets * 2 <= limit && buckets < kMaxBuckets)
    buckets *= 2;
  const uint64_t mask = static_cast<uint64_t>(buckets - 1);
  for_each(stream, buckets * step, [=] __device__(int64_t t) {
    const int64_t bucket = t / step, c = t - bucket * step;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t k = static_cast<int64_t>(index[i]);
      if (k < 0 || k >= limit) {
        if (t == 0) cuda::report_out_of_range(errors, source, i, k, limit);
        continue;
      }
      if ((static_cast<uint64_t>(k) & mask) != static_cast<uint64_t>(bucket) || c >= row) continue;
      out[k * row + c] += g[i * row + c];
    }
  });
}

template <class T>
void scatter_add_typed(cudaStream_t stream, const Tensor& g, const Tensor& index, Tensor& out,
                       int64_t* errors, const int64_t* source) {
  const int64_t row = inner_size(out.shape(), 0), limit = out.size(0);
  if (index.dtype() == DType::Int32)
    scatter_add_launch(stream, g.data<T>(), index.data<int32_t>(), index.numel(), row, limit,
                       out.data<T>(), errors, source);
  else
    scatter_add_launch(stream, g.data<T>(), index.data<int64_t>(), index.numel(), row, limit,
                       out.data<T>(), errors, source);
}

// *first = the least position i whose value is not an integer in [0, limit) (the CPU's
// test, in double); integer atomicMin, so the answer is the same whichever thread is first.
template <class V>
void first_out_of_range(cudaStream_t stream, const V* p, int64_t n, int64_t limit,
                        unsigned long long* first) {
  const double top = static_cast<double>(limit);
  for_each(stream, n, [=] __device__(int64_t i) {
    const double v = static_cast<double>(p[i]);
    if (!(v >= 0 && v < top) || v != floor(v)) atomicMin(first, static_cast<unsigned long long>(i));
  });
}

}  // namespace

void CudaBackend::concat(const std::vector<Tensor>& inputs, int64_t axis, Tensor& out) {
  if (out.numel() == 0) return;
  auto& dev = state(out.device());
  const int64_t inner = inner_size(out.shape(), axis);
  const int64_t out_cols = out.shape()[axis] * inner;  // elements per outer index in out
  FASTNN_WORD_CALL(out.dtype(), concat_words, dev.stream, inputs, axis, inner, out_cols, out);
}

void CudaBackend::slice_axis(const Tensor& x, int64_t axis, int64_t begin, Tensor& out) {
  if (out.numel() == 0) return;
  auto& dev = state(out.device());
  const int64_t inner = inner_size(x.shape(), axis);
  const int64_t x_cols = x.shape()[axis] * inner, out_cols = out.shape()[axis] * inner;
  FASTNN_WORD_CALL(x.dtype(), slice_words, dev.stream, x, x_cols, begin * inner, out_cols, out);
}

// The op checked the index when it was recorded; a replay may bring indices the host never
// saw (ids from a batch), so the kernels check each one again and report a bad one in
// kernel_errors instead of reading or writing out of bounds.
void CudaBackend::take_rows(const Tensor& x, const Tensor& index, Tensor& out) {
  auto& dev = state(out.device());
  int64_t* errors = kernel_errors(out.device()).data<int64_t>();
  const int64_t* source = kernel_error_source(out.device()).data<int64_t>();
  FASTNN_WORD_CALL(x.dtype(), take_rows_words, dev.stream, x, index, out, errors, source);
}

void CudaBackend::scatter_add_rows(const Tensor& g, const Tensor& index, Tensor& out) {
  auto& dev = state(out.device());
  int64_t* errors = kernel_errors(out.device()).data<int64_t>();
  const int64_t* source = kernel_error_source(out.device()).data<int64_t>();
  FASTNN_FLOAT_CALL(g.dtype(), "scatter_add_rows", scatter_add_typed, dev.stream, g, index, out,
                    errors, source);
}

// A query: the least bad position, found on the device and read back.
int64_t CudaBackend::find_index_out_of_range(const Tensor& index, int64_t limit) {
  count_host_read();
  const int64_t n = index.numel();
  if (n == 0) return -1;
  auto& dev = state(index.device());
  Tensor first = Tensor::full({1}, static_cast<double>(n), DType::Int64, index.device());
  auto* f = first.data<unsigned long long>();
  switch (index.dtype()) {
    case DType::Int32:
      first_out_of_range(dev.stream, index.data<int32_t>(), n, limit, f);
      break;
    case DType::Int64:
      first_out_of_range(dev.stream, index.data<int64_t>(), n, limit, f);
      break;
    case DType::Float32:
      first_out_of_range(dev.stream, index.data<float>(), n, limit, f);
      break;
    case DType::Float64:
      first_out_of_range(dev.stream, index.data<double>(), n, limit, f);
      break;
    case DType::Bool:
      first_out_of_range(dev.stream, index.data<bool>(), n, limit, f);
      break;
  }
  int64_t at = n;
  copy_to_host(first, &at);
  return at < n ? at : -1;
}

}  // namespace fastnn
