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
            if (g.kernel_w * C >= 16) {
              std::memcpy(dst_row, src, g.kernel_w * C * sizeof(T));
            } else {
              for (int64_t k = 0; k < g.kernel_w * C; ++k) dst_row[k] = src[k];
            }
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
constexpr int kPixelBlock = 8;
constexpr int kTapBlock = 8;

// The kernel's filters in blocks of kFilterBlock, zero-padded: block b holds taps x 8 values
// (a short last block reads zeros instead of the next tap's filters), in scratch slot 0.
template <class T>
const T* pack_filter_blocks(const T* kernel, int64_t taps, int64_t filters) {
  const int64_t blocks = (filters + kFilterBlock - 1) / kFilterBlock;
  T* packed = scratch<T>(0, blocks * taps * kFilterBlock);
  std::fill(packed, packed + blocks * taps * kFilterBlock, T(0));
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t f0 = b * kFilterBlock, width = std::min<int64_t>(kFilterBlock, filters - f0);
    for (int64_t t = 0; t < taps; ++t)
      std::copy_n(kernel + t * filters + f0, width, packed + (b * taps + t) * kFilterBlock);
  }
  return packed;
}

// The taps (i, j, c) in kernel order: their offset from an output pixel's top-left input
// value, and the input row and column they add to it (for the border's bounds checks).
struct Taps {
  std::vector<int64_t> offset, row, column, channel;
};
// Kept per thread and refilled: clear() keeps the capacity, so no allocation per call.
const Taps& kernel_taps(const ConvGeometry& g) {
  static thread_local Taps taps;
  taps.offset.clear(), taps.row.clear(), taps.column.clear(), taps.channel.clear();
  for (int64_t i = 0; i < g.kernel_h; ++i)
    for (int64_t j = 0; j < g.kernel_w; ++j)
      for (int64_t c = 0; c < g.channels; ++c) {
        taps.offset.push_back((i * g.dilation_h * g.in_w + j * g.dilation_w) * g.channels + c);
        taps.row.push_back(i * g.dilation_h);
        taps.column.push_back(j * g.dilation_w);
        taps.channel.push_back(c);
      }
  return taps;
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

// Where output (n, oh, 0)'s taps start in x (an offset: only followed for interior pixels,
// the border's may point before x).
int64_t origin_offset(const ConvGeometry& g, int64_t n, int64_t oh) {
  return ((n * g.in_h + oh * g.stride_h - g.pad_top) * g.in_w - g.pad_left) * g.channels;
}

// Pixel (n, oh, ow)'s tap t value, zero in the padding.
template <class T>
T tap_value(const T* x, const ConvGeometry& g, const Taps& taps, int64_t n, int64_t oh,
            int64_t ow, int64_t t) {
  const int64_t ih = oh * g.stride_h - g.pad_top + taps.row[t];
  const int64_t iw = ow * g.stride_w - g.pad_left + taps.column[t];
  if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w) return T(0);
  return x[((n * g.in_h + ih) * g.in_w + iw) * g.channels + taps.channel[t]];
}

// A block of kFilterBlock filters as one GCC vector (AVX: one register of floats): the
// sums below stay in registers and every multiply-add covers the block. Plain loops over
// local arrays were left mostly scalar by the vectorizer (bench/NOTES.md item 22).
template <class T>
struct FilterBlock {
  typedef T vector __attribute__((vector_size(kFilterBlock * sizeof(T))));
};
template <class T>
using FilterVector = typename FilterBlock<T>::vector;

template <class T>
FilterVector<T> load_block(const T* p) {
  FilterVector<T> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The first `width` (< kFilterBlock) values of a block, the rest zero, and back. Loops of a
// fixed trip count: a copy of a run-time length becomes a memmove call per pixel, which
// cost more than the pixel's arithmetic.
template <class T>
FilterVector<T> load_partial_block(const T* p, int64_t width) {
  FilterVector<T> v = {};
  for (int f = 0; f < kFilterBlock; ++f)
    if (f < width) v[f] = p[f];
  return v;
}
template <class T>
void store_block(T* p, const FilterVector<T>& v, int64_t width) {
  if (width == kFilterBlock) {
    std::memcpy(p, &v, sizeof v);
    return;
  }
  for (int f = 0; f < kFilterBlock; ++f)
    if (f < width) p[f] = v[f];
}

// sums[p] = the filter block's sums for P pixels whose taps all lie inside, the first at
// `origin`, the next `pixel_step` values on.
template <int P, class T>
void accumulate_pixels(const T* origin, int64_t pixel_step, const int64_t* offsets, int64_t taps,
                       const T* filters, FilterVector<T> (&sums)[P]) {
  FilterVector<T> sum[P] = {};
  for (int64_t t = 0; t < taps; ++t) {
    const FilterVector<T> w = load_block(filters + t * kFilterBlock);
    for (int p = 0; p < P; ++p) sum[p] += origin[p * pixel_step + offsets[t]] * w;
  }
  for (int p = 0; p < P; ++p) sums[p] = sum[p];
}

// Output columns [first, last) whose taps all lie inside the input's columns, in every row.
struct InteriorColumns {
  int64_t first = 0, last = 0;
};
InteriorColumns interior_columns(const ConvGeometry& g) {
  InteriorColumns c;
  while (c.first < g.out_w && !columns_inside(g, c.first)) ++c.first;
  c.last = c.first;
  while (c.last < g.out_w && columns_inside(g, c.last)) ++c.last;
  return c;
}

// sums[t] += tap t's input value times gz's filter block, over `count` pixels whose taps all
// lie inside, the first at `origin` and `grad`. The hot loop of the kernel gradient: nothing
// in it but loads and multiply-adds, so the sums stay in registers (with the border's
// bounds checks in the same loop, the compiler kept them on the stack: 4x slower).
// With kBias, *bias_sum += the gz blocks as well (the bias gradient, in the same pass).
template <bool kFullBlock, bool kBias, class T>
void add_interior_pixels(const T* origin, int64_t pixel_step, const T* grad, int64_t F,
                         int64_t count, int64_t width, const int64_t* offsets,
                         FilterVector<T>* sums, FilterVector<T>* bias_sum) {
  FilterVector<T> sum[kTapBlock];
  for (int t = 0; t < kTapBlock; ++t) sum[t] = sums[t];
  FilterVector<T> bias = kBias ? *bias_sum : FilterVector<T>{};
  for (int64_t i = 0; i < count; ++i, origin += pixel_step, grad += F) {
    const FilterVector<T> g = kFullBlock ? load_block(grad) : load_partial_block(grad, width);
    for (int t = 0; t < kTapBlock; ++t) sum[t] += origin[offsets[t]] * g;
    if constexpr (kBias) bias += g;
  }
  for (int t = 0; t < kTapBlock; ++t) sums[t] = sum[t];
  if constexpr (kBias) *bias_sum = bias;
}

}  // namespace

void CpuBackend::conv2d_direct_forward(const Tensor& x, const Tensor& kernel, const Tensor& bias,
                                       const ConvGeometry& g, Tensor& y) {
  dispatch_float(x.dtype(), "conv2d_direct_forward", [&](auto zero) {
    using T = decltype(zero);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    const int64_t taps = g.patch_size(), F = kernel.shape().back();
    const int64_t blocks = (F + kFilterBlock - 1) / kFilterBlock;
    const T* packed = pack_filter_blocks(kernel.data<T>(), taps, F);
    // The bias in the same blocks (zeros without one), added after the taps as the separate
    // pass it replaces did.
    T* bias_blocks = scratch<T>(1, blocks * kFilterBlock);
    std::fill(bias_blocks, bias_blocks + blocks * kFilterBlock, T(0));
    if (bias.defined()) std::copy_n(bias.data<T>(), F, bias_blocks);
    const Taps& tap = kernel_taps(g);
    const InteriorColumns inside = interior_columns(g);
    const int64_t pixel_step = g.stride_w * g.channels;
    // One output row (n, oh) per iteration; each y value has one writer.
    parallel_for(g.batch * g.out_h, row_grain(kElementwiseGrain, g.out_w * taps * F),
                 [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t n = r / g.out_h, oh = r % g.out_h;
        // The interior when every tap row lies inside, else no pixel is interior.
        const int64_t first = rows_inside(g, oh) ? inside.first : g.out_w;
        const int64_t last = rows_inside(g, oh) ? inside.last : g.out_w;
        const int64_t origin_row = origin_offset(g, n, oh);
        T* y_row = yp + r * g.out_w * F;
        for (int64_t b = 0; b < blocks; ++b) {
          const T* filters = packed + b * taps * kFilterBlock;
          const int64_t f0 = b * kFilterBlock, width = std::min<int64_t>(kFilterBlock, F - f0);
          const FilterVector<T> bias_block = load_block(bias_blocks + f0);
          // Border pixels: taps in the padding add nothing.
          auto border_pixel = [&](int64_t ow) {
            FilterVector<T> sum = {};
            for (int64_t t = 0; t < taps; ++t)
              sum += tap_value(xp, g, tap, n, oh, ow, t) * load_block(filters + t * kFilterBlock);
            store_block(y_row + ow * F + f0, sum + bias_block, width);
          };
          for (int64_t ow = 0; ow < first; ++ow) border_pixel(ow);
          int64_t ow = first;
          // Interior pixels in blocks of 8, then 4, then 1: a multiply-add's latency is
          // covered only with 5 or more independent sums in flight.
          auto interior_pixels = [&](auto block) {
            constexpr int P = decltype(block)::value;
            for (; ow + P <= last; ow += P) {
              FilterVector<T> sums[P];
              accumulate_pixels(xp + origin_row + ow * pixel_step, pixel_step, tap.offset.data(),
                                taps, filters, sums);
              for (int p = 0; p < P; ++p)
                store_block(y_row + (ow + p) * F + f0, sums[p] + bias_block, width);
            }
          };
          interior_pixels(std::integral_constant<int, kPixelBlock>());
          interior_pixels(std::integral_constant<int, kPixelBlock / 2>());
          interior_pixels(std::integral_constant<int, 1>());
          for (ow = std::max(first, last); ow < g.out_w; ++ow) border_pixel(ow);
        }
      }
    });
  });
}

// Work items are (block of taps, block of filters), split over the threads: each gkernel
// value is summed by one thread over the pixels in order, so the result does not depend on
// the thread count. Each thread walks the rows once and runs all its items on a row while
// its gz values are in cache (one item per pass over gz read it 8 times from memory for
// mnist_cnn: 4 ms instead of 1). A short block's missing taps read the pixel's first tap
// (always inside) and its missing filters zeros: their sums are never stored, and no lane
// needs a branch.
void CpuBackend::conv2d_direct_backward_kernel(const Tensor& x, const Tensor& gz,
                                               const ConvGeometry& g, Tensor& gkernel,
                                               Tensor& gbias) {
  dispatch_float(x.dtype(), "conv2d_direct_backward_kernel", [&](auto zero) {
    using T = decltype(zero);
    const T* xp = x.data<T>();
    const T* gp = gz.data<T>();
    const int64_t taps = g.patch_size(), F = gkernel.shape().back();
    const int64_t filter_blocks = (F + kFilterBlock - 1) / kFilterBlock;
    const int64_t tap_blocks = (taps + kTapBlock - 1) / kTapBlock;
    const Taps& tap = kernel_taps(g);
    const InteriorColumns inside = interior_columns(g);
    const int64_t pixel_step = g.stride_w * g.channels;
    parallel_for(tap_blocks * filter_blocks, 1, [&](int64_t item0, int64_t item1) {
      // Per item: its taps' offsets and its sums, in this thread's scratch.
      int64_t* item_offsets = scratch<int64_t>(0, (item1 - item0) * kTapBlock);
      FilterVector<T>* item_sums = scratch<FilterVector<T>>(0, (item1 - item0) * kTapBlock);
      std::fill(item_sums, item_sums + (item1 - item0) * kTapBlock, FilterVector<T>{});
      // The bias gradient: summed by the items of the first block of taps, per filter block.
      FilterVector<T>* bias_sums = scratch<FilterVector<T>>(1, item1 - item0);
      std::fill(bias_sums, bias_sums + (item1 - item0), FilterVector<T>{});
      for (int64_t item = item0; item < item1; ++item) {
        const int64_t t0 = item / filter_blocks * kTapBlock;
        for (int64_t t = 0; t < kTapBlock; ++t)
          item_offsets[(item - item0) * kTapBlock + t] = t0 + t < taps ? tap.offset[t0 + t] : 0;
      }
      for (int64_t n = 0; n < g.batch; ++n) {
        for (int64_t oh = 0; oh < g.out_h; ++oh) {
          const int64_t first = rows_inside(g, oh) ? inside.first : g.out_w;
          const int64_t last = rows_inside(g, oh) ? inside.last : g.out_w;
          const int64_t origin_row = origin_offset(g, n, oh);
          for (int64_t item = item0; item < item1; ++item) {
            const int64_t t0 = item / filter_blocks * kTapBlock;
            const int64_t f0 = item % filter_blocks * kFilterBlock;
            const int64_t tb = std::min<int64_t>(kTapBlock, taps - t0);
            const int64_t width = std::min<int64_t>(kFilterBlock, F - f0);
            FilterVector<T>* sums = item_sums + (item - item0) * kTapBlock;
            FilterVector<T>* bias_sum = bias_sums + (item - item0);
            const bool with_bias = gbias.defined() && t0 == 0;
            const T* gz_row = gp + (n * g.out_h + oh) * g.out_w * F + f0;
            auto border_pixel = [&](int64_t ow) {
              const FilterVector<T> grad = load_partial_block(gz_row + ow * F, width);
              for (int64_t t = 0; t < tb; ++t)
                sums[t] += tap_value(xp, g, tap, n, oh, ow, t0 + t) * grad;
              if (with_bias) *bias_sum += grad;
            };
            for (int64_t ow = 0; ow < first; ++ow) border_pixel(ow);
            if (first < last) {
              const T* origin = xp + origin_row + first * pixel_step;
              const int64_t* block_offsets = item_offsets + (item - item0) * kTapBlock;
              const T* grad = gz_row + first * F;
              const int64_t count = last - first;
              if (width == kFilterBlock && with_bias) {
                add_interior_pixels<true, true>(origin, pixel_step, grad, F, count, width,
                                                block_offsets, sums, bias_sum);
              } else if (width == kFilterBlock) {
                add_interior_pixels<true, false>(origin, pixel_step, grad, F, count, width,
                                                 block_offsets, sums, bias_sum);
              } else if (with_bias) {
                add_interior_pixels<false, true>(origin, pixel_step, grad, F, count, width,
                                                 block_offsets, sums, bias_sum);
              } else {
                add_interior_pixels<false, false>(origin, pixel_step, grad, F, count, width,
                                                  block_offsets, sums, bias_sum);
              }
            }
            for (int64_t ow = std::max(first, last); ow < g.out_w; ++ow) border_pixel(ow);
          }
        }
      }
      T* kp = gkernel.data<T>();
      for (int64_t item = item0; item < item1; ++item) {
        const int64_t t0 = item / filter_blocks * kTapBlock;
        const int64_t f0 = item % filter_blocks * kFilterBlock;
        const int64_t tb = std::min<int64_t>(kTapBlock, taps - t0);
        const int64_t width = std::min<int64_t>(kFilterBlock, F - f0);
        for (int64_t t = 0; t < tb; ++t)
          store_block(kp + (t0 + t) * F + f0, item_sums[(item - item0) * kTapBlock + t], width);
        if (gbias.defined() && t0 == 0)
          store_block(gbias.data<T>() + f0, bias_sums[item - item0], width);
      }
    });
  });
}

}  // namespace fastnn
