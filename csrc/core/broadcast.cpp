#include "core/broadcast.h"

#include <algorithm>

namespace fastnn {

BroadcastLayout broadcast_layout(const Shape& out, const Shape& a, const Shape& b) {
  BroadcastLayout L;
  int64_t ra = 1, rb = 1;
  // From the last dim to the first, merging a dim into the one after it (already in L,
  // which is built reversed) when both operands step through the pair linearly.
  for (size_t i = out.size(); i-- > 0;) {
    const int64_t sa = a[i] == 1 && out[i] != 1 ? 0 : ra, sb = b[i] == 1 && out[i] != 1 ? 0 : rb;
    ra *= a[i];
    rb *= b[i];
    if (out[i] == 1) continue;  // size-1 dims move nothing
    if (L.dims > 0 && sa == L.stride_a[L.dims - 1] * L.shape[L.dims - 1] &&
        sb == L.stride_b[L.dims - 1] * L.shape[L.dims - 1]) {
      L.shape[L.dims - 1] *= out[i];
      continue;
    }
    FASTNN_CHECK(L.dims < kMaxLayoutDims, Value, "broadcast: expected at most ", kMaxLayoutDims,
                 " dims that broadcast differently, got shapes ", shape_str(a), " and ",
                 shape_str(b));
    L.shape[L.dims] = out[i];
    L.stride_a[L.dims] = sa;
    L.stride_b[L.dims] = sb;
    ++L.dims;
  }
  if (L.dims == 0) {
    L.shape[0] = L.stride_a[0] = L.stride_b[0] = 1;
    L.dims = 1;
  }
  std::reverse(L.shape, L.shape + L.dims);
  std::reverse(L.stride_a, L.stride_a + L.dims);
  std::reverse(L.stride_b, L.stride_b + L.dims);
  return L;
}

AxisSplit split_at(const Shape& s, int64_t axis) {
  AxisSplit a;
  for (int64_t d = 0; d < axis; ++d) a.outer *= s[d];
  a.n = s.empty() ? 1 : s[axis];
  for (size_t d = axis + 1; d < s.size(); ++d) a.inner *= s[d];
  return a;
}

}  // namespace fastnn
