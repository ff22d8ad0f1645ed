// Stride-1 3x3 convolutions as Winograd F(4x4, 3x3) (math/winograd.h), channels-last:
//   x      (N, H, W, C)      input images
//   u      (36, C, F)        the kernel (3, 3, C, F) transformed: G g G^T per (channel, filter)
//   tiles  (N, ceil(OH / 4), ceil(OW / 4)) in that order; tile t's 4x4 outputs read the 6x6
//          inputs from (4 * tile_row - pad_top, 4 * tile_col - pad_left), zero outside x
//   v      (36, tiles, C)    the tiles transformed: B^T d B per channel
//   m      (36, tiles, F)    = v[p] @ u[p] at each of the 36 points p: 36 GEMMs
//   y      (N, OH, OW, F)    = A^T m A per tile and filter
// Tiles go through in blocks small enough that a block's v and m stay in the core's cache
// between their transforms and the GEMMs (OpenBLAS computes the GEMMs, a block's products in
// one call per point). The input gradient is the same convolution of gz with the kernel
// rotated by 180 degrees and its channel axes swapped (u from winograd_kernel_transform with
// flip); the kernel gradient is the adjoint: gu[p] = sum over tiles of v[p]^T (A gy A^T)[p],
// then G^T gu G.
#include <algorithm>
#include <cstring>

#include "core/parallel.h"
#include "cpu/backend_cpu.h"
#include "cpu/blas.h"
#include "math/winograd.h"

namespace fastnn {
namespace {

using math::kWinogradOut;
using math::kWinogradPoints;
using math::kWinogradTile;

// A block's v and m (36 x tiles x (C + F) values) in at most this much: half of a core's L2
// on the machines we measure (1-2 MiB), the GEMM's packed operands and u's rows take the rest.
// But at least 32 tiles: the GEMMs' rows, and the kernel gradient's inner dimension, are the
// block's tiles, and thinner GEMMs lost more than the cache gave (512 channels and filters:
// 0.77x the lowered GEMM's speed with 8-tile blocks, 1.14x with 32).
constexpr double kBlockBytes = 512 * 1024;
constexpr int64_t kMinBlockTiles = 32, kMaxBlockTiles = 96;

// Tiles per block, from the channel counts only (never the thread count): a block's results
// do not depend on which thread computes it.
template <class T>
int64_t tiles_per_block(int64_t channels, int64_t filters) {
  const double tiles =
      kBlockBytes / (double(kWinogradPoints) * double(channels + filters) * sizeof(T));
  return std::clamp<int64_t>(static_cast<int64_t>(tiles), kMinBlockTiles, kMaxBlockTiles);
}

// Values between consecutive points' matrices in v, m and the kernel gradient's buffers: a
// block's size plus one cache line. A tile's transform writes (and reads) one row of each of
// the 36 matrices; 8 or 16 KiB apart, as a whole block's are, they all fell in the same L1
// sets and 4K-aliased the loads after them (the input transform ran 3x slower).
template <class T>
int64_t point_step(int64_t values) {
  return values + 64 / sizeof(T);
}

// The tile grid over the outputs.
struct Tiles {
  int64_t rows, cols, per_image, count;
  explicit Tiles(const ConvGeometry& g)
      : rows(math::winograd_tiles_across(g.out_h)),
        cols(math::winograd_tiles_across(g.out_w)),
        per_image(rows * cols),
        count(g.batch * rows * cols) {}
  // Tile t's image and its first output row and column.
  struct Origin {
    int64_t n, h, w;
  };
  Origin origin(int64_t t) const {
    const int64_t r = t % per_image;
    return {t / per_image, (r / cols) * kWinogradOut, (r % cols) * kWinogradOut};
  }
};

void point_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a,
                int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  blas_sgemm(trans_a, trans_b, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}
void point_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const double* a,
                int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  blas_dgemm(trans_a, trans_b, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
}

// The 6x6 input tile of tile `t` in x, as a pointer and steps between its rows and columns:
// x itself when the tile lies inside, else a copy with zeros for the padding in `patch`
// (36 x C values).
template <class T>
const T* input_tile(const T* x, const ConvGeometry& g, const Tiles& tiles, int64_t t, T* patch,
                    int64_t& row_step) {
  const int64_t C = g.channels;
  const Tiles::Origin o = tiles.origin(t);
  const int64_t h0 = o.h - g.pad_top, w0 = o.w - g.pad_left;
  const T* image = x + o.n * g.in_h * g.in_w * C;
  if (h0 >= 0 && w0 >= 0 && h0 + kWinogradTile <= g.in_h && w0 + kWinogradTile <= g.in_w) {
    row_step = g.in_w * C;
    return image + (h0 * g.in_w + w0) * C;
  }
  // A row's pixels inside x are one contiguous run: one copy, zeros on either side.
  row_step = kWinogradTile * C;
  const int64_t j0 = std::clamp<int64_t>(-w0, 0, kWinogradTile);
  const int64_t j1 = std::clamp<int64_t>(g.in_w - w0, j0, kWinogradTile);
  for (int64_t i = 0; i < kWinogradTile; ++i) {
    const int64_t h = h0 + i;
    T* dst = patch + i * kWinogradTile * C;
    if (h < 0 || h >= g.in_h) {
      std::fill(dst, dst + kWinogradTile * C, T(0));
      continue;
    }
    std::fill(dst, dst + j0 * C, T(0));
    if (j1 > j0) std::copy_n(image + (h * g.in_w + w0 + j0) * C, (j1 - j0) * C, dst + j0 * C);
    std::fill(dst + j1 * C, dst + kWinogradTile * C, T(0));
  }
  return patch;
}

// A tile's channels go through its 2-D transform a register at a time: a 64-byte GCC vector
// (one AVX-512 register; narrower targets split it) of channels per tile element, the whole
// tile held in registers between the two passes. (Loops over each line's channels, 12 short
// loops per tile, ran at ~1000 cycles per 16 channels of a tile: 3-5x slower.)
template <class T>
struct Lanes {
  typedef T vector __attribute__((vector_size(64)));
  static constexpr int64_t count = 64 / sizeof(T);
};

template <class V, class T>
V load(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class V, class T>
void store(T* p, const V& v) {
  std::memcpy(p, &v, sizeof v);
}

// One chunk of channels (V: a vector of them, or one) of a kIn x kIn tile, element (i, j) at
// in + i * in_row + j * in_col, through `line` down its columns then along its rows, to the
// kOut x kOut result, element (i, j) at out + i * out_row + j * out_col.
template <int kIn, int kOut, class V, class T, class Line>
void transform_chunk(const T* in, int64_t in_row, int64_t in_col, T* out, int64_t out_row,
                     int64_t out_col, Line line) {
  V half[kOut][kIn];  // after the column pass: (output row, input column)
  for (int j = 0; j < kIn; ++j) {
    V a[kIn], b[kOut];
    for (int i = 0; i < kIn; ++i) a[i] = load<V>(in + i * in_row + j * in_col);
    line(a, b);
    for (int i = 0; i < kOut; ++i) half[i][j] = b[i];
  }
  for (int i = 0; i < kOut; ++i) {
    V b[kOut];
    line(half[i], b);
    for (int j = 0; j < kOut; ++j) store(out + i * out_row + j * out_col, b[j]);
  }
}

// The same for `channels` contiguous channels: whole registers, then one at a time.
template <int kIn, int kOut, class T, class Line>
void transform_tile(const T* in, int64_t in_row, int64_t in_col, T* out, int64_t out_row,
                    int64_t out_col, int64_t channels, Line line) {
  int64_t c = 0;
  for (; c + Lanes<T>::count <= channels; c += Lanes<T>::count)
    transform_chunk<kIn, kOut, typename Lanes<T>::vector>(in + c, in_row, in_col, out + c,
                                                          out_row, out_col, line);
  for (; c < channels; ++c)
    transform_chunk<kIn, kOut, T>(in + c, in_row, in_col, out + c, out_row, out_col, line);
}

// The transforms, generic over the value type (GCC vectors or one value).
const auto input_line = [](const auto& a, auto& b) { math::winograd_input_line(a, b); };
const auto kernel_line = [](const auto& a, auto& b) { math::winograd_kernel_line(a, b); };
const auto output_line = [](const auto& a, auto& b) { math::winograd_output_line(a, b); };
const auto output_gradient_line = [](const auto& a, auto& b) {
  math::winograd_output_gradient_line(a, b);
};
const auto kernel_gradient_line = [](const auto& a, auto& b) {
  math::winograd_kernel_gradient_line(a, b);
};

}  // namespace

void CpuBackend::winograd_kernel_transform(const Tensor& kernel, bool flip, Tensor& u) {
  dispatch_float(kernel.dtype(), "winograd_kernel_transform", [&](auto zero) {
    using T = decltype(zero);
    const T* k = kernel.data<T>();
    T* up = u.data<T>();
    const int64_t C = kernel.shape()[2], F = kernel.shape()[3];
    // One input channel per iteration, its F filters side by side.
    parallel_for(C, row_grain(kElementwiseGrain, 64 * F), [&](int64_t c0, int64_t c1) {
      T* g = scratch<T>(0, 9 * F);
      T* out = scratch<T>(1, kWinogradPoints * F);
      for (int64_t c = c0; c < c1; ++c) {
        // g (3, 3, F): tap (i, j) of every filter; flipped, the kernel rotated by 180 degrees.
        for (int64_t tap = 0; tap < 9; ++tap) {
          const int64_t source = flip ? 8 - tap : tap;
          std::copy_n(k + (source * C + c) * F, F, g + tap * F);
        }
        transform_tile<3, 6>(g, 3 * F, F, out, 6 * F, F, F, kernel_line);
        for (int64_t p = 0; p < kWinogradPoints; ++p) {
          const T* src = out + p * F;
          if (!flip) {
            std::copy_n(src, F, up + (p * C + c) * F);
          } else {  // u (36, F, C): this channel is a column
            for (int64_t f = 0; f < F; ++f) up[(p * F + f) * C + c] = src[f];
          }
        }
      }
    });
  });
}

void CpuBackend::conv2d_winograd_forward(const Tensor& x, const Tensor& u, const ConvGeometry& g,
                                         Tensor& y) {
  dispatch_float(x.dtype(), "conv2d_winograd_forward", [&](auto zero) {
    using T = decltype(zero);
    const T* xp = x.data<T>();
    const T* up = u.data<T>();
    T* yp = y.data<T>();
    const int64_t C = g.channels, F = y.shape().back();
    const Tiles tiles(g);
    const int64_t block = tiles_per_block<T>(C, F);
    const int64_t blocks = (tiles.count + block - 1) / block;
    const int64_t v_step = point_step<T>(block * C), m_step = point_step<T>(block * F);
    parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
      T* v = scratch<T>(0, kWinogradPoints * v_step);
      T* m = scratch<T>(1, kWinogradPoints * m_step);
      T* patch = scratch<T>(2, kWinogradPoints * C);
      T* corner = scratch<T>(3, kWinogradOut * kWinogradOut * F);  // a clipped tile's outputs
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t first = b * block, count = std::min(block, tiles.count - first);
        for (int64_t i = 0; i < count; ++i) {
          int64_t row_step = 0;
          const T* tile = input_tile(xp, g, tiles, first + i, patch, row_step);
          transform_tile<6, 6>(tile, row_step, C, v + i * C, kWinogradTile * v_step, v_step, C,
                               input_line);
        }
        for (int64_t p = 0; p < kWinogradPoints; ++p)
          point_gemm(false, false, count, F, C, v + p * v_step, C, up + p * C * F, F, T(0),
                     m + p * m_step, F);
        for (int64_t i = 0; i < count; ++i) {
          const auto [n, h0, w0] = tiles.origin(first + i);
          T* out = yp + ((n * g.out_h + h0) * g.out_w + w0) * F;
          if (h0 + kWinogradOut <= g.out_h && w0 + kWinogradOut <= g.out_w) {
            transform_tile<6, 4>(m + i * F, kWinogradTile * m_step, m_step, out, g.out_w * F, F,
                                 F, output_line);
            continue;
          }
          // A tile over the bottom or right edge: the outputs inside are copied out.
          transform_tile<6, 4>(m + i * F, kWinogradTile * m_step, m_step, corner,
                               kWinogradOut * F, F, F, output_line);
          const int64_t rows = std::min<int64_t>(kWinogradOut, g.out_h - h0);
          const int64_t cols = std::min<int64_t>(kWinogradOut, g.out_w - w0);
          for (int64_t a = 0; a < rows; ++a)
            std::copy_n(corner + a * kWinogradOut * F, cols * F, out + a * g.out_w * F);
        }
      }
    });
  });
}

// Work items are groups of filters, fixed by F and the machine's core count: an item sums its
// gkernel values over every tile, block after block, so the result does not depend on the
// thread count. Each item transforms every input tile (the price of no cross-thread sums:
// the input transforms are a small part of the work), and only its own filters' gradients.
void CpuBackend::conv2d_winograd_backward_kernel(const Tensor& x, const Tensor& gz,
                                                 const ConvGeometry& g, Tensor& gkernel) {
  dispatch_float(x.dtype(), "conv2d_winograd_backward_kernel", [&](auto zero) {
    using T = decltype(zero);
    const T* xp = x.data<T>();
    const T* gp = gz.data<T>();
    T* kp = gkernel.data<T>();
    const int64_t C = g.channels, F = gz.shape().back();
    const Tiles tiles(g);
    constexpr int64_t kFilterAlign = 16;
    int64_t groups = std::clamp<int64_t>(F / kFilterAlign, 1, hardware_threads());
    int64_t width = (F + groups - 1) / groups;
    width = (width + kFilterAlign - 1) / kFilterAlign * kFilterAlign;
    groups = (F + width - 1) / width;
    const int64_t block = tiles_per_block<T>(C, width);
    const int64_t v_step = point_step<T>(block * C), gm_step = point_step<T>(block * width);
    const int64_t gu_step = point_step<T>(C * width);
    parallel_for(groups, 1, [&](int64_t g0, int64_t g1) {
      T* gu = scratch<T>(0, kWinogradPoints * gu_step);
      T* v = scratch<T>(1, kWinogradPoints * v_step);
      T* gm = scratch<T>(2, kWinogradPoints * gm_step);
      T* patch = scratch<T>(3, kWinogradPoints * std::max(C, width));
      for (int64_t group = g0; group < g1; ++group) {
        const int64_t f0 = group * width, fw = std::min(width, F - f0);
        for (int64_t first = 0; first < tiles.count; first += block) {
          const int64_t count = std::min(block, tiles.count - first);
          for (int64_t i = 0; i < count; ++i) {
            const int64_t t = first + i;
            int64_t row_step = 0;
            const T* tile = input_tile(xp, g, tiles, t, patch, row_step);
            transform_tile<6, 6>(tile, row_step, C, v + i * C, kWinogradTile * v_step, v_step, C,
                                 input_line);
            // The tile's output gradients; outside the outputs (a clipped tile) zero.
            const auto [n, h0, w0] = tiles.origin(t);
            const T* gy = gp + ((n * g.out_h + h0) * g.out_w + w0) * F + f0;
            if (h0 + kWinogradOut <= g.out_h && w0 + kWinogradOut <= g.out_w) {
              transform_tile<4, 6>(gy, g.out_w * F, F, gm + i * fw, kWinogradTile * gm_step,
                                   gm_step, fw, output_gradient_line);
              continue;
            }
            for (int64_t a = 0; a < kWinogradOut; ++a)
              for (int64_t b = 0; b < kWinogradOut; ++b) {
                T* dst = patch + (a * kWinogradOut + b) * fw;
                if (h0 + a < g.out_h && w0 + b < g.out_w) {
                  std::copy_n(gy + (a * g.out_w + b) * F, fw, dst);
                } else {
                  std::fill(dst, dst + fw, T(0));
                }
              }
            transform_tile<4, 6>(patch, kWinogradOut * fw, fw, gm + i * fw, kWinogradTile * gm_step,
                                 gm_step, fw, output_gradient_line);
          }
          // gu[p] (C, fw) += v[p]^T (C, count) @ gm[p] (count, fw)
          for (int64_t p = 0; p < kWinogradPoints; ++p)
            point_gemm(true, false, C, fw, count, v + p * v_step, C, gm + p * gm_step, fw,
                       first == 0 ? T(0) : T(1), gu + p * gu_step, fw);
        }
        // gkernel (3, 3, C, F)[..., f0 : f0 + fw] = G^T gu G per channel.
        for (int64_t c = 0; c < C; ++c)
          transform_tile<6, 3>(gu + c * fw, kWinogradTile * gu_step, gu_step, kp + c * F + f0,
                               3 * C * F, C * F, fw, kernel_gradient_line);
      }
    });
  });
}

}  // namespace fastnn
