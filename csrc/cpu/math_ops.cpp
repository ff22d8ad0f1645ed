// The tensor API's elementwise kernels: comparisons, unary math and its derivatives, clamp,
// where, and the backward of Pow/Maximum/Minimum. Per-element math in math/tensor_math.h.
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/parallel.h"
#include "cpu/backend_cpu.h"
#include "cpu/broadcast_loop.h"
#include "math/tensor_math.h"

namespace fastnn {
namespace {

template <class E, E V>
using tag = std::integral_constant<E, V>;

// Calls f(tag<CompareOp, op>) with the op as a compile-time constant.
template <class F>
void with_compare_op(CompareOp op, F&& f) {
  switch (op) {
    case CompareOp::Eq:
      return f(tag<CompareOp, CompareOp::Eq>{});
    case CompareOp::Ne:
      return f(tag<CompareOp, CompareOp::Ne>{});
    case CompareOp::Lt:
      return f(tag<CompareOp, CompareOp::Lt>{});
    case CompareOp::Le:
      return f(tag<CompareOp, CompareOp::Le>{});
    case CompareOp::Gt:
      return f(tag<CompareOp, CompareOp::Gt>{});
    case CompareOp::Ge:
      return f(tag<CompareOp, CompareOp::Ge>{});
  }
}

template <class F>
void with_unary_op(UnaryOp op, F&& f) {
  switch (op) {
#define FASTNN_UNARY_CASE(name) \
  case UnaryOp::name:           \
    return f(tag<UnaryOp, UnaryOp::name>{});
    FASTNN_UNARY_CASE(Neg)
    FASTNN_UNARY_CASE(Abs)
    FASTNN_UNARY_CASE(Sign)
    FASTNN_UNARY_CASE(Floor)
    FASTNN_UNARY_CASE(Ceil)
    FASTNN_UNARY_CASE(Round)
    FASTNN_UNARY_CASE(Trunc)
    FASTNN_UNARY_CASE(BitNot)
    FASTNN_UNARY_CASE(Exp)
    FASTNN_UNARY_CASE(Log)
    FASTNN_UNARY_CASE(Log2)
    FASTNN_UNARY_CASE(Log10)
    FASTNN_UNARY_CASE(Log1p)
    FASTNN_UNARY_CASE(Expm1)
    FASTNN_UNARY_CASE(Sqrt)
    FASTNN_UNARY_CASE(Rsqrt)
    FASTNN_UNARY_CASE(Reciprocal)
    FASTNN_UNARY_CASE(Sin)
    FASTNN_UNARY_CASE(Cos)
    FASTNN_UNARY_CASE(Square)
#undef FASTNN_UNARY_CASE
  }
}

// Whether the op costs a transcendental call per element (smaller parallel chunks).
bool transcendental(UnaryOp op) {
  return op >= UnaryOp::Exp && op != UnaryOp::Square && op != UnaryOp::Reciprocal;
}

}  // namespace

void CpuBackend::compare(CompareOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  cpu::dispatch_any(a.dtype(), [&](auto zero) {
    using T = decltype(zero);
    with_compare_op(op, [&](auto op_tag) {
      constexpr CompareOp Op = decltype(op_tag)::value;
      cpu::broadcast_apply<T, T, bool>(a, b, out,
                                       [](T x, T y) { return math::compare<Op>(x, y); });
    });
  });
}

void CpuBackend::unary_forward(UnaryOp op, const Tensor& x, Tensor& out) {
  const int64_t grain = transcendental(op) ? kTranscendentalGrain : kElementwiseGrain;
  cpu::dispatch_any(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* xp = x.data<T>();
    T* op_ = out.data<T>();
    with_unary_op(op, [&](auto op_tag) {
      constexpr UnaryOp Op = decltype(op_tag)::value;
      parallel_for(x.numel(), grain, [=](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; ++i) op_[i] = math::unary<Op>(xp[i]);
      });
    });
  });
}

void CpuBackend::unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy,
                                Tensor& gx) {
  dispatch_float(gy.dtype(), "unary backward", [&](auto zero) {
    using T = decltype(zero);
    // x or y may be undefined when the derivative does not read it: gy stands in.
    const T* xp = (x.defined() ? x : gy).template data<T>();
    const T* yp = (y.defined() ? y : gy).template data<T>();
    const T* gp = gy.data<T>();
    T* out = gx.data<T>();
    with_unary_op(op, [&](auto op_tag) {
      constexpr UnaryOp Op = decltype(op_tag)::value;
      parallel_for(gy.numel(), kTranscendentalGrain, [=](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; ++i) out[i] = math::unary_grad<Op>(xp[i], yp[i], gp[i]);
      });
    });
  });
}

void CpuBackend::binary_backward(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out,
                                 const Tensor& gy, Tensor& ga, Tensor& gb) {
  if (gy.numel() == 0) return;
  dispatch_float(gy.dtype(), "binary backward", [&](auto zero) {
    using T = decltype(zero);
    const T* ap = a.data<T>();
    const T* bp = b.data<T>();
    const T* outp = out.data<T>();
    const T* gp = gy.data<T>();
    T* gap = ga.defined() ? ga.data<T>() : nullptr;
    T* gbp = gb.defined() ? gb.data<T>() : nullptr;
    const BroadcastLayout L = broadcast_layout(gy.shape(), a.shape(), b.shape());
    parallel_for(cpu::outer_rows(L), row_grain(kTranscendentalGrain, L.last()),
                 [&](int64_t r0, int64_t r1) {
      cpu::for_each_run(L, r0, r1, [&](int64_t oa, int64_t ob, int64_t oo, int64_t n,
                                       int64_t sa, int64_t sb) {
        for (int64_t i = 0; i < n; ++i) {
          const T x = ap[oa + i * sa], y = bp[ob + i * sb], g = gp[oo + i];
          if (op == BinaryOp::Pow) {
            if (gap) gap[oo + i] = math::pow_grad_base(x, y, g);
            if (gbp) gbp[oo + i] = math::pow_grad_exponent(x, y, outp[oo + i], g);
          } else {
            const bool is_max = op == BinaryOp::Maximum;
            if (gap) gap[oo + i] = math::extreme_grad(is_max, x, y, g);
            if (gbp) gbp[oo + i] = math::extreme_grad(is_max, y, x, g);
          }
        }
      });
    });
  });
}

void CpuBackend::clamp_forward(const Tensor& x, double low, double high, Tensor& out) {
  cpu::dispatch_any(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const bool has_low = low != -std::numeric_limits<double>::infinity();
    const bool has_high = high != std::numeric_limits<double>::infinity();
    const T lo = has_low ? static_cast<T>(low) : T(0), hi = has_high ? static_cast<T>(high) : T(0);
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    parallel_for(x.numel(), kElementwiseGrain, [=](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) op[i] = math::clamp(xp[i], has_low, lo, has_high, hi);
    });
  });
}

void CpuBackend::clamp_backward(const Tensor& x, double low, double high, const Tensor& gy,
                                Tensor& gx) {
  dispatch_float(x.dtype(), "clamp backward", [&](auto zero) {
    using T = decltype(zero);
    const T* xp = x.data<T>();
    const T* gp = gy.data<T>();
    T* out = gx.data<T>();
    // Compared in double: the bounds are exact there, and an infinite one always passes.
    parallel_for(x.numel(), kElementwiseGrain, [=](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) {
        const double v = static_cast<double>(xp[i]);
        out[i] = (v >= low && v <= high) ? gp[i] : T(0);
      }
    });
  });
}

void CpuBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out) {
  if (out.numel() == 0) return;
  const bool* cp = cond.data<bool>();
  cpu::dispatch_any(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* ap = a.data<T>();
    const T* bp = b.data<T>();
    T* op = out.data<T>();
    const BroadcastLayout L = broadcast_layout(out.shape(), a.shape(), b.shape());
    parallel_for(cpu::outer_rows(L), row_grain(kElementwiseGrain, L.last()),
                 [&](int64_t r0, int64_t r1) {
      cpu::for_each_run(L, r0, r1, [&](int64_t oa, int64_t ob, int64_t oo, int64_t n,
                                       int64_t sa, int64_t sb) {
        for (int64_t i = 0; i < n; ++i)
          op[oo + i] = cp[oo + i] ? ap[oa + i * sa] : bp[ob + i * sb];
      });
    });
  });
}

}  // namespace fastnn
