// Running totals of a training epoch, kept in tensors so replayed steps never read a value
// back: the loss (with the first non-finite step) and accuracy metrics summed over samples
// (the same sums numpy computes in python/fastnn/metrics.py). N = samples, C = the last axis.
#include <cmath>

#include "cpu/backend_cpu.h"

namespace fastnn {
namespace {

template <class T>
int64_t argmax(const T* row, int64_t C) {
  int64_t best = 0;
  for (int64_t c = 1; c < C; ++c)
    if (row[c] > row[best]) best = c;  // the first of equal maxima, as numpy.argmax
  return best;
}

}  // namespace

void CpuBackend::loss_accumulate(const Tensor& loss, double weight, Tensor& totals) {
  double value = value_of(loss, 0);
  double* t = totals.data<double>();  // {sum, first non-finite step or -1, steps}
  if (!std::isfinite(value) && t[1] < 0) t[1] = t[2];
  t[0] += weight * value;
  t[2] += 1;
}

void CpuBackend::accuracy_accumulate(AccuracyKind kind, double threshold, const Tensor& pred,
                                     const Tensor& target, Tensor& sum) {
  sum.data<double>()[0] += dispatch_float(pred.dtype(), "accuracy", [&](auto zero) {
    using T = decltype(zero);
    const int64_t C = last_dim(pred), N = leading_rows(pred);
    const T* p = pred.data<T>();
    double total = 0;
    for (int64_t r = 0; r < N; ++r) {
      const T* row = p + r * C;  // seek to pred[r, :]
      switch (kind) {
        case AccuracyKind::SparseCategorical:
          total += value_of(target, r) == static_cast<double>(argmax(row, C)) ? 1.0 : 0.0;
          break;
        case AccuracyKind::Categorical: {
          int64_t best = 0;
          for (int64_t c = 1; c < C; ++c)
            if (value_of(target, r * C + c) > value_of(target, r * C + best)) best = c;
          total += best == argmax(row, C) ? 1.0 : 0.0;
          break;
        }
        case AccuracyKind::Binary: {
          double hits = 0;
          for (int64_t c = 0; c < C; ++c)
            hits += (row[c] > threshold ? 1.0 : 0.0) == value_of(target, r * C + c) ? 1.0 : 0.0;
          total += hits / static_cast<double>(C);
          break;
        }
      }
    }
    return total;
  });
}

}  // namespace fastnn
