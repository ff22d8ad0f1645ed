// Convolution lowered to GEMM (im2col), channels-last:
//   x     (N, H, W, C)            input images
//   cols  (N * OH * OW, KH * KW * C)  row (n, oh, ow) holds the patch under output pixel
//                                 (oh, ow) of image n, columns in (kh, kw, c) order
//   y     (N, OH, OW, F) = cols @ kernel (KH * KW * C, F)   (the op's gemm)
// im2col builds cols from x; col2im is its adjoint, taking the gradient of cols back to
// the gradient of x. Both loops read and write C contiguous channels at a time.
#include <algorithm>
#include <cstring>

#include "core/parallel.h"
#include "cpu/backend_cpu.h"

namespace fastnn {

void CpuBackend::im2col(const Tensor& x, const ConvGeometry& g, Tensor& cols) {
  dispatch_float(x.dtype(), "im2col", [&](auto zero) {
    using T = decltype(zero);
    const T* xp = x.data<T>();
    T* cp = cols.data<T>();
    const int64_t C = g.channels, K = g.patch_size(), pixels = g.out_h * g.out_w;
    // Each row is written by one thread only, so the split cannot change the result.
    parallel_for(g.patch_rows(), row_grain(kElementwiseGrain, K), [&](int64_t r0, int64_t r1) {
      // (n, oh, ow) of row r, stepped rather than divided out per row: three integer
      // divisions cost more than copying a small patch.
      int64_t n = r0 / pixels, oh = (r0 % pixels) / g.out_w, ow = r0 % g.out_w;
      for (int64_t r = r0; r < r1; ++r, ++ow) {
        if (ow == g.out_w) {
          ow = 0;
          if (++oh == g.out_h) oh = 0, ++n;
        }
        T* dst = cp + r * K;
        for (int64_t i = 0; i < g.kernel_h; ++i) {
          const int64_t ih = oh * g.stride_h - g.pad_top + i * g.dilation_h;
          T* dst_row = dst + i * g.kernel_w * C;
          if (ih < 0 || ih >= g.in_h) {  // the whole kernel row lies in the padding
            std::fill(dst_row, dst_row + g.kernel_w * C, T(0));
            continue;
          }
          const T* src_row = xp + ((n * g.in_h + ih) * g.in_w) * C;
          const int64_t iw0 = ow * g.stride_w - g.pad_left;
          if (g.dilation_w == 1 && iw0 >= 0 && iw0 + g.kernel_w <= g.in_w) {
            // The kernel row's taps are kernel_w * C contiguous input values: one copy
            // instead of one per tap (first layers have C = 1 to 3: a tap is a few values).
            const T* src = src_row + iw0 * C;
            for (int64_t k = 0; k < g.kernel_w * C; ++k) dst_row[k] = src[k];
            continue;
          }
          for (int64_t j = 0; j < g.kernel_w; ++j) {
            const int64_t iw = ow * g.stride_w - g.pad_left + j * g.dilation_w;
            T* dst_tap = dst_row + j * C;
            if (iw < 0 || iw >= g.in_w) {
              std::fill(dst_tap, dst_tap + C, T(0));
            } else if (C < 16) {  // a memcpy call per tap costs more than the copy itself
              const T* src_tap = src_row + iw * C;
              for (int64_t c = 0; c < C; ++c) dst_tap[c] = src_tap[c];
            } else {
              std::memcpy(dst_tap, src_row + iw * C, C * sizeof(T));
            }
          }
        }
      }
    });
  });
}

// A gather rather than a scatter: each input pixel sums the cols entries that read it, so
// every gx element has one writer (no atomics, no per-thread copies) and its terms are
// added in kernel-tap order whatever the thread count.
void CpuBackend::col2im(const Tensor& cols, const ConvGeometry& g, Tensor& gx) {
  dispatch_float(cols.dtype(), "col2im", [&](auto zero) {
    using T = decltype(zero);
    const T* cp = cols.data<T>();
    T* gp = gx.data<T>();
    const int64_t C = g.channels, K = g.patch_size();
    const int64_t pixels = g.in_h * g.in_w;
    const int64_t grain = row_grain(kElementwiseGrain, std::max<int64_t>(1, K));
    parallel_for(g.batch * pixels, grain, [&](int64_t p0, int64_t p1) {
      int64_t n = p0 / pixels, ih = (p0 % pixels) / g.in_w, iw = p0 % g.in_w;
      for (int64_t p = p0; p < p1; ++p, ++iw) {
        if (iw == g.in_w) {
          iw = 0;
          if (++ih == g.in_h) ih = 0, ++n;
        }
        T* dst = gp + p * C;
        std::fill(dst, dst + C, T(0));
        for (int64_t i = 0; i < g.kernel_h; ++i) {
          // Output row oh reads ih through tap i when oh * stride_h = ih + pad_top - i * dil.
          const int64_t th = ih + g.pad_top - i * g.dilation_h;
          if (th < 0) break;  // decreases with i
          // Stride 1, the common case, needs no division.
          const int64_t oh = g.stride_h == 1 ? th : th / g.stride_h;
          if (oh >= g.out_h || (g.stride_h != 1 && th % g.stride_h != 0)) continue;
          for (int64_t j = 0; j < g.kernel_w; ++j) {
            const int64_t tw = iw + g.pad_left - j * g.dilation_w;
            if (tw < 0) break;
            const int64_t ow = g.stride_w == 1 ? tw : tw / g.stride_w;
            if (ow >= g.out_w || (g.stride_w != 1 && tw % g.stride_w != 0)) continue;
            const T* src = cp + ((n * g.out_h + oh) * g.out_w + ow) * K + (i * g.kernel_w + j) * C;
            for (int64_t c = 0; c < C; ++c) dst[c] += src[c];
          }
        }
      }
    });
  });
}

}  // namespace fastnn
