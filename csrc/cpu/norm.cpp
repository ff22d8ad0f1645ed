// Batch normalisation over the last axis: x (R rows, C channels), gamma, beta, moving
// statistics, mean and invstd all (C). Per-channel sums are taken in double over fixed
// chunks of rows (their boundaries depend on R and C only) and combined in chunk order, so
// results do not depend on the thread count.
//
// Forward:  y = (x - mean) * invstd * gamma + beta
// Backward: xhat = (x - mean) * invstd, gbeta = sum_r gy, ggamma = sum_r gy * xhat,
//           training:  gx = gamma * invstd * (gy - gbeta / R - xhat * ggamma / R)
//           inference: gx = gamma * invstd * gy
#include <algorithm>

#include "core/parallel.h"
#include "cpu/backend_cpu.h"
#include "math/norm.h"

namespace fastnn {

namespace {
// out[k * C + c] = sum over rows r of what add_row(r, acc) adds into acc[k * C + c], in
// scratch slot `slot` (slot 0 holds the partial sums meanwhile).
template <class AddRow>
const double* channel_sums(int slot, int64_t R, int64_t C, int K, AddRow add_row) {
  const int64_t rows_per_chunk = std::max<int64_t>(1, kReduceChunk / std::max<int64_t>(C, 1));
  const int64_t chunks = num_chunks(R, rows_per_chunk);
  double* partial = scratch<double>(0, chunks * K * C);
  std::fill(partial, partial + chunks * K * C, 0.0);
  // Threads take at least an elementwise loop's grain of values: a dense (64, 512) batch
  // is 8 chunks that one thread sums faster than two hand off (82 us vs 2.4 ms measured
  // under load, where a second thread waits for a scheduler slice).
  const int64_t chunk_values = rows_per_chunk * std::max<int64_t>(C, 1);
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / chunk_values);
  parallel_for(chunks, grain, [&](int64_t c0, int64_t c1) {
    for (int64_t chunk = c0; chunk < c1; ++chunk) {
      double* acc = partial + chunk * K * C;
      for (int64_t r = chunk * rows_per_chunk, e = std::min(R, r + rows_per_chunk); r < e; ++r)
        add_row(r, acc);
    }
  });
  double* total = scratch<double>(slot, K * C);
  std::fill(total, total + K * C, 0.0);
  for (int64_t chunk = 0; chunk < chunks; ++chunk)
    for (int64_t i = 0; i < K * C; ++i) total[i] += partial[chunk * K * C + i];
  return total;
}

template <class T>
T at_or(const Tensor& t, int64_t c, T otherwise) {
  return t.defined() ? t.data<T>()[c] : otherwise;
}
}  // namespace

void CpuBackend::batch_norm_forward(bool training, double momentum, double epsilon,
                                    bool unbiased_moving_variance, const Tensor& x,
                                    const Tensor& gamma, const Tensor& beta, Tensor& moving_mean,
                                    Tensor& moving_variance, Tensor& mean, Tensor& invstd,
                                    Tensor& y) {
  dispatch_float(x.dtype(), "batch_norm", [&](auto zero) {
    using T = decltype(zero);
    const int64_t C = last_dim(x), R = leading_rows(x);
    const T* xp = x.data<T>();
    T* mp = mean.data<T>();
    T* ip = invstd.data<T>();
    T* mmp = moving_mean.data<T>();
    T* mvp = moving_variance.data<T>();
    if (training) {
      // Two passes (mean, then squared deviations) rather than E[x^2] - E[x]^2, which
      // cancels badly when |mean| >> std.
      const double* sums = channel_sums(1, R, C, 1, [&](int64_t r, double* acc) {
        const T* row = xp + r * C;
        for (int64_t c = 0; c < C; ++c) acc[c] += row[c];
      });
      double* batch_mean = scratch<double>(2, C);
      for (int64_t c = 0; c < C; ++c) batch_mean[c] = sums[c] / double(R);
      const double* squares = channel_sums(3, R, C, 1, [&](int64_t r, double* acc) {
        const T* row = xp + r * C;
        for (int64_t c = 0; c < C; ++c) acc[c] += math::squared_deviation(row[c], batch_mean[c]);
      });
      for (int64_t c = 0; c < C; ++c) {
        const double variance = squares[c] / double(R);
        mp[c] = static_cast<T>(batch_mean[c]);
        ip[c] = static_cast<T>(math::batch_norm_invstd(variance, epsilon));
        mmp[c] = static_cast<T>(math::moving_average(momentum, mmp[c], batch_mean[c]));
        mvp[c] = static_cast<T>(math::moving_average(
            momentum, mvp[c],
            math::moving_variance_sample(squares[c], R, unbiased_moving_variance)));
      }
    } else {
      for (int64_t c = 0; c < C; ++c) {
        mp[c] = mmp[c];
        ip[c] = static_cast<T>(math::batch_norm_invstd(double(mvp[c]), epsilon));
      }
    }
    // Slots 1 and 2: a double kernel's values share the accumulators' buffers, whose
    // contents are no longer needed here.
    T* scale = scratch<T>(1, C);
    T* shift = scratch<T>(2, C);
    for (int64_t c = 0; c < C; ++c) {
      scale[c] = ip[c] * at_or<T>(gamma, c, T(1));
      shift[c] = at_or<T>(beta, c, T(0));
    }
    T* yp = y.data<T>();
    parallel_for(R, row_grain(kElementwiseGrain, C), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* row = xp + r * C;
        T* out = yp + r * C;
        for (int64_t c = 0; c < C; ++c)
          out[c] = math::batch_norm_apply(row[c], mp[c], scale[c], shift[c]);
      }
    });
  });
}

void CpuBackend::batch_norm_backward(bool training, const Tensor& x, const Tensor& gamma,
                                     const Tensor& mean, const Tensor& invstd, const Tensor& gy,
                                     Tensor& gx, Tensor& ggamma, Tensor& gbeta) {
  dispatch_float(x.dtype(), "batch_norm backward", [&](auto zero) {
    using T = decltype(zero);
    const int64_t C = last_dim(x), R = leading_rows(x);
    const T* xp = x.data<T>();
    const T* gp = gy.data<T>();
    const T* mp = mean.data<T>();
    const T* ip = invstd.data<T>();
    // sums[c] = sum gy, sums[C + c] = sum gy * xhat: needed by gamma, beta and, when
    // training, by gx.
    const double* sums = nullptr;
    if (training || ggamma.defined() || gbeta.defined())
      sums = channel_sums(1, R, C, 2, [&](int64_t r, double* acc) {
        const T* row = xp + r * C;
        const T* g = gp + r * C;
        for (int64_t c = 0; c < C; ++c) {
          acc[c] += g[c];
          acc[C + c] += math::batch_norm_gy_xhat(g[c], row[c], mp[c], ip[c]);
        }
      });
    if (gbeta.defined())
      for (int64_t c = 0; c < C; ++c) gbeta.data<T>()[c] = static_cast<T>(sums[c]);
    if (ggamma.defined())
      for (int64_t c = 0; c < C; ++c) ggamma.data<T>()[c] = static_cast<T>(sums[C + c]);
    if (!gx.defined()) return;
    // Slots 0, 2 and 3: slot 1 (sums) is still read below for a double kernel.
    T* scale = scratch<T>(0, C);
    T* mean_gy = scratch<T>(2, C);
    T* mean_gy_xhat = scratch<T>(3, C);
    for (int64_t c = 0; c < C; ++c) {
      scale[c] = at_or<T>(gamma, c, T(1)) * ip[c];
      mean_gy[c] = training ? static_cast<T>(sums[c] / double(R)) : T(0);
      mean_gy_xhat[c] = training ? static_cast<T>(sums[C + c] / double(R)) : T(0);
    }
    T* op = gx.data<T>();
    parallel_for(R, row_grain(kElementwiseGrain, C), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* row = xp + r * C;
        const T* g = gp + r * C;
        T* out = op + r * C;
        for (int64_t c = 0; c < C; ++c)
          out[c] = math::batch_norm_input_grad(g[c], row[c], mp[c], ip[c], scale[c], mean_gy[c],
                                               mean_gy_xhat[c]);
      }
    });
  });
}

}  // namespace fastnn
