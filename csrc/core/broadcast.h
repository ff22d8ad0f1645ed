// How the operands of a broadcasting elementwise op step through its output, shared by the
// CPU loops (cpu/elementwise.cpp) and the CUDA kernels (cuda/elementwise.cu, which take it by
// value): out's shape with each operand's element strides (0 where it broadcasts), adjacent
// dims merged where that keeps both operands' addressing linear. The last dim is the inner
// loop. Fixed arrays, not vectors: a layout is built on every call of a kernel, and a replayed
// step makes no heap allocation.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace fastnn {

constexpr int kMaxLayoutDims = 16;

struct BroadcastLayout {
  int64_t shape[kMaxLayoutDims], stride_a[kMaxLayoutDims], stride_b[kMaxLayoutDims];
  int dims = 0;
  int64_t last() const { return shape[dims - 1]; }
};

// a and b have out's rank, each dim out's or 1. ValueError past kMaxLayoutDims dims that
// broadcast differently.
BroadcastLayout broadcast_layout(const Shape& out, const Shape& a, const Shape& b);

// A shape seen from one axis, for ops along an axis (reductions, gather/scatter): the dims
// before it flattened (outer), the axis (n), the dims after it flattened (inner). Element
// (o, k, i) sits at (o * n + k) * inner + i.
struct AxisSplit {
  int64_t outer = 1, n = 1, inner = 1;
};
AxisSplit split_at(const Shape& s, int64_t axis);

}  // namespace fastnn
