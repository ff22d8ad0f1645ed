// Reductions along one axis with their indices, products, and torch.gather with its adjoint
// (csrc/cpu/reduce.cpp's counterpart). A tensor of shape (outer, n, inner) around the axis
// is addressed as x[o, k, i] = x[(o * n + k) * inner + i]; results (outer, inner) as
// r[o * inner + i]. One thread per (o, i) column walks k in order, as the CPU does, so the
// results (first extreme, products in order) are the CPU's.
#include <cstdint>
#include <type_traits>

#include "cuda/common.cuh"
#include "core/broadcast.h"
#include "math/tensor_math.h"

namespace fastnn {
namespace {

using cuda::for_each;



template <class T>
void arg_reduce_typed(cudaStream_t stream, bool is_max, const Tensor& x, AxisSplit s,
                      Tensor& values, Tensor& indices) {
  const T* xp = x.data<T>();
  T* vp = values.defined() ? values.data<T>() : nullptr;
  int64_t* ip = indices.data<int64_t>();
  for_each(stream, s.outer * s.inner, [=] __device__(int64_t c) {
    const int64_t o = c / s.inner, i = c - o * s.inner;
    const T* base = xp + o * s.n * s.inner + i;
    T best = base[0];
    int64_t at = 0;
    for (int64_t k = 1; k < s.n; ++k) {
      const T v = base[k * s.inner];
      if (math::beats(is_max, v, best)) {
        best = v;
        at = k;
      }
    }
    if (vp) vp[c] = best;
    ip[c] = at;
  });
}

// The product of n elements `inner` apart: floats in double, integers wrapping in int64, as
// the CPU. (A device lambda may not first capture inside `if constexpr`: hence a function.)
template <class T>
__device__ T column_product(const T* base, int64_t n, int64_t inner) {
  if constexpr (math::is_float_v<T>) {
    double acc = 1;
    for (int64_t k = 0; k < n; ++k) acc *= static_cast<double>(base[k * inner]);
    return static_cast<T>(acc);
  } else {
    uint64_t acc = 1;
    for (int64_t k = 0; k < n; ++k) acc *= static_cast<uint64_t>(base[k * inner]);
    return static_cast<T>(static_cast<int64_t>(acc));
  }
}

template <class T>
void prod_typed(cudaStream_t stream, const Tensor& x, AxisSplit s, Tensor& out) {
  const T* xp = x.data<T>();
  T* op = out.data<T>();
  for_each(stream, s.outer * s.inner, [=] __device__(int64_t c) {
    const int64_t o = c / s.inner, i = c - o * s.inner;
    op[c] = column_product(xp + o * s.n * s.inner + i, s.n, s.inner);
  });
}

template <class T>
void int_sum_typed(cudaStream_t stream, const Tensor& x, AxisSplit s, Tensor& out) {
  const T* xp = x.data<T>();
  int64_t* op = out.data<int64_t>();
  for_each(stream, s.outer * s.inner, [=] __device__(int64_t c) {
    const int64_t o = c / s.inner, i = c - o * s.inner;
    const T* base = xp + o * s.n * s.inner + i;
    uint64_t acc = 0;  // wraps, as int64
    for (int64_t k = 0; k < s.n; ++k)
      acc += static_cast<uint64_t>(static_cast<int64_t>(base[k * s.inner]));
    op[c] = static_cast<int64_t>(acc);
  });
}

template <class T>
__device__ __forceinline__ void add_into(T& dst, T v) {
  if constexpr (std::is_same_v<T, bool>)
    dst = dst || v;
  else
    dst += v;
}

// gx[k] = gy * prefix(k) * suffix(k + 1) per column, in double, as the CPU: the prefix
// products go to `prefix` (a double per element of x), the suffix is walked back.
template <class T>
void prod_backward_typed(cudaStream_t stream, const Tensor& x, const Tensor& gy, AxisSplit s,
                         Tensor& gx, double* prefix) {
  const T* xp = x.data<T>();
  const T* gp = gy.data<T>();
  T* out = gx.data<T>();
  for_each(stream, s.outer * s.inner, [=] __device__(int64_t c) {
    const int64_t o = c / s.inner, i = c - o * s.inner;
    const int64_t base = o * s.n * s.inner + i;
    double p = 1;
    for (int64_t k = 0; k < s.n; ++k) {
      prefix[base + k * s.inner] = p;
      p *= static_cast<double>(xp[base + k * s.inner]);
    }
    double suffix = 1;
    const double g = static_cast<double>(gp[c]);
    for (int64_t k = s.n; k-- > 0;) {
      out[base + k * s.inner] = static_cast<T>(g * prefix[base + k * s.inner] * suffix);
      suffix *= static_cast<double>(xp[base + k * s.inner]);
    }
  });
}

template <class T>
void gather_typed(cudaStream_t stream, const Tensor& x, const Tensor& index, AxisSplit xs,
                  AxisSplit os, Tensor& out, int64_t* errors, const int64_t* source) {
  const T* xp = x.data<T>();
  const int64_t* ip = index.data<int64_t>();
  T* op = out.data<T>();
  for_each(stream, out.numel(), [=] __device__(int64_t e) {
    const int64_t i = e % os.inner, o = e / (os.n * os.inner);
    const int64_t k = ip[e];
    if (k < 0 || k >= xs.n) {  // only a replay can bring one: the op checked the index
      cuda::report_out_of_range(errors, source, e, k, xs.n);
      op[e] = T(0);
      return;
    }
    op[e] = xp[(o * xs.n + k) * xs.inner + i];
  });
}

template <class T>
void scatter_add_typed(cudaStream_t stream, const Tensor& src, const Tensor& index, AxisSplit ss,
                       AxisSplit os, Tensor& out, int64_t* errors, const int64_t* source) {
  const T* sp = src.data<T>();
  const int64_t* ip = index.data<int64_t>();
  T* op = out.data<T>();
  // One thread per (outer, inner) column adds its column's j in order: repeated targets
  // add up in the same order every time, with no atomics.
  for_each(stream, ss.outer * ss.inner, [=] __device__(int64_t c) {
    const int64_t o = c / ss.inner, i = c - o * ss.inner;
    for (int64_t j = 0; j < ss.n; ++j) {
      const int64_t e = (o * ss.n + j) * ss.inner + i;
      const int64_t k = ip[e];
      if (k < 0 || k >= os.n) {
        cuda::report_out_of_range(errors, source, e, k, os.n);
        continue;
      }
      add_into(op[(o * os.n + k) * os.inner + i], sp[e]);
    }
  });
}

}  // namespace

void CudaBackend::arg_reduce(bool is_max, const Tensor& x, int64_t axis, Tensor& values,
                             Tensor& indices) {
  const AxisSplit s = split_at(x.shape(), axis);
  if (s.outer * s.inner == 0 || s.n == 0) return;
  auto& dev = state(indices.device());
  FASTNN_NUMERIC_CALL(x.dtype(), "max", arg_reduce_typed, dev.stream, is_max, x, s, values,
                      indices);
}

void CudaBackend::int_sum_axis(const Tensor& x, int64_t axis, Tensor& out) {
  const AxisSplit s = split_at(x.shape(), axis);
  if (s.outer * s.inner == 0) return;
  auto& dev = state(out.device());
  switch (x.dtype()) {
    case DType::Int32:
      return int_sum_typed<int32_t>(dev.stream, x, s, out);
    case DType::Int64:
      return int_sum_typed<int64_t>(dev.stream, x, s, out);
    case DType::Bool:
      return int_sum_typed<bool>(dev.stream, x, s, out);
    default:
      fail(ErrorKind::Type, "sum: expected an integer or bool tensor, got ", dtype_name(x.dtype()));
  }
}

void CudaBackend::prod_axis(const Tensor& x, int64_t axis, Tensor& out) {
  const AxisSplit s = split_at(x.shape(), axis);
  if (s.outer * s.inner == 0) return;
  auto& dev = state(out.device());
  FASTNN_NUMERIC_CALL(x.dtype(), "prod", prod_typed, dev.stream, x, s, out);
}

void CudaBackend::prod_backward_axis(const Tensor& x, const Tensor& gy, int64_t axis, Tensor& gx) {
  if (x.numel() == 0) return;
  const AxisSplit s = split_at(x.shape(), axis);
  auto& dev = state(gx.device());
  Tensor prefix = Tensor::empty({x.numel()}, DType::Float64, x.device());  // scratch, from the pool
  FASTNN_FLOAT_CALL(x.dtype(), "prod backward", prod_backward_typed, dev.stream, x, gy, s, gx,
                    prefix.data<double>());
}

void CudaBackend::gather_axis(const Tensor& x, const Tensor& index, int64_t axis, Tensor& out) {
  if (out.numel() == 0) return;
  auto& dev = state(out.device());
  int64_t* errors = kernel_errors(out.device()).data<int64_t>();
  const int64_t* source = kernel_error_source(out.device()).data<int64_t>();
  FASTNN_ANY_CALL(x.dtype(), gather_typed, dev.stream, x, index, split_at(x.shape(), axis),
                  split_at(out.shape(), axis), out, errors, source);
}

void CudaBackend::scatter_add_axis(const Tensor& src, const Tensor& index, int64_t axis,
                                   Tensor& out) {
  if (src.numel() == 0) return;
  auto& dev = state(out.device());
  int64_t* errors = kernel_errors(out.device()).data<int64_t>();
  const int64_t* source = kernel_error_source(out.device()).data<int64_t>();
  FASTNN_ANY_CALL(out.dtype(), scatter_add_typed, dev.stream, src, index,
                  split_at(src.shape(), axis), split_at(out.shape(), axis), out, errors, source);
}

}  // namespace fastnn
