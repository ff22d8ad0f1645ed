// The tensor API's elementwise kernels (csrc/cpu/math_ops.cpp's counterpart): comparisons,
// unary math and its derivatives, clamp, where, and the backward of Pow/Maximum/Minimum.
// One thread per output element; the per-element math is math/tensor_math.h, as on the CPU.
#include <cstdint>
#include <limits>
#include <type_traits>

#include "cuda/broadcast.cuh"
#include "cuda/common.cuh"
#include "math/tensor_math.h"

namespace fastnn {
namespace {

using cuda::broadcast_offsets;
using cuda::for_each;

template <class T, CompareOp Op>
void compare_launch(cudaStream_t stream, const Tensor& a, const Tensor& b, Tensor& out) {
  const T* ap = a.data<T>();
  const T* bp = b.data<T>();
  bool* op = out.data<bool>();
  const BroadcastLayout L = broadcast_layout(out.shape(), a.shape(), b.shape());
  for_each(stream, out.numel(), [=] __device__(int64_t i) {
    int64_t oa, ob;
    broadcast_offsets(L, i, oa, ob);
    op[i] = math::compare<Op>(ap[oa], bp[ob]);
  });
}

template <class T>
void compare_typed(cudaStream_t stream, CompareOp op, const Tensor& a, const Tensor& b,
                   Tensor& out) {
  switch (op) {
    case CompareOp::Eq:
      return compare_launch<T, CompareOp::Eq>(stream, a, b, out);
    case CompareOp::Ne:
      return compare_launch<T, CompareOp::Ne>(stream, a, b, out);
    case CompareOp::Lt:
      return compare_launch<T, CompareOp::Lt>(stream, a, b, out);
    case CompareOp::Le:
      return compare_launch<T, CompareOp::Le>(stream, a, b, out);
    case CompareOp::Gt:
      return compare_launch<T, CompareOp::Gt>(stream, a, b, out);
    case CompareOp::Ge:
      return compare_launch<T, CompareOp::Ge>(stream, a, b, out);
  }
}

// Calls launch.template operator()<Op>() with the op as a template argument.
#define FASTNN_UNARY_SWITCH(op, CASE) \
  switch (op) {                       \
    CASE(Neg)                         \
    CASE(Abs)                         \
    CASE(Sign)                        \
    CASE(Floor)                       \
    CASE(Ceil)                        \
    CASE(Round)                       \
    CASE(Trunc)                       \
    CASE(BitNot)                      \
    CASE(Exp)                         \
    CASE(Log)                         \
    CASE(Log2)                        \
    CASE(Log10)                       \
    CASE(Log1p)                       \
    CASE(Expm1)                       \
    CASE(Sqrt)                        \
    CASE(Rsqrt)                       \
    CASE(Reciprocal)                  \
    CASE(Sin)                         \
    CASE(Cos)                         \
    CASE(Square)                      \
  }

template <class T, UnaryOp Op>
void unary_launch(cudaStream_t stream, const Tensor& x, Tensor& out) {
  const T* xp = x.data<T>();
  T* op = out.data<T>();
  for_each(stream, x.numel(), [=] __device__(int64_t i) { op[i] = math::unary<Op>(xp[i]); });
}

template <class T>
void unary_typed(cudaStream_t stream, UnaryOp op, const Tensor& x, Tensor& out) {
#define FASTNN_UNARY_CASE(name) \
  case UnaryOp::name:           \
    return unary_launch<T, UnaryOp::name>(stream, x, out);
  FASTNN_UNARY_SWITCH(op, FASTNN_UNARY_CASE)
#undef FASTNN_UNARY_CASE
}

template <class T, UnaryOp Op>
void unary_grad_launch(cudaStream_t stream, const T* xp, const T* yp, const T* gp, T* out,
                       int64_t n) {
  for_each(stream, n,
           [=] __device__(int64_t i) { out[i] = math::unary_grad<Op>(xp[i], yp[i], gp[i]); });
}

template <class T>
void unary_backward_typed(cudaStream_t stream, UnaryOp op, const Tensor& x, const Tensor& y,
                          const Tensor& gy, Tensor& gx) {
  // x or y may be undefined when the derivative does not read it: gy stands in.
  const T* xp = (x.defined() ? x : gy).template data<T>();
  const T* yp = (y.defined() ? y : gy).template data<T>();
  const T* gp = gy.data<T>();
  T* out = gx.data<T>();
  const int64_t n = gy.numel();
#define FASTNN_UNARY_CASE(name) \
  case UnaryOp::name:           \
    return unary_grad_launch<T, UnaryOp::name>(stream, xp, yp, gp, out, n);
  FASTNN_UNARY_SWITCH(op, FASTNN_UNARY_CASE)
#undef FASTNN_UNARY_CASE
}

template <class T>
void binary_backward_typed(cudaStream_t stream, BinaryOp op, const Tensor& a, const Tensor& b,
                           const Tensor& out, const Tensor& gy, Tensor& ga, Tensor& gb) {
  const T* ap = a.data<T>();
  const T* bp = b.data<T>();
  const T* outp = out.data<T>();
  const T* gp = gy.data<T>();
  T* gap = ga.defined() ? ga.data<T>() : nullptr;
  T* gbp = gb.defined() ? gb.data<T>() : nullptr;
  const BroadcastLayout L = broadcast_layout(gy.shape(), a.shape(), b.shape());
  const bool is_pow = op == BinaryOp::Pow, is_max = op == BinaryOp::Maximum;
  for_each(stream, gy.numel(), [=] __device__(int64_t i) {
    int64_t oa, ob;
    broadcast_offsets(L, i, oa, ob);
    const T x = ap[oa], y = bp[ob], g = gp[i];
    if (is_pow) {
      if (gap) gap[i] = math::pow_grad_base(x, y, g);
      if (gbp) gbp[i] = math::pow_grad_exponent(x, y, outp[i], g);
    } else {
      if (gap) gap[i] = math::extreme_grad(is_max, x, y, g);
      if (gbp) gbp[i] = math::extreme_grad(is_max, y, x, g);
    }
  });
}

template <class T>
void clamp_typed(cudaStream_t stream, const Tensor& x, double low, double high, Tensor& out) {
  const bool has_low = low != -std::numeric_limits<double>::infinity();
  const bool has_high = high != std::numeric_limits<double>::infinity();
  // An infinite bound is no bound: never converted (to an integer type it would not fit).
  const T lo = has_low ? static_cast<T>(low) : T(0), hi = has_high ? static_cast<T>(high) : T(0);
  const T* xp = x.data<T>();
  T* op = out.data<T>();
  for_each(stream, x.numel(), [=] __device__(int64_t i) {
    op[i] = math::clamp(xp[i], has_low, lo, has_high, hi);
  });
}

template <class T>
void clamp_backward_typed(cudaStream_t stream, const Tensor& x, double low, double high,
                          const Tensor& gy, Tensor& gx) {
  const T* xp = x.data<T>();
  const T* gp = gy.data<T>();
  T* out = gx.data<T>();
  // Compared in double, as on the CPU: the bounds are exact there.
  for_each(stream, x.numel(), [=] __device__(int64_t i) {
    const double v = static_cast<double>(xp[i]);
    out[i] = (v >= low && v <= high) ? gp[i] : T(0);
  });
}

template <class T>
void where_typed(cudaStream_t stream, const Tensor& cond, const Tensor& a, const Tensor& b,
                 Tensor& out) {
  const bool* cp = cond.data<bool>();
  const T* ap = a.data<T>();
  const T* bp = b.data<T>();
  T* op = out.data<T>();
  const BroadcastLayout L = broadcast_layout(out.shape(), a.shape(), b.shape());
  for_each(stream, out.numel(), [=] __device__(int64_t i) {
    int64_t oa, ob;
    broadcast_offsets(L, i, oa, ob);
    op[i] = cp[i] ? ap[oa] : bp[ob];
  });
}

}  // namespace

void CudaBackend::compare(CompareOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  if (out.numel() == 0) return;
  auto& dev = state(out.device());
  FASTNN_ANY_CALL(a.dtype(), compare_typed, dev.stream, op, a, b, out);
}

void CudaBackend::unary_forward(UnaryOp op, const Tensor& x, Tensor& out) {
  if (out.numel() == 0) return;
  auto& dev = state(out.device());
  FASTNN_ANY_CALL(x.dtype(), unary_typed, dev.stream, op, x, out);
}

void CudaBackend::unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy,
                                 Tensor& gx) {
  if (gy.numel() == 0) return;
  auto& dev = state(gx.device());
  FASTNN_FLOAT_CALL(gy.dtype(), "unary backward", unary_backward_typed, dev.stream, op, x, y, gy,
                    gx);
}

void CudaBackend::binary_backward(BinaryOp op, const Tensor& a, const Tensor& b,
                                  const Tensor& out, const Tensor& gy, Tensor& ga, Tensor& gb) {
  if (gy.numel() == 0) return;
  auto& dev = state(gy.device());
  FASTNN_FLOAT_CALL(gy.dtype(), "binary backward", binary_backward_typed, dev.stream, op, a, b,
                    out, gy, ga, gb);
}

void CudaBackend::clamp_forward(const Tensor& x, double low, double high, Tensor& out) {
  if (out.numel() == 0) return;
  auto& dev = state(out.device());
  FASTNN_NUMERIC_CALL(x.dtype(), "clamp", clamp_typed, dev.stream, x, low, high, out);
}

void CudaBackend::clamp_backward(const Tensor& x, double low, double high, const Tensor& gy,
                                 Tensor& gx) {
  if (gx.numel() == 0) return;
  auto& dev = state(gx.device());
  FASTNN_FLOAT_CALL(x.dtype(), "clamp backward", clamp_backward_typed, dev.stream, x, low, high,
                    gy, gx);
}

void CudaBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out) {
  if (out.numel() == 0) return;
  auto& dev = state(out.device());
  FASTNN_ANY_CALL(out.dtype(), where_typed, dev.stream, cond, a, b, out);
}

}  // namespace fastnn
