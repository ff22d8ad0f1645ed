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
  const double tiles = kBlockBytes / (double(kWinogradPoints) * double(channels + filters) * sizeof(T));
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
      : rows((g.out_h + kWinogradOut - 1) / kWinogradOut),
        cols((g.out_w + kWinogradOut - 1) / kWinogradOut),
        per_image(rows * cols),
        count(g.batch * rows * cols) {}
};

void point_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
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
  const int64_t n = t / tiles.per_image, r = t % tiles.per_image;
  const int64_t h0 = (r / tiles.cols) * kWinogradOut - g.pad_top;
  const int64_t w0 = (r % tiles.cols) * kWinogradOut - g.pad_left;
  const T* image = x + n * g.in_h * g.in_w * C;
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

// Six lines of `length` values through a 1-D transform: line j's value i at
// in[j * in_step + i], its result's at out[j * out_step + i] (the loop over i vectorizes).
template <int kIn, int kOut, class T, class Line>
void transform_lines(const T* __restrict in, int64_t in_step, T* __restrict out, int64_t out_step,
                     int64_t length, Line line) {
  for (int64_t i = 0; i < length; ++i) {
    T a[kIn], b[kOut];
    for (int j = 0; j < kIn; ++j) a[j] = in[j * in_step + i];
    line(a, b);
    for (int j = 0; j < kOut; ++j) out[j * out_step + i] = b[j];
  }
}

// B^T d B of one tile into v: point p's C values at v + p * v_step. `columns` (36 x C) holds
// the column pass.
template <class T>
void transform_input_tile(const T* tile, int64_t row_step, int64_t C, T* columns, T* v,
                          int64_t v_step) {
  auto line = [](const T(&d)[6], T(&r)[6]) { math::winograd_input_line(d, r); };
  // Down each column j: rows i of the tile -> rows of columns (i, j).
  for (int64_t j = 0; j < kWinogradTile; ++j)
    transform_lines<6, 6>(tile + j * C, row_step, columns + j * C, kWinogradTile * C, C, line);
  // Along each row i: columns j -> points (i, j).
  for (int64_t i = 0; i < kWinogradTile; ++i)
    transform_lines<6, 6>(columns + i * kWinogradTile * C, C, v + i * kWinogradTile * v_step,
                          v_step, C, line);
}

// A^T m A of one tile: point p's F values at m + p * m_step, the 4x4 outputs (F each) to
// out, rows out_row_step apart. `rows` (4 x 6 x F) holds the first pass.
template <class T>
void transform_output_tile(const T* m, int64_t m_step, int64_t F, T* rows, T* out,
                           int64_t out_row_step) {
  auto line = [](const T(&a)[6], T(&b)[4]) { math::winograd_output_line(a, b); };
  // Down each column j: points (0..5, j) -> rows (0..3, j).
  for (int64_t j = 0; j < kWinogradTile; ++j)
    transform_lines<6, 4>(m + j * m_step, kWinogradTile * m_step, rows + j * F, kWinogradTile * F,
                          F, line);
  // Along each row i: (i, 0..5) -> outputs (i, 0..3).
  for (int64_t i = 0; i < kWinogradOut; ++i)
    transform_lines<6, 4>(rows + i * kWinogradTile * F, F, out + i * out_row_step, F, F, line);
}

// A gy A^T of one 4x4 tile of output gradients (`width` filters each, rows row_step apart)
// into gm: point p's values at gm + p * gm_step. `columns` (6 x 4 x width) holds the first pass.
template <class T>
void transform_gradient_tile(const T* tile, int64_t row_step, int64_t column_step, int64_t width,
                             T* columns, T* gm, int64_t gm_step) {
  auto line = [](const T(&a)[4], T(&b)[6]) { math::winograd_output_gradient_line(a, b); };
  // Down each column j: rows 0..3 -> rows (0..5, j).
  for (int64_t j = 0; j < kWinogradOut; ++j)
    transform_lines<4, 6>(tile + j * column_step, row_step, columns + j * width,
                          kWinogradOut * width, width, line);
  // Along each row i: (i, 0..3) -> points (i, 0..5).
  for (int64_t i = 0; i < kWinogradTile; ++i)
    transform_lines<4, 6>(columns + i * kWinogradOut * width, width,
                          gm + i * kWinogradTile * gm_step, gm_step, width, line);
}

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
      T* half = scratch<T>(1, 6 * 3 * F);
      T* out = scratch<T>(2, kWinogradPoints * F);
      auto line = [](const T(&a)[3], T(&b)[6]) { math::winograd_kernel_line(a, b); };
      for (int64_t c = c0; c < c1; ++c) {
        // g (3, 3, F): tap (i, j) of every filter; flipped, the kernel rotated by 180 degrees.
        for (int64_t tap = 0; tap < 9; ++tap) {
          const int64_t source = flip ? 8 - tap : tap;
          std::copy_n(k + (source * C + c) * F, F, g + tap * F);
        }
        for (int64_t j = 0; j < 3; ++j)  // down the kernel's columns: (3, j) -> (6, j)
          transform_lines<3, 6>(g + j * F, 3 * F, half + j * F, 3 * F, F, line);
        for (int64_t i = 0; i < 6; ++i)  // along rows: (i, 3) -> points (i, 0..5)
          transform_lines<3, 6>(half + i * 3 * F, F, out + i * 6 * F, F, F, line);
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
      T* patch = scratch<T>(2, kWinogradPoints * std::max(C, F));
      T* work = scratch<T>(3, kWinogradPoints * std::max(C, F) + kWinogradOut * kWinogradOut * F);
      T* corner = work + kWinogradPoints * std::max(C, F);  // a clipped tile's 4x4 outputs
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t first = b * block, count = std::min(block, tiles.count - first);
        for (int64_t i = 0; i < count; ++i) {
          int64_t row_step = 0;
          const T* tile = input_tile(xp, g, tiles, first + i, patch, row_step);
          transform_input_tile(tile, row_step, C, work, v + i * C, v_step);
        }
        for (int64_t p = 0; p < kWinogradPoints; ++p)
          point_gemm(false, false, count, F, C, v + p * v_step, C, up + p * C * F, F, T(0),
                     m + p * m_step, F);
        for (int64_t i = 0; i < count; ++i) {
          const int64_t t = first + i, n = t / tiles.per_image, r = t % tiles.per_image;
          const int64_t h0 = (r / tiles.cols) * kWinogradOut, w0 = (r % tiles.cols) * kWinogradOut;
          T* out = yp + ((n * g.out_h + h0) * g.out_w + w0) * F;
          if (h0 + kWinogradOut <= g.out_h && w0 + kWinogradOut <= g.out_w) {
            transform_output_tile(m + i * F, m_step, F, work, out, g.out_w * F);
            continue;
          }
          // A tile over the bottom or right edge: the outputs inside are copied out.
          transform_output_tile(m + i * F, m_step, F, work, corner, kWinogradOut * F);
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
      T* work = scratch<T>(3, kWinogradPoints * std::max(C, width) * 2);
      T* patch = work + kWinogradPoints * std::max(C, width);
      for (int64_t group = g0; group < g1; ++group) {
        const int64_t f0 = group * width, fw = std::min(width, F - f0);
        for (int64_t first = 0; first < tiles.count; first += block) {
          const int64_t count = std::min(block, tiles.count - first);
          for (int64_t i = 0; i < count; ++i) {
            const int64_t t = first + i;
            int64_t row_step = 0;
            const T* tile = input_tile(xp, g, tiles, t, patch, row_step);
            transform_input_tile(tile, row_step, C, work, v + i * C, v_step);
            // The tile's output gradients; outside the outputs (a clipped tile) zero.
            const int64_t n = t / tiles.per_image, r = t % tiles.per_image;
            const int64_t h0 = (r / tiles.cols) * kWinogradOut, w0 = (r % tiles.cols) * kWinogradOut;
            const T* gy = gp + ((n * g.out_h + h0) * g.out_w + w0) * F + f0;
            if (h0 + kWinogradOut <= g.out_h && w0 + kWinogradOut <= g.out_w) {
              transform_gradient_tile(gy, g.out_w * F, F, fw, work, gm + i * fw, gm_step);
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
            transform_gradient_tile(patch, kWinogradOut * fw, fw, fw, work, gm + i * fw, gm_step);
          }
          // gu[p] (C, fw) += v[p]^T (C, count) @ gm[p] (count, fw)
          for (int64_t p = 0; p < kWinogradPoints; ++p)
            point_gemm(true, false, C, fw, count, v + p * v_step, C, gm + p * gm_step, fw,
                       first == 0 ? T(0) : T(1), gu + p * gu_step, fw);
        }
        // gkernel (3, 3, C, F)[..., f0 : f0 + fw] = G^T gu G per channel.
        auto line = [](const T(&a)[6], T(&b)[3]) { math::winograd_kernel_gradient_line(a, b); };
        T* half = work;               // (3, 6, fw)
        T* taps = work + 18 * fw;     // (3, 3, fw)
        for (int64_t c = 0; c < C; ++c) {
          for (int64_t j = 0; j < kWinogradTile; ++j)  // down columns: points (0..5, j) -> (0..2, j)
            transform_lines<6, 3>(gu + j * gu_step + c * fw, kWinogradTile * gu_step,
                                  half + j * fw, kWinogradTile * fw, fw, line);
          for (int64_t i = 0; i < 3; ++i)  // along rows: (i, 0..5) -> taps (i, 0..2)
            transform_lines<6, 3>(half + i * kWinogradTile * fw, fw, taps + i * 3 * fw, fw, fw,
                                  line);
          for (int64_t tap = 0; tap < 9; ++tap)
            std::copy_n(taps + tap * fw, fw, kp + (tap * C + c) * F + f0);
        }
      }
    });
  });
}

}  // namespace fastnn
