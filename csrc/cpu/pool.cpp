// Max and average pooling, channels last: x (N, H, W, C) -> y (N, OH, OW, C); argmax (int32,
// y's shape) holds h * W + w of the element each max came from. 1D and global pooling are
// these kernels with a height of 1 or a window of the whole image (ops/pool.cpp).
//
// Forward loops run over output rows (n, oh) in parallel, each writing its own outputs, with
// the channel loop innermost so it reads contiguous memory. Backward loops scatter into gx
// one sample per task, in output order, so overlapping windows add up in the same order
// whatever the thread count.
#include <algorithm>
#include <cstring>

#include "core/parallel.h"
#include "cpu/backend_cpu.h"
#include "math/pool.h"

namespace fastnn {

namespace {
// The valid input rows [begin, end) of window `o` along one axis (padding excluded; every
// window of "valid" or TensorFlow's "same" padding holds at least one).
struct Span {
  int64_t begin, end;
};
inline Span window(int64_t o, int64_t stride, int64_t pad, int64_t size, int64_t extent) {
  int64_t start = o * stride - pad;
  return {std::max<int64_t>(start, 0), std::min(start + size, extent)};
}

// One output row of 2x2 max pooling whose windows lie inside x (no padding): each output
// pixel's channels compare the window's four values in registers and store once. (The
// general loop keeps the running max in y, a store and a reload per window element: with
// few channels, LeNet's 10, its short loops ran at ~5 GB/s.)
//
// With fewer channels than a 64-byte vector holds but at least half as many (LeNet's 10),
// the channel loop is too short to vectorise: each pixel is then one vector per window
// element, whose lanes past C read the next pixel's values and write garbage that the next
// pixel's store overwrites. The row's last pixel, whose lanes would reach the next row
// (another thread's), takes the channel loop. Reads stay inside x: with 2C >= lanes the
// last vector pixel's bottom-right load ends before the row does.
template <class T>
bool pool_2x2_in_vectors(const Pool2DGeometry& g) {
  constexpr int64_t lanes = 64 / sizeof(T);
  return g.C < lanes && 2 * g.C >= lanes && (g.stride_w + 1) * g.C >= lanes;
}

template <class T>
int64_t max_pool_2x2_vector_pixels(const Pool2DGeometry& g, const T* top, const T* bottom,
                                   int64_t h, T* y, int32_t* where) {
  typedef T vector __attribute__((vector_size(64)));
  typedef int32_t indices __attribute__((vector_size(64 / sizeof(T) * sizeof(int32_t))));
  typedef decltype(vector{} > vector{}) mask;
  constexpr size_t lanes = 64 / sizeof(T);
  const int64_t C = g.C;
  auto load = [](const T* p) {
    vector v;
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  // math::max_pool_takes on every lane (NaN wins over a number).
  auto takes = [](vector value, vector held) -> mask {
    return (value > held) | ((value != value) & (held == held));
  };
  for (int64_t ow = 0; ow + 1 < g.OW; ++ow) {
    const int64_t w = ow * g.stride_w;
    const vector a = load(top + w * C), b = load(top + (w + 1) * C);
    const vector c = load(bottom + w * C), d = load(bottom + (w + 1) * C);
    const int32_t ia = static_cast<int32_t>(h * g.W + w);
    const int32_t ic = ia + static_cast<int32_t>(g.W);
    vector m = a;
    indices i = indices{} + ia;
    auto take = [&](vector v, int32_t at) {
      const mask t = takes(v, m);
      m = t ? v : m;
      i = __builtin_convertvector(t, indices) ? indices{} + at : i;
    };
    take(b, ia + 1);
    take(c, ic);
    take(d, ic + 1);
    std::memcpy(y + ow * C, &m, sizeof m);
    std::memcpy(where + ow * C, &i, lanes * sizeof(int32_t));
  }
  return std::max<int64_t>(g.OW - 1, 0);
}

template <class T>
void max_pool_2x2_row(const Pool2DGeometry& g, const T* xn, int64_t h, T* y, int32_t* where) {
  const int64_t C = g.C;
  const T* top = xn + h * g.W * C;
  const T* bottom = top + g.W * C;
  const int64_t vector_pixels =
      pool_2x2_in_vectors<T>(g) ? max_pool_2x2_vector_pixels(g, top, bottom, h, y, where) : 0;
  for (int64_t ow = vector_pixels; ow < g.OW; ++ow) {
    const int64_t w = ow * g.stride_w;
    const T* __restrict a = top + w * C;
    const T* __restrict b = a + C;
    const T* __restrict c = bottom + w * C;
    const T* __restrict d = c + C;
    T* __restrict best = y + ow * C;
    int32_t* __restrict at = where + ow * C;
    const int32_t ia = static_cast<int32_t>(h * g.W + w), ib = ia + 1;
    const int32_t ic = ia + static_cast<int32_t>(g.W), id = ic + 1;
    for (int64_t k = 0; k < C; ++k) {
      T m = a[k];
      int32_t i = ia;
      if (math::max_pool_takes(b[k], m)) m = b[k], i = ib;
      if (math::max_pool_takes(c[k], m)) m = c[k], i = ic;
      if (math::max_pool_takes(d[k], m)) m = d[k], i = id;
      best[k] = m;
      at[k] = i;
    }
  }
}

// Samples per backward task: a sample's gx is written by one task only.
int64_t sample_grain(const Pool2DGeometry& g) {
  return row_grain(kElementwiseGrain, g.OH * g.OW * g.C * g.pool_h * g.pool_w);
}
// Output rows (n, oh) per forward task.
int64_t row_grain_of(const Pool2DGeometry& g) {
  return row_grain(kElementwiseGrain, g.OW * g.C * g.pool_h * g.pool_w);
}
}  // namespace

void CpuBackend::max_pool2d_forward(const Pool2DGeometry& g, const Tensor& x, Tensor& y,
                                    Tensor& argmax) {
  dispatch_float(x.dtype(), "max_pool2d", [&](auto zero) {
    using T = decltype(zero);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    int32_t* ap = argmax.data<int32_t>();
    const int64_t C = g.C;
    const bool two_by_two_inside = g.pool_h == 2 && g.pool_w == 2 && g.pad_top == 0 &&
                                   g.pad_left == 0 && (g.OH - 1) * g.stride_h + 2 <= g.H &&
                                   (g.OW - 1) * g.stride_w + 2 <= g.W;
    parallel_for(g.N * g.OH, row_grain_of(g), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t n = r / g.OH, oh = r % g.OH;
        const Span hs = window(oh, g.stride_h, g.pad_top, g.pool_h, g.H);
        const T* xn = xp + n * g.H * g.W * C;
        if (two_by_two_inside) {
          max_pool_2x2_row(g, xn, hs.begin, yp + r * g.OW * C, ap + r * g.OW * C);
          continue;
        }
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const Span ws = window(ow, g.stride_w, g.pad_left, g.pool_w, g.W);
          T* best = yp + (r * g.OW + ow) * C;
          int32_t* where = ap + (r * g.OW + ow) * C;
          // The window's first element starts the max; the others are compared with it.
          // (A few channels make the per-pixel work small: calls and a compare of the first
          // element with itself cost as much as the compares; LeNet's first pool, 10
          // channels, ran at 4-5 GB/s with them.)
          const int32_t first = static_cast<int32_t>(hs.begin * g.W + ws.begin);
          const T* v0 = xn + first * C;
          for (int64_t c = 0; c < C; ++c) {
            best[c] = v0[c];
            where[c] = first;
          }
          for (int64_t h = hs.begin; h < hs.end; ++h)
            for (int64_t w = ws.begin; w < ws.end; ++w) {
              const int32_t at = static_cast<int32_t>(h * g.W + w);
              if (at == first) continue;
              const T* v = xn + at * C;
              for (int64_t c = 0; c < C; ++c) {
                // Selects, not branches, so the channel loop vectorises.
                const T value = v[c], held = best[c];
                const bool take = math::max_pool_takes(value, held);
                best[c] = take ? value : held;
                where[c] = take ? at : where[c];
              }
            }
        }
      }
    });
  });
}

void CpuBackend::max_pool2d_backward(const Pool2DGeometry& g, const Tensor& gy,
                                     const Tensor& argmax, Tensor& gx) {
  dispatch_float(gy.dtype(), "max_pool2d backward", [&](auto zero) {
    using T = decltype(zero);
    const T* gyp = gy.data<T>();
    const int32_t* ap = argmax.data<int32_t>();
    T* gxp = gx.data<T>();
    const int64_t C = g.C, in_sample = g.H * g.W * C, out_sample = g.OH * g.OW * C;
    parallel_for(g.N, sample_grain(g), [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        T* gxn = gxp + n * in_sample;
        std::fill(gxn, gxn + in_sample, T(0));
        const T* gyn = gyp + n * out_sample;
        const int32_t* an = ap + n * out_sample;
        for (int64_t o = 0; o < g.OH * g.OW; ++o)
          for (int64_t c = 0; c < C; ++c) gxn[an[o * C + c] * C + c] += gyn[o * C + c];
      }
    });
  });
}

void CpuBackend::avg_pool2d_forward(const Pool2DGeometry& g, const Tensor& x, Tensor& y) {
  dispatch_float(x.dtype(), "avg_pool2d", [&](auto zero) {
    using T = decltype(zero);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    const int64_t C = g.C;
    parallel_for(g.N * g.OH, row_grain_of(g), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t n = r / g.OH, oh = r % g.OH;
        const Span hs = window(oh, g.stride_h, g.pad_top, g.pool_h, g.H);
        const T* xn = xp + n * g.H * g.W * C;
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const Span ws = window(ow, g.stride_w, g.pad_left, g.pool_w, g.W);
          T* out = yp + (r * g.OW + ow) * C;
          std::fill(out, out + C, T(0));
          for (int64_t h = hs.begin; h < hs.end; ++h)
            for (int64_t w = ws.begin; w < ws.end; ++w) {
              const T* v = xn + (h * g.W + w) * C;
              for (int64_t c = 0; c < C; ++c) out[c] += v[c];
            }
          const T inv_count = T(1) / T((hs.end - hs.begin) * (ws.end - ws.begin));
          for (int64_t c = 0; c < C; ++c) out[c] *= inv_count;
        }
      }
    });
  });
}

void CpuBackend::avg_pool2d_backward(const Pool2DGeometry& g, const Tensor& gy, Tensor& gx) {
  dispatch_float(gy.dtype(), "avg_pool2d backward", [&](auto zero) {
    using T = decltype(zero);
    const T* gyp = gy.data<T>();
    T* gxp = gx.data<T>();
    const int64_t C = g.C, in_sample = g.H * g.W * C, out_sample = g.OH * g.OW * C;
    parallel_for(g.N, sample_grain(g), [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        T* gxn = gxp + n * in_sample;
        std::fill(gxn, gxn + in_sample, T(0));
        const T* gyn = gyp + n * out_sample;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const Span hs = window(oh, g.stride_h, g.pad_top, g.pool_h, g.H);
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            const Span ws = window(ow, g.stride_w, g.pad_left, g.pool_w, g.W);
            const T inv_count = T(1) / T((hs.end - hs.begin) * (ws.end - ws.begin));
            const T* go = gyn + (oh * g.OW + ow) * C;
            for (int64_t h = hs.begin; h < hs.end; ++h)
              for (int64_t w = ws.begin; w < ws.end; ++w) {
                T* gv = gxn + (h * g.W + w) * C;
                for (int64_t c = 0; c < C; ++c) gv[c] += go[c] * inv_count;
              }
          }
        }
      }
    });
  });
}

}  // namespace fastnn
