// The device side of core/broadcast.h's layout, shared by the broadcasting kernels
// (elementwise.cu, math_ops.cu).
#pragma once

#include <cstdint>

#include "core/broadcast.h"

namespace fastnn::cuda {

// The offsets in a and b of out's element i. The first dim needs no modulo: i is below
// the product of all dims.
__device__ __forceinline__ void broadcast_offsets(const BroadcastLayout& L, int64_t i,
                                                  int64_t& oa, int64_t& ob) {
  oa = 0;
  ob = 0;
  for (int d = L.dims - 1; d > 0; --d) {
    const int64_t n = L.shape[d], q = i / n, c = i - q * n;
    oa += c * L.stride_a[d];
    ob += c * L.stride_b[d];
    i = q;
  }
  oa += i * L.stride_a[0];
  ob += i * L.stride_b[0];
}

}  // namespace fastnn::cuda
