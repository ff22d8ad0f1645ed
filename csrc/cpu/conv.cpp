// Convolution lowered to GEMM (im2col), channels-last:
//   x     (N, H, W, C)            input images
//   cols  (N * OH * OW, KH * KW * C)  row (n, oh, ow) holds the patch under output pixel
//                                 (oh, ow) of image n, columns in (kh, kw, c) order
//   y     (N, OH, OW, F) = cols @ kernel (KH * KW * C, F)   (the op's gemm)
// im2col builds cols from x; col2im is its adjoint, taking the gradient of cols back to
// the gradient of x. Both loops read and write C contiguous channels at a time.
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

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

// The adjoint of im2col: every cols row adds its patch back onto the input pixels it was
// read from. Images are independent, so each image is one thread's (no atomics, no
// per-thread copies), and within an image rows are added in order: each gx element sums its
// terms in the same order whatever the thread count. A kernel row whose taps all lie inside
// the input is one contiguous run of kernel_w * C values, as in im2col: a vectorizable add
// instead of a search over taps per input pixel (3-10x faster than the gather it replaced,
// bench/NOTES.md item 21).
void CpuBackend::col2im(const Tensor& cols, const ConvGeometry& g, Tensor& gx) {
  dispatch_float(cols.dtype(), "col2im", [&](auto zero) {
    using T = decltype(zero);
    const T* cp = cols.data<T>();
    T* gp = gx.data<T>();
    const int64_t C = g.channels, K = g.patch_size(), row_values = g.kernel_w * C;
    const int64_t image = g.in_h * g.in_w * C, rows_per_image = g.out_h * g.out_w;
    parallel_for(g.batch, 1, [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        T* gx_image = gp + n * image;
        std::fill(gx_image, gx_image + image, T(0));
        const T* src = cp + n * rows_per_image * K;
        for (int64_t oh = 0; oh < g.out_h; ++oh) {
          for (int64_t ow = 0; ow < g.out_w; ++ow, src += K) {
            const int64_t iw0 = ow * g.stride_w - g.pad_left;
            const bool row_inside = g.dilation_w == 1 && iw0 >= 0 && iw0 + g.kernel_w <= g.in_w;
            for (int64_t i = 0; i < g.kernel_h; ++i) {
              const int64_t ih = oh * g.stride_h - g.pad_top + i * g.dilation_h;
              if (ih < 0 || ih >= g.in_h) continue;  // this kernel row read padding
              T* dst_row = gx_image + ih * g.in_w * C;
              const T* src_row = src + i * row_values;
              if (row_inside) {
                T* dst = dst_row + iw0 * C;
                for (int64_t k = 0; k < row_values; ++k) dst[k] += src_row[k];
                continue;
              }
              for (int64_t j = 0; j < g.kernel_w; ++j) {
                const int64_t iw = iw0 + j * g.dilation_w;
                if (iw < 0 || iw >= g.in_w) continue;
                T* dst = dst_row + iw * C;
                const T* src_tap = src_row + j * C;
                for (int64_t c = 0; c < C; ++c) dst[c] += src_tap[c];
              }
            }
          }
        }
      }
    });
  });
}

// Direct convolution for first layers. With 1-3 input channels a patch is 9-75 values:
// im2col writes every input value KH * KW times and the GEMM's K is too short to amortize
// its packing, so together they ran at a third of the GEMM rate (bench/NOTES.md item 22).
// Here each output pixel's filters accumulate in registers, straight from the input:
//   y[n, oh, ow, f] = sum over taps t = (i, j, c) of x[n, ih, iw, c] * kernel[t, f]
//   gkernel[t, f]   = sum over output pixels of x[n, ih, iw, c] * gz[n, oh, ow, f]
// with ih = oh * stride_h - pad_top + i * dilation_h (iw likewise); padding reads as zero.
namespace {

// Filters per register block (one 256-bit vector of floats) and output pixels per block in
// the forward, taps per block in the kernel gradient: 4-8 vectors of accumulators.
constexpr int kFilterBlock = 8;
constexpr int kPixelBlock = 4;
constexpr int kTapBlock = 8;

// The kernel's filters in blocks of kFilterBlock, zero-padded: block b holds taps x 8 values
// (a short last block reads zeros instead of the next tap's filters). Kept per thread and
// grown once: no allocation per step.
template <class T>
const T* pack_filter_blocks(const T* kernel, int64_t taps, int64_t filters) {
  static thread_local std::vector<T> packed;
  const int64_t blocks = (filters + kFilterBlock - 1) / kFilterBlock;
  packed.assign(blocks * taps * kFilterBlock, T(0));
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t f0 = b * kFilterBlock, width = std::min<int64_t>(kFilterBlock, filters - f0);
    for (int64_t t = 0; t < taps; ++t) {
      std::copy_n(kernel + t * filters + f0, width, packed.data() + (b * taps + t) * kFilterBlock);
    }
  }
  return packed.data();
}

// Offsets of the taps (i, j, c), in kernel order, from an output pixel's top-left input value.
std::vector<int64_t> tap_offsets(const ConvGeometry& g) {
  std::vector<int64_t> offsets;
  offsets.reserve(g.patch_size());
  for (int64_t i = 0; i < g.kernel_h; ++i)
    for (int64_t j = 0; j < g.kernel_w; ++j)
      for (int64_t c = 0; c < g.channels; ++c)
        offsets.push_back((i * g.dilation_h * g.in_w + j * g.dilation_w) * g.channels + c);
  return offsets;
}

// Whether every tap of output (oh, ow) reads inside the input (no padding).
bool rows_inside(const ConvGeometry& g, int64_t oh) {
  const int64_t ih0 = oh * g.stride_h - g.pad_top;
  return ih0 >= 0 && ih0 + (g.kernel_h - 1) * g.dilation_h < g.in_h;
}
bool columns_inside(const ConvGeometry& g, int64_t ow) {
  const int64_t iw0 = ow * g.stride_w - g.pad_left;
  return iw0 >= 0 && iw0 + (g.kernel_w - 1) * g.dilation_w < g.in_w;
}

// Pixel (n, oh, ow)'s tap t value, zero in the padding.
template <class T>
T tap_value(const T* x, const ConvGeometry& g, int64_t n, int64_t oh, int64_t ow, int64_t t) {
  const int64_t c = t % g.channels, j = (t / g.channels) % g.kernel_w, i = t / g.channels / g.kernel_w;
  const int64_t ih = oh * g.stride_h - g.pad_top + i * g.dilation_h;
  const int64_t iw = ow * g.stride_w - g.pad_left + j * g.dilation_w;
  if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w) return T(0);
  return x[((n * g.in_h + ih) * g.in_w + iw) * g.channels + c];
}

// acc[p] = the filter block's sums for P pixels whose taps all lie inside, the first at
// `origin`, the next `pixel_step` values on.
template <int P, class T>
void accumulate_pixels(const T* origin, int64_t pixel_step, const int64_t* offsets, int64_t taps,
                       const T* filters, T (&acc)[P][kFilterBlock]) {
  for (int p = 0; p < P; ++p)
    for (int f = 0; f < kFilterBlock; ++f) acc[p][f] = T(0);
  for (int64_t t = 0; t < taps; ++t) {
    const T* w = filters + t * kFilterBlock;
    for (int p = 0; p < P; ++p) {
      const T v = origin[p * pixel_step + offsets[t]];
      for (int f = 0; f < kFilterBlock; ++f) acc[p][f] += v * w[f];
    }
  }
}

}  // namespace

void CpuBackend::conv2d_direct_forward(const Tensor& x, const Tensor& kernel, const ConvGeometry& g,
                                       Tensor& y) {
  dispatch_float(x.dtype(), "conv2d_direct_forward", [&](auto zero) {
    using T = decltype(zero);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    const int64_t taps = g.patch_size(), F = kernel.shape().back();
    const int64_t blocks = (F + kFilterBlock - 1) / kFilterBlock;
    const T* packed = pack_filter_blocks(kernel.data<T>(), taps, F);
    const std::vector<int64_t> offsets = tap_offsets(g);
    const int64_t pixel_step = g.stride_w * g.channels;
    // Stores a pixel's block: only the filters that exist.
    auto store = [&](T* out, const T* acc, int64_t f0) {
      const int64_t width = std::min<int64_t>(kFilterBlock, F - f0);
      for (int64_t f = 0; f < width; ++f) out[f0 + f] = acc[f];
    };
    // One output row (n, oh) per iteration; each y value has one writer.
    parallel_for(g.batch * g.out_h, row_grain(kElementwiseGrain, g.out_w * taps * F),
                 [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t n = r / g.out_h, oh = r % g.out_h;
        const bool row_ok = rows_inside(g, oh);
        // Where output (oh, 0)'s taps start; only followed for pixels whose taps lie inside.
        const int64_t origin_row =
            ((n * g.in_h + oh * g.stride_h - g.pad_top) * g.in_w - g.pad_left) * g.channels;
        T* y_row = yp + r * g.out_w * F;
        for (int64_t b = 0; b < blocks; ++b) {
          const T* filters = packed + b * taps * kFilterBlock;
          const int64_t f0 = b * kFilterBlock;
          for (int64_t ow = 0; ow < g.out_w;) {
            if (row_ok && ow + kPixelBlock <= g.out_w && columns_inside(g, ow) &&
                columns_inside(g, ow + kPixelBlock - 1)) {
              T acc[kPixelBlock][kFilterBlock];
              accumulate_pixels(xp + origin_row + ow * pixel_step, pixel_step, offsets.data(), taps,
                                filters, acc);
              for (int p = 0; p < kPixelBlock; ++p) store(y_row + (ow + p) * F, acc[p], f0);
              ow += kPixelBlock;
            } else if (row_ok && columns_inside(g, ow)) {
              T acc[1][kFilterBlock];
              accumulate_pixels(xp + origin_row + ow * pixel_step, pixel_step, offsets.data(), taps,
                                filters, acc);
              store(y_row + ow * F, acc[0], f0);
              ++ow;
            } else {  // a border pixel: taps in the padding add nothing
              T acc[kFilterBlock] = {};
              for (int64_t t = 0; t < taps; ++t) {
                const T v = tap_value(xp, g, n, oh, ow, t);
                for (int f = 0; f < kFilterBlock; ++f) acc[f] += v * filters[t * kFilterBlock + f];
              }
              store(y_row + ow * F, acc, f0);
              ++ow;
            }
          }
        }
      }
    });
  });
}

// Work items are (block of taps, block of filters): each gkernel value is summed by one
// thread over the pixels in order, so the result does not depend on the thread count.
void CpuBackend::conv2d_direct_backward_kernel(const Tensor& x, const Tensor& gz,
                                               const ConvGeometry& g, Tensor& gkernel) {
  dispatch_float(x.dtype(), "conv2d_direct_backward_kernel", [&](auto zero) {
    using T = decltype(zero);
    const T* xp = x.data<T>();
    const T* gp = gz.data<T>();
    T* kp = gkernel.data<T>();
    const int64_t taps = g.patch_size(), F = gkernel.shape().back();
    const int64_t filter_blocks = (F + kFilterBlock - 1) / kFilterBlock;
    const int64_t tap_blocks = (taps + kTapBlock - 1) / kTapBlock;
    const std::vector<int64_t> offsets = tap_offsets(g);
    parallel_for(tap_blocks * filter_blocks, 1, [&](int64_t item0, int64_t item1) {
      for (int64_t item = item0; item < item1; ++item) {
        const int64_t t0 = item / filter_blocks * kTapBlock, f0 = item % filter_blocks * kFilterBlock;
        const int64_t tb = std::min<int64_t>(kTapBlock, taps - t0);
        const int64_t fb = std::min<int64_t>(kFilterBlock, F - f0);
        // A short block's missing taps read the pixel's first tap (always inside) and its
        // missing filters zeros: their sums are never stored, and no lane needs a branch.
        int64_t offsets_block[kTapBlock];
        for (int t = 0; t < kTapBlock; ++t) offsets_block[t] = t < tb ? offsets[t0 + t] : 0;
        T acc[kTapBlock][kFilterBlock] = {};
        auto add_pixels = [&](auto full_block) {
          T padded[kFilterBlock] = {};
          for (int64_t n = 0; n < g.batch; ++n) {
            for (int64_t oh = 0; oh < g.out_h; ++oh) {
              const bool row_ok = rows_inside(g, oh);
              const int64_t origin_row =
                  ((n * g.in_h + oh * g.stride_h - g.pad_top) * g.in_w - g.pad_left) * g.channels;
              const T* gz_row = gp + (n * g.out_h + oh) * g.out_w * F + f0;
              for (int64_t ow = 0; ow < g.out_w; ++ow) {
                const T* grad = gz_row + ow * F;
                if constexpr (!decltype(full_block)::value) {
                  // The last filters: reading 8 would pass the end of gz.
                  std::copy_n(grad, fb, padded);
                  grad = padded;
                }
                T v[kTapBlock];
                if (row_ok && columns_inside(g, ow)) {
                  const T* origin = xp + origin_row + ow * g.stride_w * g.channels;
                  for (int t = 0; t < kTapBlock; ++t) v[t] = origin[offsets_block[t]];
                } else {
                  for (int t = 0; t < kTapBlock; ++t)
                    v[t] = t < tb ? tap_value(xp, g, n, oh, ow, t0 + t) : T(0);
                }
                for (int t = 0; t < kTapBlock; ++t)
                  for (int f = 0; f < kFilterBlock; ++f) acc[t][f] += v[t] * grad[f];
              }
            }
          }
        };
        if (fb == kFilterBlock) {
          add_pixels(std::true_type());
        } else {
          add_pixels(std::false_type());
        }
        for (int64_t t = 0; t < tb; ++t)
          for (int64_t f = 0; f < fb; ++f) kp[(t0 + t) * F + f0 + f] = acc[t][f];
      }
    });
  });
}

}  // namespace fastnn
