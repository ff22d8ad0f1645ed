// Max and average pooling, channels last (csrc/cpu/pool.cpp's counterpart; Pool2DGeometry in
// core/backend.h): x (N, H, W, C) -> y (N, OH, OW, C); argmax (int32, y's shape) holds
// h * W + w of the element each max came from. 1D and global pooling are these kernels with a
// height of 1 or a window of the whole image (ops/pool.cpp).
//
// Forwards: one thread per output element, walking its window as the CPU does. Backwards:
// one thread per input element gathering from the windows that cover it, in output order
// (oh, then ow), which is the order the CPU's scatter adds them in: no atomics, and each
// gradient is summed in the CPU's order.
#include "cuda/common.cuh"
#include "math/pool.h"

namespace fastnn {

namespace {

// The valid input rows [begin, end) of window `o` along one axis (padding excluded).
struct Span {
  int64_t begin, end;
};
__device__ inline Span window(int64_t o, int64_t stride, int64_t pad, int64_t size,
                              int64_t extent) {
  const int64_t start = o * stride - pad;
  return {start > 0 ? start : 0, start + size < extent ? start + size : extent};
}

// The windows [first, last] (possibly none: first > last) along one axis whose span holds
// input position i: o * stride - pad <= i < o * stride - pad + size, and 0 <= o < out.
struct Windows {
  int64_t first, last;
};
__device__ inline Windows covering(int64_t i, int64_t stride, int64_t pad, int64_t size,
                                   int64_t out) {
  const int64_t top = i + pad;  // o * stride <= top < o * stride + size
  const int64_t first = top < size ? 0 : (top - size) / stride + 1;
  const int64_t last = top / stride < out - 1 ? top / stride : out - 1;
  return {first, last};
}

// y[n, oh, ow, c] = the window's maximum, argmax its h * W + w: the first maximum, or the
// first NaN (math::max_pool_takes). One thread per y element.
template <class T>
void max_pool2d_forward_values(cudaStream_t stream, Pool2DGeometry g, const Tensor& x, Tensor& y,
                               Tensor& argmax) {
  const T* xp = x.data<T>();
  T* yp = y.data<T>();
  int32_t* ap = argmax.data<int32_t>();
  const int64_t C = g.C;
  cuda::for_each(stream, g.N * g.OH * g.OW * C, [=] __device__(int64_t idx) {
    const int64_t c = idx % C, ow = (idx / C) % g.OW, oh = (idx / (C * g.OW)) % g.OH;
    const int64_t n = idx / (C * g.OW * g.OH);
    const Span hs = window(oh, g.stride_h, g.pad_top, g.pool_h, g.H);
    const Span ws = window(ow, g.stride_w, g.pad_left, g.pool_w, g.W);
    const T* xn = xp + n * g.H * g.W * C + c;
    int32_t where = static_cast<int32_t>(hs.begin * g.W + ws.begin);
    T best = xn[where * C];
    for (int64_t h = hs.begin; h < hs.end; ++h)
      for (int64_t w = ws.begin; w < ws.end; ++w) {
        const int32_t at = static_cast<int32_t>(h * g.W + w);
        const T value = xn[at * C];
        const bool take = math::max_pool_takes(value, best);
        best = take ? value : best;
        where = take ? at : where;
      }
    yp[idx] = best;
    ap[idx] = where;
  });
}

// gx[n, h, w, c] = the sum of gy over the windows whose argmax is (h, w), in output order.
// One thread per gx element; only windows covering (h, w) can point at it.
template <class T>
void max_pool2d_backward_values(cudaStream_t stream, Pool2DGeometry g, const Tensor& gy,
                                const Tensor& argmax, Tensor& gx) {
  const T* gyp = gy.data<T>();
  const int32_t* ap = argmax.data<int32_t>();
  T* gxp = gx.data<T>();
  const int64_t C = g.C;
  cuda::for_each(stream, g.N * g.H * g.W * C, [=] __device__(int64_t idx) {
    const int64_t c = idx % C, w = (idx / C) % g.W, h = (idx / (C * g.W)) % g.H;
    const int64_t n = idx / (C * g.W * g.H);
    const int32_t at = static_cast<int32_t>(h * g.W + w);
    const Windows rows = covering(h, g.stride_h, g.pad_top, g.pool_h, g.OH);
    const Windows cols = covering(w, g.stride_w, g.pad_left, g.pool_w, g.OW);
    T sum = T(0);
    for (int64_t oh = rows.first; oh <= rows.last; ++oh)
      for (int64_t ow = cols.first; ow <= cols.last; ++ow) {
        const int64_t o = ((n * g.OH + oh) * g.OW + ow) * C + c;
        if (ap[o] == at) sum += gyp[o];
      }
    gxp[idx] = sum;
  });
}

// y[n, oh, ow, c] = the mean over the window's valid positions (padding not counted): the
// sum in (h, w) order times 1 / count, as the CPU. One thread per y element.
template <class T>
void avg_pool2d_forward_values(cudaStream_t stream, Pool2DGeometry g, const Tensor& x, Tensor& y) {
  const T* xp = x.data<T>();
  T* yp = y.data<T>();
  const int64_t C = g.C;
  cuda::for_each(stream, g.N * g.OH * g.OW * C, [=] __device__(int64_t idx) {
    const int64_t c = idx % C, ow = (idx / C) % g.OW, oh = (idx / (C * g.OW)) % g.OH;
    const int64_t n = idx / (C * g.OW * g.OH);
    const Span hs = window(oh, g.stride_h, g.pad_top, g.pool_h, g.H);
    const Span ws = window(ow, g.stride_w, g.pad_left, g.pool_w, g.W);
    const T* xn = xp + n * g.H * g.W * C + c;
    T sum = T(0);
    for (int64_t h = hs.begin; h < hs.end; ++h)
      for (int64_t w = ws.begin; w < ws.end; ++w) sum += xn[(h * g.W + w) * C];
    const T inv_count = T(1) / T((hs.end - hs.begin) * (ws.end - ws.begin));
    yp[idx] = sum * inv_count;
  });
}

// gx[n, h, w, c] = the sum over the windows covering (h, w), in output order, of gy / count.
// One thread per gx element.
template <class T>
void avg_pool2d_backward_values(cudaStream_t stream, Pool2DGeometry g, const Tensor& gy,
                                Tensor& gx) {
  const T* gyp = gy.data<T>();
  T* gxp = gx.data<T>();
  const int64_t C = g.C;
  cuda::for_each(stream, g.N * g.H * g.W * C, [=] __device__(int64_t idx) {
    const int64_t c = idx % C, w = (idx / C) % g.W, h = (idx / (C * g.W)) % g.H;
    const int64_t n = idx / (C * g.W * g.H);
    const Windows rows = covering(h, g.stride_h, g.pad_top, g.pool_h, g.OH);
    const Windows cols = covering(w, g.stride_w, g.pad_left, g.pool_w, g.OW);
    T sum = T(0);
    for (int64_t oh = rows.first; oh <= rows.last; ++oh) {
      const Span hs = window(oh, g.stride_h, g.pad_top, g.pool_h, g.H);
      for (int64_t ow = cols.first; ow <= cols.last; ++ow) {
        const Span ws = window(ow, g.stride_w, g.pad_left, g.pool_w, g.W);
        const T inv_count = T(1) / T((hs.end - hs.begin) * (ws.end - ws.begin));
        sum += gyp[((n * g.OH + oh) * g.OW + ow) * C + c] * inv_count;
      }
    }
    gxp[idx] = sum;
  });
}

}  // namespace

void CudaBackend::max_pool2d_forward(const Pool2DGeometry& g, const Tensor& x, Tensor& y,
                                     Tensor& argmax) {
  auto& dev = state(y.device());
  FASTNN_FLOAT_CALL(x.dtype(), "max_pool2d", max_pool2d_forward_values, dev.stream, g, x, y,
                    argmax);
}

void CudaBackend::max_pool2d_backward(const Pool2DGeometry& g, const Tensor& gy,
                                      const Tensor& argmax, Tensor& gx) {
  auto& dev = state(gx.device());
  FASTNN_FLOAT_CALL(gy.dtype(), "max_pool2d backward", max_pool2d_backward_values, dev.stream, g,
                    gy, argmax, gx);
}

void CudaBackend::avg_pool2d_forward(const Pool2DGeometry& g, const Tensor& x, Tensor& y) {
  auto& dev = state(y.device());
  FASTNN_FLOAT_CALL(x.dtype(), "avg_pool2d", avg_pool2d_forward_values, dev.stream, g, x, y);
}

void CudaBackend::avg_pool2d_backward(const Pool2DGeometry& g, const Tensor& gy, Tensor& gx) {
  auto& dev = state(gx.device());
  FASTNN_FLOAT_CALL(gy.dtype(), "avg_pool2d backward", avg_pool2d_backward_values, dev.stream, g,
                    gy, gx);
}

}  // namespace fastnn
