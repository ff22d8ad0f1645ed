// Strided selections (permute, slices with steps, expand) and index writes of the tensor
// API, for any dtype: elements move as 1-, 4- or 8-byte words.
#include <cstdint>
#include <cstring>

#include "core/parallel.h"
#include "cpu/backend_cpu.h"

namespace fastnn {
namespace {

// Calls f(Word{}) with the unsigned integer of the dtype's size.
template <class F>
void with_word(DType t, F&& f) {
  switch (dtype_size(t)) {
    case 1:
      return f(uint8_t{});
    case 4:
      return f(uint32_t{});
    default:
      return f(uint64_t{});
  }
}

int64_t layout_numel(const StridedLayout& L) {
  int64_t n = 1;
  for (int d = 0; d < L.dims; ++d) n *= L.shape[d];
  return n;
}

// Calls run(selection_offset, element_offset_in_x, count, step) for each run of the last dim
// of L, rows [r0, r1) of the outer dims (row-major, so the selection side is contiguous).
template <class Run>
void for_each_strided_row(const StridedLayout& L, int64_t r0, int64_t r1, Run&& run) {
  const int nd = L.dims;
  const int64_t C = nd ? L.shape[nd - 1] : 1, step = nd ? L.stride[nd - 1] : 0;
  int64_t idx[16] = {};
  int64_t rem = r0;
  for (int d = nd - 1; d-- > 0;) {
    idx[d] = rem % L.shape[d];
    rem /= L.shape[d];
  }
  for (int64_t r = r0; r < r1; ++r) {
    int64_t at = L.offset;
    for (int d = 0; d + 1 < nd; ++d) at += idx[d] * L.stride[d];
    run(r * C, at, C, step);
    for (int d = nd - 1; d-- > 0;) {
      if (++idx[d] < L.shape[d]) break;
      idx[d] = 0;
    }
  }
}

int64_t outer_rows(const StridedLayout& L) {
  int64_t rows = 1;
  for (int d = 0; d + 1 < L.dims; ++d) rows *= L.shape[d];
  return rows;
}

}  // namespace

void CpuBackend::strided_copy(const Tensor& x, const StridedLayout& L, Tensor& out) {
  if (layout_numel(L) == 0) return;
  const int64_t C = L.dims ? L.shape[L.dims - 1] : 1;
  with_word(x.dtype(), [&](auto zero) {
    using W = decltype(zero);
    const W* xp = static_cast<const W*>(x.raw());
    W* op = static_cast<W*>(out.raw());
    parallel_for(outer_rows(L), row_grain(kElementwiseGrain, C), [&](int64_t r0, int64_t r1) {
      for_each_strided_row(L, r0, r1, [&](int64_t o, int64_t at, int64_t n, int64_t step) {
        if (step == 1) {
          std::memcpy(op + o, xp + at, static_cast<size_t>(n) * sizeof(W));
        } else {
          for (int64_t i = 0; i < n; ++i) op[o + i] = xp[at + i * step];
        }
      });
    });
  });
}

void CpuBackend::strided_assign(const Tensor& src, const StridedLayout& L, Tensor& dst) {
  if (layout_numel(L) == 0) return;
  const int64_t C = L.dims ? L.shape[L.dims - 1] : 1;
  with_word(dst.dtype(), [&](auto zero) {
    using W = decltype(zero);
    const W* sp = static_cast<const W*>(src.raw());
    W* dp = static_cast<W*>(dst.raw());
    // Positions do not repeat (the contract), so rows may go to different threads.
    parallel_for(outer_rows(L), row_grain(kElementwiseGrain, C), [&](int64_t r0, int64_t r1) {
      for_each_strided_row(L, r0, r1, [&](int64_t o, int64_t at, int64_t n, int64_t step) {
        if (step == 1) {
          std::memcpy(dp + at, sp + o, static_cast<size_t>(n) * sizeof(W));
        } else {
          for (int64_t i = 0; i < n; ++i) dp[at + i * step] = sp[o + i];
        }
      });
    });
  });
}

void CpuBackend::index_assign_rows(const Tensor& src, const Tensor& index, Tensor& out) {
  const int64_t limit = out.dim() ? out.size(0) : 0;
  const int64_t row = limit ? out.numel() / limit : 0;
  const int64_t* ip = index.data<int64_t>();
  with_word(out.dtype(), [&](auto zero) {
    using W = decltype(zero);
    const W* sp = static_cast<const W*>(src.raw());
    W* op = static_cast<W*>(out.raw());
    // Serial in index order: with a repeated index the last write wins, every time.
    for (int64_t i = 0, n = index.numel(); i < n; ++i) {
      const int64_t k = ip[i];
      if (k < 0 || k >= limit) {
        report_out_of_range(index.device(), i, k, limit);
        continue;
      }
      std::memcpy(op + k * row, sp + i * row, static_cast<size_t>(row) * sizeof(W));
    }
  });
}

void CpuBackend::arange_fill(Tensor& out, double start, double step) {
  auto fill_as = [&](auto* p) {
    using T = std::remove_pointer_t<decltype(p)>;
    parallel_for(out.numel(), kElementwiseGrain, [=](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) p[i] = static_cast<T>(start + static_cast<double>(i) * step);
    });
  };
  switch (out.dtype()) {
    case DType::Float32:
      return fill_as(out.data<float>());
    case DType::Float64:
      return fill_as(out.data<double>());
    case DType::Int32:
      return fill_as(out.data<int32_t>());
    case DType::Int64:
      return fill_as(out.data<int64_t>());
    case DType::Bool:
      return fill_as(out.data<bool>());
  }
}

}  // namespace fastnn
