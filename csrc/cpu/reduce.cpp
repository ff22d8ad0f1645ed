// Reductions along one axis with their indices (max/min/argmax), products, and torch.gather
// with its adjoint. A tensor of shape (outer, n, inner) around the axis is addressed as
// x[o, k, i] = x[(o * n + k) * inner + i]; results (outer, inner) as r[o * inner + i].
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "cpu/backend_cpu.h"
#include "cpu/broadcast_loop.h"
#include "core/broadcast.h"
#include "math/tensor_math.h"

namespace fastnn {
namespace {



}  // namespace

void CpuBackend::arg_reduce(bool is_max, const Tensor& x, int64_t axis, Tensor& values,
                            Tensor& indices) {
  const AxisSplit s = split_at(x.shape(), axis);
  if (s.outer * s.inner == 0 || s.n == 0) return;
  cpu::dispatch_numeric(x.dtype(), "max", [&](auto zero) {
    using T = decltype(zero);
    const T* xp = x.data<T>();
    T* vp = values.defined() ? values.data<T>() : nullptr;
    int64_t* ip = indices.data<int64_t>();
    // Per outer index, the inner columns advance together along the axis: rows of x are
    // read in order.
    parallel_for(s.outer, row_grain(kElementwiseGrain, s.n * s.inner), [&](int64_t o0, int64_t o1) {
      T* best = scratch<T>(0, s.inner);
      for (int64_t o = o0; o < o1; ++o) {
        const T* base = xp + o * s.n * s.inner;
        int64_t* idx = ip + o * s.inner;
        std::copy(base, base + s.inner, best);
        std::fill(idx, idx + s.inner, int64_t(0));
        for (int64_t k = 1; k < s.n; ++k) {
          const T* row = base + k * s.inner;
          for (int64_t i = 0; i < s.inner; ++i) {
            if (math::beats(is_max, row[i], best[i])) {
              best[i] = row[i];
              idx[i] = k;
            }
          }
        }
        if (vp) std::copy(best, best + s.inner, vp + o * s.inner);
      }
    });
  });
}

void CpuBackend::int_sum_axis(const Tensor& x, int64_t axis, Tensor& out) {
  const AxisSplit s = split_at(x.shape(), axis);
  if (s.outer * s.inner == 0) return;
  int64_t* op = out.data<int64_t>();
  cpu::dispatch_any(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (!math::is_float_v<T>) {
      const T* xp = x.data<T>();
      parallel_for(s.outer, row_grain(kElementwiseGrain, s.n * s.inner), [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o) {
          uint64_t* acc = reinterpret_cast<uint64_t*>(op + o * s.inner);  // wraps, as int64
          std::fill(acc, acc + s.inner, uint64_t(0));
          for (int64_t k = 0; k < s.n; ++k) {
            const T* row = xp + (o * s.n + k) * s.inner;
            for (int64_t i = 0; i < s.inner; ++i)
              acc[i] += static_cast<uint64_t>(static_cast<int64_t>(row[i]));
          }
        }
      });
    }
  });
}

void CpuBackend::prod_axis(const Tensor& x, int64_t axis, Tensor& out) {
  const AxisSplit s = split_at(x.shape(), axis);
  if (s.outer * s.inner == 0) return;
  cpu::dispatch_any(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    // Floats multiply in double (as sum_to adds in double); integers wrap in int64.
    using Acc = std::conditional_t<math::is_float_v<T>, double, int64_t>;
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    parallel_for(s.outer, row_grain(kElementwiseGrain, s.n * s.inner), [&](int64_t o0, int64_t o1) {
      Acc* acc = scratch<Acc>(1, s.inner);
      for (int64_t o = o0; o < o1; ++o) {
        std::fill(acc, acc + s.inner, Acc(1));
        for (int64_t k = 0; k < s.n; ++k) {
          const T* row = xp + (o * s.n + k) * s.inner;
          for (int64_t i = 0; i < s.inner; ++i) {
            if constexpr (math::is_float_v<Acc>)
              acc[i] *= static_cast<Acc>(row[i]);
            else
              acc[i] = static_cast<Acc>(static_cast<uint64_t>(acc[i]) * static_cast<uint64_t>(row[i]));
          }
        }
        for (int64_t i = 0; i < s.inner; ++i) op[o * s.inner + i] = static_cast<T>(acc[i]);
      }
    });
  });
}

void CpuBackend::prod_backward_axis(const Tensor& x, const Tensor& gy, int64_t axis, Tensor& gx) {
  const AxisSplit s = split_at(x.shape(), axis);
  if (x.numel() == 0) return;
  dispatch_float(x.dtype(), "prod backward", [&](auto zero) {
    using T = decltype(zero);
    const T* xp = x.data<T>();
    const T* gp = gy.data<T>();
    T* out = gx.data<T>();
    // Per column: gx[k] = gy * prefix(k) * suffix(k + 1), products of the elements before
    // and after k, in double: exact where some element is zero (no division).
    parallel_for(s.outer * s.inner, row_grain(kElementwiseGrain, s.n), [&](int64_t c0, int64_t c1) {
      double* prefix = scratch<double>(0, s.n + 1);
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t o = c / s.inner, i = c % s.inner;
        const int64_t base = o * s.n * s.inner + i;
        prefix[0] = 1;
        for (int64_t k = 0; k < s.n; ++k) prefix[k + 1] = prefix[k] * double(xp[base + k * s.inner]);
        double suffix = 1;
        const double g = double(gp[c]);
        for (int64_t k = s.n; k-- > 0;) {
          out[base + k * s.inner] = static_cast<T>(g * prefix[k] * suffix);
          suffix *= double(xp[base + k * s.inner]);
        }
      }
    });
  });
}

void CpuBackend::gather_axis(const Tensor& x, const Tensor& index, int64_t axis, Tensor& out) {
  const AxisSplit xs = split_at(x.shape(), axis), os = split_at(out.shape(), axis);
  const int64_t* ip = index.data<int64_t>();
  const size_t es = dtype_size(x.dtype());
  const char* xp = static_cast<const char*>(x.raw());
  char* op = static_cast<char*>(out.raw());
  parallel_for(out.numel(), kElementwiseGrain, [&](int64_t e0, int64_t e1) {
    for (int64_t e = e0; e < e1; ++e) {
      const int64_t i = e % os.inner, o = e / (os.n * os.inner);
      const int64_t k = ip[e];
      if (k < 0 || k >= xs.n) {  // only a replay can bring one: the op checked the index
        report_out_of_range(index.device(), e, k, xs.n);
        std::memset(op + e * es, 0, es);
        continue;
      }
      std::memcpy(op + e * es, xp + ((o * xs.n + k) * xs.inner + i) * es, es);
    }
  });
}

void CpuBackend::scatter_add_axis(const Tensor& src, const Tensor& index, int64_t axis,
                                  Tensor& out) {
  const AxisSplit ss = split_at(src.shape(), axis), os = split_at(out.shape(), axis);
  const int64_t* ip = index.data<int64_t>();
  cpu::dispatch_any(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* sp = src.data<T>();
    T* op = out.data<T>();
    // One task per (outer, inner) column; each adds its column's j in order, so repeated
    // targets add up in the same order every time.
    parallel_for(ss.outer * ss.inner, row_grain(kElementwiseGrain, ss.n), [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t o = c / ss.inner, i = c % ss.inner;
        for (int64_t j = 0; j < ss.n; ++j) {
          const int64_t e = (o * ss.n + j) * ss.inner + i;
          const int64_t k = ip[e];
          if (k < 0 || k >= os.n) {
            report_out_of_range(index.device(), e, k, os.n);
            continue;
          }
          T& dst = op[(o * os.n + k) * os.inner + i];
          if constexpr (math::is_bool_v<T>)
            dst = dst || sp[e];
          else
            dst += sp[e];
        }
      }
    });
  });
}

}  // namespace fastnn
