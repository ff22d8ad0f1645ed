// Broadcasting binary ops, axpby, and the reductions that undo broadcasting (sum_to) and
// redo it (broadcast_to). Shapes here always have equal rank: the ops layer pads with 1s.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <type_traits>

#include "core/broadcast.h"
#include "core/parallel.h"
#include "cpu/backend_cpu.h"
#include "cpu/broadcast_loop.h"
#include "math/elementwise.h"
#include "math/tensor_math.h"

namespace fastnn {
namespace {

using Layout = BroadcastLayout;
using cpu::for_each_run;
using cpu::outer_rows;

// Whether out is x summed over all but its last axis (out's shape: ones, then x's last dim).
bool reduces_leading_dims_only(const Tensor& x, const Tensor& out) {
  if (x.dim() < 2 || out.dim() < 1 || out.shape().back() != x.shape().back()) return false;
  return out.numel() == x.shape().back();
}

}  // namespace

void CpuBackend::binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  cpu::dispatch_any(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    auto run = [&](auto op_tag) {
      constexpr BinaryOp Op = decltype(op_tag)::value;
      cpu::broadcast_apply<T, T, T>(a, b, out, [](T x, T y) { return math::binary<Op>(x, y); });
    };
    switch (op) {
      case BinaryOp::Add:
        return run(std::integral_constant<BinaryOp, BinaryOp::Add>{});
      case BinaryOp::Sub:
        return run(std::integral_constant<BinaryOp, BinaryOp::Sub>{});
      case BinaryOp::Mul:
        return run(std::integral_constant<BinaryOp, BinaryOp::Mul>{});
      case BinaryOp::Div:
        return run(std::integral_constant<BinaryOp, BinaryOp::Div>{});
      case BinaryOp::Pow:
        return run(std::integral_constant<BinaryOp, BinaryOp::Pow>{});
      case BinaryOp::Maximum:
        return run(std::integral_constant<BinaryOp, BinaryOp::Maximum>{});
      case BinaryOp::Minimum:
        return run(std::integral_constant<BinaryOp, BinaryOp::Minimum>{});
      case BinaryOp::FloorDivide:
        return run(std::integral_constant<BinaryOp, BinaryOp::FloorDivide>{});
      case BinaryOp::Remainder:
        return run(std::integral_constant<BinaryOp, BinaryOp::Remainder>{});
      case BinaryOp::BitAnd:
        return run(std::integral_constant<BinaryOp, BinaryOp::BitAnd>{});
      case BinaryOp::BitOr:
        return run(std::integral_constant<BinaryOp, BinaryOp::BitOr>{});
      case BinaryOp::BitXor:
        return run(std::integral_constant<BinaryOp, BinaryOp::BitXor>{});
    }
  });
}

void CpuBackend::axpby(double alpha, const Tensor& x, double beta, Tensor& out) {
  dispatch_float(out.dtype(), "axpby", [&](auto zero) {
    using T = decltype(zero);
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    T a = static_cast<T>(alpha), b = static_cast<T>(beta);
    parallel_for(out.numel(), kElementwiseGrain, [=](int64_t s, int64_t e) {
      if (beta == 0) {
        for (int64_t i = s; i < e; ++i) op[i] = a * xp[i];
      } else {
        for (int64_t i = s; i < e; ++i) op[i] = a * xp[i] + b * op[i];
      }
    });
  });
}

// Accumulates in double for both dtypes, in one fixed order: a full sum adds fixed-size
// chunks (in parallel) and then the chunk totals in chunk order; a partial sum walks x in
// row-major order.
void CpuBackend::sum_to(const Tensor& x, Tensor& out) {
  dispatch_float(x.dtype(), "sum", [&](auto zero) {
    using T = decltype(zero);
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    int64_t n = x.numel();
    if (out.numel() == 1) {
      int64_t chunks = num_chunks(n, kReduceChunk);
      double* partial = scratch<double>(0, chunks);
      parallel_for(chunks, 8, [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
          double s = 0;
          for (int64_t i = c * kReduceChunk, e = std::min(n, i + kReduceChunk); i < e; ++i)
            s += xp[i];
          partial[c] = s;
        }
      });
      double total = 0;
      for (int64_t c = 0; c < chunks; ++c) total += partial[c];
      op[0] = static_cast<T>(total);
      return;
    }
    if (reduces_leading_dims_only(x, out)) {
      int64_t C = last_dim(x), N = leading_rows(x);
      // Column sums (bias gradients). Narrow rows, the usual case (a conv's channels over
      // N*H*W pixels): fixed blocks of whole rows, each summed in double by one thread, then
      // the blocks' sums added in order, so the result does not depend on the thread count.
      // (Splitting the columns between threads made each one read every row: a CIFAR conv's
      // 64-channel bias gradient took 2-5 ms for 16 MB.)
      constexpr int64_t kBlockElements = 1 << 16;
      if (C <= kBlockElements / 16) {
        // Rows are added `group` at a time as one run of group * C values (at least 64),
        // so a few columns (LeNet's 10) still make a long vector loop; the run's sums fold
        // into the block's columns at the end.
        const int64_t group = std::max<int64_t>(1, 64 / C), run = group * C;
        const int64_t block_rows = kBlockElements / run * group;
        const int64_t blocks = num_chunks(N, block_rows);
        double* partial = scratch<double>(0, static_cast<size_t>(blocks * C));
        parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
          double* acc = scratch<double>(1, static_cast<size_t>(run));
          for (int64_t b = b0; b < b1; ++b) {
            std::fill(acc, acc + run, 0.0);
            int64_t r = b * block_rows;
            const int64_t e = std::min(N, r + block_rows);
            for (; r + group <= e; r += group) {
              const T* rows = xp + r * C;
              for (int64_t i = 0; i < run; ++i) acc[i] += rows[i];
            }
            for (; r < e; ++r) {
              const T* row = xp + r * C;
              for (int64_t c = 0; c < C; ++c) acc[c] += row[c];
            }
            double* out_block = partial + b * C;
            for (int64_t c = 0; c < C; ++c) {
              double sum = 0;
              for (int64_t i = c; i < run; i += C) sum += acc[i];
              out_block[c] = sum;
            }
          }
        });
        for (int64_t c = 0; c < C; ++c) {
          double total = 0;
          for (int64_t b = 0; b < blocks; ++b) total += partial[b * C + c];
          op[c] = static_cast<T>(total);
        }
        return;
      }
      // Wide rows: each chunk of columns adds the rows in order (long contiguous runs).
      parallel_for(C, row_grain(kElementwiseGrain, N), [&](int64_t c0, int64_t c1) {
        double* acc = scratch<double>(0, c1 - c0);
        std::fill(acc, acc + (c1 - c0), 0.0);
        for (int64_t r = 0; r < N; ++r) {
          const T* row = xp + r * C + c0;
          for (int64_t c = 0; c < c1 - c0; ++c) acc[c] += row[c];
        }
        for (int64_t c = c0; c < c1; ++c) op[c] = static_cast<T>(acc[c - c0]);
      });
      return;
    }
    double* acc = scratch<double>(0, out.numel());
    std::fill(acc, acc + out.numel(), 0.0);
    if (n == 0) {  // an empty sum is 0; the layout below would have rows of length 0
      for (int64_t i = 0; i < out.numel(); ++i) op[i] = T(0);
      return;
    }
    // Iterate over x's shape; out plays operand b (stride 0 on reduced dims).
    Layout L = broadcast_layout(x.shape(), x.shape(), out.shape());
    for_each_run(L, 0, outer_rows(L),
                 [&](int64_t oa, int64_t ob, int64_t, int64_t cnt, int64_t sa, int64_t sb) {
                   const T* src = xp + oa;
                   double* dst = acc + ob;
                   if (sb == 0) {
                     double s = 0;
                     for (int64_t i = 0; i < cnt; ++i) s += src[i * sa];
                     *dst += s;
                   } else if (sa == 1 && sb == 1) {  // column sums (bias gradients): vectorises
                     for (int64_t i = 0; i < cnt; ++i) dst[i] += src[i];
                   } else {
                     for (int64_t i = 0; i < cnt; ++i) dst[i * sb] += src[i * sa];
                   }
                 });
    for (int64_t i = 0; i < out.numel(); ++i) op[i] = static_cast<T>(acc[i]);
  });
}

void CpuBackend::penalty_forward(const Tensor& w, double l1, double l2, Tensor& out) {
  dispatch_float(w.dtype(), "regularizer", [&](auto zero) {
    using T = decltype(zero);
    const T* wp = w.data<T>();
    int64_t n = w.numel(), chunks = num_chunks(n, kReduceChunk);
    double* partial = scratch<double>(0, chunks);
    parallel_for(chunks, 8, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        double s1 = 0, s2 = 0;
        for (int64_t i = c * kReduceChunk, e = std::min(n, i + kReduceChunk); i < e; ++i) {
          s1 += std::abs(double(wp[i]));
          s2 += double(wp[i]) * wp[i];
        }
        partial[c] = l1 * s1 + l2 * s2;
      }
    });
    double total = 0;
    for (int64_t c = 0; c < chunks; ++c) total += partial[c];
    out.data<T>()[0] = static_cast<T>(total);
  });
}

void CpuBackend::penalty_backward(const Tensor& w, double l1, double l2, const Tensor& gout,
                                  Tensor& gw) {
  dispatch_float(w.dtype(), "regularizer backward", [&](auto zero) {
    using T = decltype(zero);
    const T* wp = w.data<T>();
    T* gp = gw.data<T>();
    T g = gout.data<T>()[0], a = T(l1), b = T(2 * l2);
    parallel_for(w.numel(), kElementwiseGrain, [=](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) gp[i] = math::penalty_grad(wp[i], g, a, b);
    });
  });
}

void CpuBackend::broadcast_to(const Tensor& x, double alpha, Tensor& out) {
  dispatch_float(out.dtype(), "broadcast", [&](auto zero) {
    using T = decltype(zero);
    T a = static_cast<T>(alpha);
    cpu::broadcast_apply<T, T, T>(x, x, out, [a](T v, T) { return a * v; });
  });
}

// A float is finite when its exponent bits are not all ones: an integer test that
// vectorises, where std::isfinite stays a scalar call. fit checks whole target arrays with it.
bool CpuBackend::all_finite(const Tensor& x) {
  count_host_read();
  return dispatch_float(x.dtype(), "isfinite", [&](auto zero) {
    using T = decltype(zero);
    using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
    constexpr Bits exponent = sizeof(T) == 4 ? Bits(0x7f800000u) : Bits(0x7ff0000000000000ull);
    const Bits* p = reinterpret_cast<const Bits*>(x.data<T>());
    int64_t n = x.numel(), chunks = num_chunks(n, kReduceChunk);
    std::atomic<bool> ok{true};
    parallel_for(chunks, row_grain(kElementwiseGrain, kReduceChunk), [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1 && ok.load(std::memory_order_relaxed); ++c) {
        Bits bad = 0;  // any element with all exponent bits set
        for (int64_t i = c * kReduceChunk, e = std::min(n, i + kReduceChunk); i < e; ++i)
          bad |= Bits((p[i] & exponent) == exponent);
        if (bad) ok.store(false, std::memory_order_relaxed);
      }
    });
    return ok.load();
  });
}

}  // namespace fastnn
