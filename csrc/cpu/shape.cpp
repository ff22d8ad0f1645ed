// Concatenation, slicing along an axis, and row gathers/scatters (batch indexing now,
// Embedding later). A tensor of shape (outer, axis, inner) is addressed as
// x[o, a, i] = x[(o * axis + a) * inner + i].
#include <cmath>
#include <cstring>

#include "core/parallel.h"
#include "cpu/backend_cpu.h"

namespace fastnn {
namespace {

int64_t outer_size(const Shape& s, int64_t axis) {
  int64_t n = 1;
  for (int64_t d = 0; d < axis; ++d) n *= s[d];
  return n;
}
int64_t inner_size(const Shape& s, int64_t axis) {
  int64_t n = 1;
  for (size_t d = axis + 1; d < s.size(); ++d) n *= s[d];
  return n;
}

// Calls f(p) with the index's data as const int32_t* or const int64_t*.
template <class F>
void with_index_data(const Tensor& index, F&& f) {
  if (index.dtype() == DType::Int32)
    f(index.data<int32_t>());
  else
    f(index.data<int64_t>());
}

}  // namespace

void CpuBackend::concat(const std::vector<Tensor>& inputs, int64_t axis, Tensor& out) {
  size_t es = dtype_size(out.dtype());
  int64_t outer = outer_size(out.shape(), axis), inner = inner_size(out.shape(), axis);
  int64_t out_row = out.shape()[axis] * inner * es;  // bytes per outer index in out
  char* op = static_cast<char*>(out.raw());
  int64_t at = 0;  // bytes into each out row where the current input starts
  for (const Tensor& in : inputs) {
    int64_t in_row = in.shape()[axis] * inner * es;
    const char* ip = static_cast<const char*>(in.raw());
    for (int64_t o = 0; o < outer; ++o) std::memcpy(op + o * out_row + at, ip + o * in_row, in_row);
    at += in_row;
  }
}

void CpuBackend::slice_axis(const Tensor& x, int64_t axis, int64_t begin, Tensor& out) {
  size_t es = dtype_size(x.dtype());
  int64_t outer = outer_size(x.shape(), axis), inner = inner_size(x.shape(), axis);
  int64_t x_row = x.shape()[axis] * inner * es, out_row = out.shape()[axis] * inner * es;
  const char* xp = static_cast<const char*>(x.raw()) + begin * inner * es;
  char* op = static_cast<char*>(out.raw());
  for (int64_t o = 0; o < outer; ++o) std::memcpy(op + o * out_row, xp + o * x_row, out_row);
}

// The op checked the index when it was recorded; a replay may bring indices the host never
// saw (ids from a batch), so each one is checked again here: a bad one is reported in
// kernel_errors() and its row left out (zeros for a gather) instead of read out of bounds.
void CpuBackend::take_rows(const Tensor& x, const Tensor& index, Tensor& out) {
  size_t row = static_cast<size_t>(inner_size(x.shape(), 0)) * dtype_size(x.dtype());
  const char* xp = static_cast<const char*>(x.raw());
  char* op = static_cast<char*>(out.raw());
  int64_t n = index.numel(), limit = x.dim() ? x.size(0) : 0;
  with_index_data(index, [&](const auto* idx) {
    parallel_for(n, std::max<int64_t>(1, (int64_t(1) << 20) / std::max<size_t>(row, 1)),
                 [&](int64_t b, int64_t e) {
                   for (int64_t i = b; i < e; ++i) {
                     int64_t k = idx[i];
                     if (k >= 0 && k < limit) {
                       std::memcpy(op + i * row, xp + k * row, row);
                     } else {
                       report_out_of_range(index.device(), i, k, limit);
                       std::memset(op + i * row, 0, row);
                     }
                   }
                 });
  });
}

void CpuBackend::scatter_add_rows(const Tensor& g, const Tensor& index, Tensor& out) {
  dispatch_float(g.dtype(), "scatter_add_rows", [&](auto zero) {
    using T = decltype(zero);
    int64_t row = inner_size(out.shape(), 0);
    const T* gp = g.data<T>();
    T* op = out.data<T>();
    const int64_t limit = out.size(0);
    // Serial in index order: rows repeat, and the order of their additions must not vary.
    with_index_data(index, [&](const auto* idx) {
      for (int64_t i = 0, n = index.numel(); i < n; ++i) {
        int64_t k = idx[i];
        if (k < 0 || k >= limit) {
          report_out_of_range(index.device(), i, k, limit);
          continue;
        }
        T* dst = op + k * row;
        const T* src = gp + i * row;
        for (int64_t c = 0; c < row; ++c) dst[c] += src[c];
      }
    });
  });
}

int64_t CpuBackend::find_index_out_of_range(const Tensor& index, int64_t limit) {
  count_host_read();
  int64_t n = index.numel();
  auto scan = [&](auto* p) -> int64_t {
    for (int64_t i = 0; i < n; ++i) {
      double v = static_cast<double>(p[i]);
      if (!(v >= 0 && v < static_cast<double>(limit)) || v != std::floor(v)) return i;
    }
    return -1;
  };
  switch (index.dtype()) {
    case DType::Int32:
      return scan(index.data<int32_t>());
    case DType::Int64:
      return scan(index.data<int64_t>());
    case DType::Float32:
      return scan(index.data<float>());
    case DType::Float64:
      return scan(index.data<double>());
    case DType::Bool:
      return scan(index.data<bool>());
  }
  return -1;
}

}  // namespace fastnn
