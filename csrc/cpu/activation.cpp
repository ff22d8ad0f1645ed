// Activations, the dense epilogue (bias + activation in one pass) and softmax.
// N = rows (all leading dims), C = the last axis.
#include "math/activation.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "cpu/activation_dispatch.h"
#include "cpu/backend_cpu.h"
#include "math/exp.h"

namespace fastnn {
namespace {

// ReLU and its kin are a compare per element; the others an exp, a division or erf.
int64_t grain_of(Activation act) {
  bool cheap = act == Activation::Linear || act == Activation::ReLU || act == Activation::LeakyReLU;
  return cheap ? kElementwiseGrain : kTranscendentalGrain;
}

}  // namespace

void CpuBackend::activation_forward(Activation act, double alpha, const Tensor& x, Tensor& y) {
  dispatch_float(x.dtype(), "activation", [&](auto zero) {
    using T = decltype(zero);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    with_activation<T>(act, static_cast<T>(alpha), [&](auto f) {
      parallel_for(x.numel(), grain_of(act), [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) yp[i] = f(xp[i]);
      });
    });
  });
}

void CpuBackend::activation_backward(Activation act, double alpha, const Tensor& x, const Tensor& y,
                                     const Tensor& gy, Tensor& gx) {
  dispatch_float(gy.dtype(), "activation backward", [&](auto zero) {
    using T = decltype(zero);
    // Only GELU reads x and only the others read y; point the unused one at gy.
    const T* xp = x.defined() ? x.data<T>() : gy.data<T>();
    const T* yp = y.defined() ? y.data<T>() : gy.data<T>();
    const T* gyp = gy.data<T>();
    T* gxp = gx.data<T>();
    with_activation_grad<T>(act, static_cast<T>(alpha), [&](auto df) {
      parallel_for(gy.numel(), kElementwiseGrain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) gxp[i] = gyp[i] * df(xp[i], yp[i]);
      });
    });
  });
}

void CpuBackend::bias_activation_forward(Activation act, double alpha, const Tensor& bias,
                                         Tensor& y, Tensor& z) {
  dispatch_float(y.dtype(), "dense", [&](auto zero) {
    using T = decltype(zero);
    int64_t N = leading_rows(y), C = last_dim(y);
    T* yp = y.data<T>();
    T* zp = z.defined() ? z.data<T>() : nullptr;
    const T* bp = bias.defined() ? bias.data<T>() : nullptr;
    with_activation<T>(act, static_cast<T>(alpha), [&](auto f) {
      parallel_for(N, row_grain(grain_of(act), C), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          T* row = yp + r * C;  // seek to y[r, :]
          T* zrow = zp ? zp + r * C : nullptr;
          // Three plain loops over a row that stays in L1: each vectorises,
          // where one loop with the bias and z tests inside did not.
          if (bp)
            for (int64_t c = 0; c < C; ++c) row[c] += bp[c];
          if (zrow) std::copy(row, row + C, zrow);
          for (int64_t c = 0; c < C; ++c) row[c] = f(row[c]);
        }
      });
    });
  });
}

// Softmax over the last axis, max-subtracted so exp never overflows (the per-element
// formulas: math/activation.h).
void CpuBackend::softmax_forward(bool log, const Tensor& x, Tensor& y) {
  dispatch_float(x.dtype(), log ? "log_softmax" : "softmax", [&](auto zero) {
    using T = decltype(zero);
    int64_t N = leading_rows(x), C = last_dim(x);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    parallel_for(N, row_grain(kTranscendentalGrain, C), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = xp + r * C;
        T* yr = yp + r * C;
        T mx = xr[0];
        for (int64_t c = 1; c < C; ++c) mx = std::max(mx, xr[c]);
        T sum = 0;
        for (int64_t c = 0; c < C; ++c) sum += math::vexp(xr[c] - mx);
        if (log) {
          T log_sum = std::log(sum);
          for (int64_t c = 0; c < C; ++c) yr[c] = math::log_softmax_value(xr[c], mx, log_sum);
        } else {
          T inv = T(1) / sum;
          for (int64_t c = 0; c < C; ++c) yr[c] = math::softmax_value(xr[c], mx, inv);
        }
      }
    });
  });
}

// softmax:     gx = y * (gy - sum(gy * y))
// log_softmax: gx = gy - exp(y) * sum(gy)
void CpuBackend::softmax_backward(bool log, const Tensor& y, const Tensor& gy, Tensor& gx) {
  dispatch_float(y.dtype(), log ? "log_softmax backward" : "softmax backward", [&](auto zero) {
    using T = decltype(zero);
    int64_t N = leading_rows(y), C = last_dim(y);
    const T* yp = y.data<T>();
    const T* gyp = gy.data<T>();
    T* gxp = gx.data<T>();
    parallel_for(N, row_grain(kTranscendentalGrain, C), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* yr = yp + r * C;
        const T* gr = gyp + r * C;
        T* out = gxp + r * C;
        T dot = 0;
        if (log) {
          for (int64_t c = 0; c < C; ++c) dot += gr[c];
          for (int64_t c = 0; c < C; ++c) out[c] = math::log_softmax_grad(yr[c], gr[c], dot);
        } else {
          for (int64_t c = 0; c < C; ++c) dot += gr[c] * yr[c];
          for (int64_t c = 0; c < C; ++c) out[c] = math::softmax_grad(yr[c], gr[c], dot);
        }
      }
    });
  });
}

}  // namespace fastnn
