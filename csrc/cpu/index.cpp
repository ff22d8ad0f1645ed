// Strided selections (permute, slices with steps, expand) and index writes of the tensor
// API, for any dtype: elements move as 1-, 4- or 8-byte words.
#include <algorithm>
#include <cstdint>
#include <cstring>
#if defined(__AVX__)
#include <immintrin.h>
#endif

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

// The same selection in the fewest dims: size-1 dims dropped, and a dim folded into the
// next where stepping it is stepping the next one shape-many times (the selection side is
// row-major, so any neighbours fold there). An NHWC -> NCHW permute of a 4 x 4 image is then
// a 2-D transpose of 16 pixels by C (tiled), not rows of 4 read one element at a time.
StridedLayout folded(const StridedLayout& L) {
  StridedLayout F;
  F.offset = L.offset;
  for (int d = 0; d < L.dims; ++d) {
    if (L.shape[d] == 1) continue;
    if (F.dims > 0 && F.stride[F.dims - 1] == L.stride[d] * L.shape[d]) {
      F.shape[F.dims - 1] *= L.shape[d];
      F.stride[F.dims - 1] = L.stride[d];
      continue;
    }
    F.shape[F.dims] = L.shape[d];
    F.stride[F.dims] = L.stride[d];
    ++F.dims;
  }
  return F;
}

int64_t outer_rows(const StridedLayout& L) {
  int64_t rows = 1;
  for (int d = 0; d + 1 < L.dims; ++d) rows *= L.shape[d];
  return rows;
}

// The axis of a selection that reads x contiguously (stride 1) when the selection's last
// axis does not: a permute that moves the contiguous axis (NCHW <-> NHWC, .T). Its row
// loop would read one element per cache line; tiles of a 2-D transpose between the two
// axes read and write whole lines instead. -1 when the row loop is the better one.
int transposed_axis(const StridedLayout& L) {
  constexpr int64_t kMinSide = 8;
  const int last = L.dims - 1;
  if (last < 1 || L.stride[last] == 1 || L.shape[last] < kMinSide) return -1;
  for (int d = 0; d < last; ++d)
    if (L.stride[d] == 1 && L.shape[d] >= kMinSide) return d;
  return -1;
}

// One 8 x 8 block: d[c * ld + r] = s[r * ls + c]. Eight contiguous loads, eight contiguous
// stores; with AVX the transpose happens in registers (3x faster than scalar moves here).
template <class W>
inline void transpose_block8(const W* s, int64_t ls, W* d, int64_t ld) {
#if defined(__AVX__)
  if constexpr (sizeof(W) == 4) {
    const float* f = reinterpret_cast<const float*>(s);
    float* g = reinterpret_cast<float*>(d);
    __m256 r[8], t[8], u[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(f + i * ls);
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
      u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
      u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
      u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; ++i) {
      _mm256_storeu_ps(g + i * ld, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
      _mm256_storeu_ps(g + (i + 4) * ld, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
    }
    return;
  }
#endif
  W t[8][8];
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c) t[r][c] = s[r * ls + c];
  for (int c = 0; c < 8; ++c)
    for (int r = 0; r < 8; ++r) d[c * ld + r] = t[r][c];
}

// out (the selection, contiguous) = x at L as a 2-D transpose between axis a (contiguous
// in x) and the last axis (contiguous in out), by 8 x 8 blocks; the edges element by element.
// A task is 16 positions of a (whole 64-byte lines of x) at one outer position.
template <class W>
void tiled_transpose_copy(const W* xp, const StridedLayout& L, int a, W* op) {
  constexpr int64_t kTask = 16;
  const int last = L.dims - 1;
  const int64_t A = L.shape[a], J = L.shape[last], step = L.stride[last];
  int64_t out_stride[16];
  out_stride[last] = 1;
  for (int d = last; d-- > 0;) out_stride[d] = out_stride[d + 1] * L.shape[d + 1];
  const int64_t os = out_stride[a];
  const int64_t tasks_per_outer = (A + kTask - 1) / kTask;
  const int64_t outer = layout_numel(L) / (A * J);
  parallel_for(outer * tasks_per_outer, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      // The outer position (every axis but a and the last) and the task's run of a.
      int64_t rem = b / tasks_per_outer, x_at = L.offset, out_at = 0;
      for (int d = last; d-- > 0;) {
        if (d == a) continue;
        const int64_t i = rem % L.shape[d];
        rem /= L.shape[d];
        x_at += i * L.stride[d];
        out_at += i * out_stride[d];
      }
      const int64_t i0 = (b % tasks_per_outer) * kTask, i1 = std::min(A, i0 + kTask);
      const int64_t i_blocks = i0 + (i1 - i0) / 8 * 8, j_blocks = J / 8 * 8;
      for (int64_t i = i0; i < i_blocks; i += 8)
        for (int64_t j = 0; j < j_blocks; j += 8)
          transpose_block8(xp + x_at + i + j * step, step, op + out_at + i * os + j, os);
      for (int64_t i = i0; i < i1; ++i) {  // the edges: columns past j_blocks, rows past i_blocks
        const W* src = xp + x_at + i;
        W* dst = op + out_at + i * os;
        for (int64_t j = i < i_blocks ? j_blocks : 0; j < J; ++j) dst[j] = src[j * step];
      }
    }
  });
}

}  // namespace

void CpuBackend::strided_copy(const Tensor& x, const StridedLayout& selection, Tensor& out) {
  if (layout_numel(selection) == 0) return;
  const StridedLayout L = folded(selection);
  const int64_t C = L.dims ? L.shape[L.dims - 1] : 1;
  with_word(x.dtype(), [&](auto zero) {
    using W = decltype(zero);
    const W* xp = static_cast<const W*>(x.raw());
    W* op = static_cast<W*>(out.raw());
    const int a = transposed_axis(L);
    if (a >= 0) return tiled_transpose_copy(xp, L, a, op);
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

void CpuBackend::strided_assign(const Tensor& src, const StridedLayout& selection, Tensor& dst) {
  if (layout_numel(selection) == 0) return;
  const StridedLayout L = folded(selection);
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
