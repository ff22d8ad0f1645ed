// The CPU's walk over a broadcasting layout (core/broadcast.h), shared by the elementwise
// kernels (elementwise.cpp) and the tensor API's (math_ops.cpp).
#pragma once

#include <cstdint>

#include "core/broadcast.h"
#include "core/parallel.h"
#include "cpu/backend_cpu.h"

namespace fastnn::cpu {

// Calls inner(offset_a, offset_b, offset_out, count, step_a, step_b) for each run of the
// last dim, rows [r0, r1) of the outer dims.
template <class Inner>
void for_each_run(const BroadcastLayout& L, int64_t r0, int64_t r1, Inner&& inner) {
  const size_t nd = static_cast<size_t>(L.dims);
  const int64_t C = L.last();
  int64_t idx[kMaxLayoutDims] = {};
  int64_t rem = r0;
  for (size_t d = nd - 1; d-- > 0;) {
    idx[d] = rem % L.shape[d];
    rem /= L.shape[d];
  }
  for (int64_t r = r0; r < r1; ++r) {
    int64_t oa = 0, ob = 0;
    for (size_t d = 0; d + 1 < nd; ++d) {
      oa += idx[d] * L.stride_a[d];
      ob += idx[d] * L.stride_b[d];
    }
    inner(oa, ob, r * C, C, L.stride_a[nd - 1], L.stride_b[nd - 1]);
    for (size_t d = nd - 1; d-- > 0;) {
      if (++idx[d] < L.shape[d]) break;
      idx[d] = 0;
    }
  }
}

inline int64_t outer_rows(const BroadcastLayout& L) {
  int64_t rows = 1;
  for (int d = 0; d + 1 < L.dims; ++d) rows *= L.shape[d];
  return rows;
}

// out[i] = f(a[.], b[.]) over out's elements, a and b (out's rank, size-1 dims broadcast)
// of types A and B, out of type O. The common layouts (same shapes, a scalar side) get
// their own loops so that they vectorise.
template <class A, class B, class O, class F>
void broadcast_apply(const Tensor& a, const Tensor& b, Tensor& out, F f,
                     int64_t grain = kElementwiseGrain) {
  if (out.numel() == 0) return;  // the layout's row length would be 0
  const A* ap = a.data<A>();
  const B* bp = b.data<B>();
  O* op = out.data<O>();
  const BroadcastLayout L = broadcast_layout(out.shape(), a.shape(), b.shape());
  const int64_t C = L.last();
  parallel_for(outer_rows(L), row_grain(grain, C), [&](int64_t r0, int64_t r1) {
    for_each_run(L, r0, r1,
                 [&](int64_t oa, int64_t ob, int64_t oo, int64_t n, int64_t sa, int64_t sb) {
                   const A* x = ap + oa;
                   const B* y = bp + ob;
                   O* o = op + oo;
                   if (sa == 1 && sb == 1) {
                     for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
                   } else if (sa == 1 && sb == 0) {
                     B yv = *y;
                     for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
                   } else if (sa == 0 && sb == 1) {
                     A xv = *x;
                     for (int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
                   } else {
                     for (int64_t i = 0; i < n; ++i) o[i] = f(x[i * sa], y[i * sb]);
                   }
                 });
  });
}

// Calls f(value) with a value of the C++ type of any dtype (bool for Bool).
template <class F>
decltype(auto) dispatch_any(DType t, F&& f) {
  switch (t) {
    case DType::Float32:
      return f(float{});
    case DType::Float64:
      return f(double{});
    case DType::Int32:
      return f(int32_t{});
    case DType::Int64:
      return f(int64_t{});
    case DType::Bool:
      return f(bool{});
  }
  return f(float{});
}

// dispatch_any without Bool (TypeError naming `who`), for kernels that keep per-thread
// scratch of the element type (std::vector<bool> has no data()).
template <class F>
decltype(auto) dispatch_numeric(DType t, const char* who, F&& f) {
  if (t == DType::Bool) fail(ErrorKind::Type, who, ": expected a numeric tensor, got bool");
  switch (t) {
    case DType::Float64:
      return f(double{});
    case DType::Int32:
      return f(int32_t{});
    case DType::Int64:
      return f(int64_t{});
    default:
      return f(float{});
  }
}

}  // namespace fastnn::cpu
