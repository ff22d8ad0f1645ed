// Convolution kernels, channels-last (csrc/cpu/conv.cpp's counterpart; ConvGeometry in
// core/backend.h):
//   x       (N, H, W, C)                     input images
//   cols    (N * OH * OW, KH * KW * C)       row (n, oh, ow): the patch under output pixel
//                                            (oh, ow) of image n, columns in (kh, kw, c) order
//   kernel  (KH, KW, C, F), y and gz (N, OH, OW, F)
// Output (oh, ow), tap (i, j) reads input row ih = oh * stride_h - pad_top + i * dilation_h
// and column iw = ow * stride_w - pad_left + j * dilation_w; outside the input it reads zero.
//
// im2col and the direct forward write each output element from one thread. col2im gathers
// instead of scattering: the thread of an input element walks the cols rows that read it in
// cols row order, as the CPU adds them, so it needs no atomics and gives the CPU's sums
// exactly. The direct kernel gradient is a reduction over every output pixel per kernel
// element: one block per element, summed in a fixed order (deterministic; the order, and so
// the float rounding, differs from the CPU's pixel-by-pixel sum).
#include "cuda/common.cuh"

namespace fastnn {

namespace {

// cols[r, (i, j, c)] = x[n, ih, iw, c] for row r = (n, oh, ow), or zero in the padding. One
// thread per cols element.
template <class T>
void im2col_values(cudaStream_t stream, const Tensor& x, ConvGeometry g, Tensor& cols) {
  const T* xp = x.data<T>();
  T* cp = cols.data<T>();
  const int64_t C = g.channels, K = g.kernel_h * g.kernel_w * C;
  const int64_t total = g.batch * g.out_h * g.out_w * K;
  cuda::for_each(stream, total, [=] __device__(int64_t idx) {
    const int64_t row = idx / K, col = idx % K;
    const int64_t ow = row % g.out_w, oh = (row / g.out_w) % g.out_h, n = row / (g.out_w * g.out_h);
    const int64_t c = col % C, j = (col / C) % g.kernel_w, i = col / (C * g.kernel_w);
    const int64_t ih = oh * g.stride_h - g.pad_top + i * g.dilation_h;
    const int64_t iw = ow * g.stride_w - g.pad_left + j * g.dilation_w;
    const bool inside = ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w;
    cp[idx] = inside ? xp[((n * g.in_h + ih) * g.in_w + iw) * C + c] : T(0);
  });
}

// gx[n, ih, iw, c] = the sum of the cols entries that read it, in cols row order. One thread
// per gx element. Within one cols row at most one tap (i, j) reads a given pixel (taps of a
// row read distinct rows and columns), and a larger i reads it from a smaller oh: walking
// taps from the last to the first visits the rows (oh, then ow) in increasing order.
template <class T>
void col2im_values(cudaStream_t stream, const Tensor& cols, ConvGeometry g, Tensor& gx) {
  const T* cp = cols.data<T>();
  T* gp = gx.data<T>();
  const int64_t C = g.channels, K = g.kernel_h * g.kernel_w * C;
  const int64_t total = g.batch * g.in_h * g.in_w * C;
  cuda::for_each(stream, total, [=] __device__(int64_t idx) {
    const int64_t c = idx % C, iw = (idx / C) % g.in_w, ih = (idx / (C * g.in_w)) % g.in_h;
    const int64_t n = idx / (C * g.in_w * g.in_h);
    T sum = T(0);
    for (int64_t i = g.kernel_h - 1; i >= 0; --i) {
      const int64_t top = ih + g.pad_top - i * g.dilation_h;  // oh * stride_h, if any oh
      if (top < 0 || top % g.stride_h != 0) continue;
      const int64_t oh = top / g.stride_h;
      if (oh >= g.out_h) continue;
      for (int64_t j = g.kernel_w - 1; j >= 0; --j) {
        const int64_t left = iw + g.pad_left - j * g.dilation_w;  // ow * stride_w, if any ow
        if (left < 0 || left % g.stride_w != 0) continue;
        const int64_t ow = left / g.stride_w;
        if (ow >= g.out_w) continue;
        sum += cp[((n * g.out_h + oh) * g.out_w + ow) * K + (i * g.kernel_w + j) * C + c];
      }
    }
    gp[idx] = sum;
  });
}

// y[n, oh, ow, f] = sum over taps t = (i, j, c), in that order, of the tap's input value (zero
// in the padding, as the CPU's border pixels add) times kernel[t, f], then bias[f] where
// given. One thread per y
// element; the threads of a pixel read the same input values and consecutive filters.
template <class T>
void conv2d_direct_forward_values(cudaStream_t stream, const Tensor& x, const Tensor& kernel,
                                  const Tensor& bias, ConvGeometry g, Tensor& y) {
  const T* xp = x.data<T>();
  const T* kp = kernel.data<T>();
  const T* bp = bias.defined() ? bias.data<T>() : nullptr;
  T* yp = y.data<T>();
  const int64_t C = g.channels, F = kernel.shape().back();
  const int64_t total = g.batch * g.out_h * g.out_w * F;
  cuda::for_each(stream, total, [=] __device__(int64_t idx) {
    const int64_t f = idx % F, pixel = idx / F;
    const int64_t ow = pixel % g.out_w, oh = (pixel / g.out_w) % g.out_h;
    const int64_t n = pixel / (g.out_w * g.out_h);
    T sum = T(0);
    int64_t t = 0;  // the tap (i, j, c): kernel row t
    for (int64_t i = 0; i < g.kernel_h; ++i) {
      const int64_t ih = oh * g.stride_h - g.pad_top + i * g.dilation_h;
      const bool row_inside = ih >= 0 && ih < g.in_h;
      for (int64_t j = 0; j < g.kernel_w; ++j) {
        const int64_t iw = ow * g.stride_w - g.pad_left + j * g.dilation_w;
        const bool inside = row_inside && iw >= 0 && iw < g.in_w;
        const int64_t at = inside ? ((n * g.in_h + ih) * g.in_w + iw) * C : 0;
        for (int64_t c = 0; c < C; ++c, ++t) sum += (inside ? xp[at + c] : T(0)) * kp[t * F + f];
      }
    }
    yp[idx] = bp != nullptr ? sum + bp[f] : sum;  // the bias after the taps, as the CPU
  });
}

// Threads per block of the kernel gradient's reduction (a multiple of 32, for block_sum).
constexpr int kReduceThreads = 256;

// gkernel[t, f] (taps KH * KW * C, filters F) = sum over output pixels p = (n, oh, ow) of tap
// t's input value at p (zero in the padding) times gz[p, f]. One block per kernel element
// (a grid-stride loop over elements beyond the grid): each thread sums the pixels
// threadIdx.x, threadIdx.x + blockDim.x, ... in order, then block_sum adds the threads'
// sums in a fixed order.
template <class T>
__global__ void conv2d_direct_kernel_gradient(const T* x, const T* gz, ConvGeometry g, int64_t F,
                                              T* gkernel) {
  __shared__ T shared[32];
  const int64_t C = g.channels, taps = g.kernel_h * g.kernel_w * C;
  const int64_t pixels = g.batch * g.out_h * g.out_w;
  for (int64_t element = blockIdx.x; element < taps * F; element += gridDim.x) {
    const int64_t t = element / F, f = element % F;
    const int64_t c = t % C, j = (t / C) % g.kernel_w, i = t / (C * g.kernel_w);
    T sum = T(0);
    for (int64_t p = threadIdx.x; p < pixels; p += blockDim.x) {
      const int64_t ow = p % g.out_w, oh = (p / g.out_w) % g.out_h, n = p / (g.out_w * g.out_h);
      const int64_t ih = oh * g.stride_h - g.pad_top + i * g.dilation_h;
      const int64_t iw = ow * g.stride_w - g.pad_left + j * g.dilation_w;
      const bool inside = ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w;
      const T value = inside ? x[((n * g.in_h + ih) * g.in_w + iw) * C + c] : T(0);
      sum += value * gz[p * F + f];
    }
    sum = cuda::block_sum(sum, shared);
    if (threadIdx.x == 0) gkernel[element] = sum;
  }
}

template <class T>
void conv2d_direct_backward_kernel_values(cudaStream_t stream, const Tensor& x, const Tensor& gz,
                                          ConvGeometry g, Tensor& gkernel) {
  const int64_t F = gkernel.shape().back();
  const int64_t elements = g.kernel_h * g.kernel_w * g.channels * F;
  if (elements <= 0) return;
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(elements, 1 << 16));
  conv2d_direct_kernel_gradient<T><<<blocks, kReduceThreads, 0, stream>>>(
      x.data<T>(), gz.data<T>(), g, F, gkernel.data<T>());
  FASTNN_CUDA_CHECK_LAUNCH();
}

}  // namespace

void CudaBackend::im2col(const Tensor& x, const ConvGeometry& g, Tensor& cols) {
  auto& dev = state(cols.device());
  FASTNN_FLOAT_CALL(x.dtype(), "im2col", im2col_values, dev.stream, x, g, cols);
}

void CudaBackend::col2im(const Tensor& cols, const ConvGeometry& g, Tensor& gx) {
  auto& dev = state(gx.device());
  FASTNN_FLOAT_CALL(cols.dtype(), "col2im", col2im_values, dev.stream, cols, g, gx);
}

void CudaBackend::conv2d_direct_forward(const Tensor& x, const Tensor& kernel,
                                        const Tensor& bias, const ConvGeometry& g, Tensor& y) {
  auto& dev = state(y.device());
  FASTNN_FLOAT_CALL(x.dtype(), "conv2d_direct_forward", conv2d_direct_forward_values, dev.stream,
                    x, kernel, bias, g, y);
}

void CudaBackend::conv2d_direct_backward_kernel(const Tensor& x, const Tensor& gz,
                                                const ConvGeometry& g, Tensor& gkernel,
                                                Tensor& gbias) {
  auto& dev = state(gkernel.device());
  FASTNN_FLOAT_CALL(x.dtype(), "conv2d_direct_backward_kernel",
                    conv2d_direct_backward_kernel_values, dev.stream, x, gz, g, gkernel);
  if (gbias.defined()) {  // the column sums of gz (rows = pixels), as bias_gradient takes them
    const int64_t F = gkernel.shape().back();
    Tensor sums = gbias.view({1, F});
    sum_to(gz.view({gz.numel() / F, F}), sums);
  }
}

}  // namespace fastnn
