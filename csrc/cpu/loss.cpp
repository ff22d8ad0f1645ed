// Losses, per sample: pred (N, C) with N all leading dims; the loss of row r is written to
// loss[r]. Elementwise losses average over C as Keras does; cross-entropies sum over
// classes. Backward scales each row's gradient by gloss[r].
#include "math/loss.h"

#include <algorithm>
#include <cmath>

#include "core/parallel.h"
#include "cpu/backend_cpu.h"
#include "math/exp.h"

namespace fastnn {
namespace {

template <class T>
T row_max(const T* x, int64_t C) {
  T m = x[0];
  for (int64_t c = 1; c < C; ++c) m = std::max(m, x[c]);
  return m;
}

// log(sum_c exp(x_c - m)) for the row's max m, in [0, log C]. Losses are built from
// (m - x_c) + this rather than from m + this: rounding at the scale of m would lose the
// digits of small losses when the logits are large.
template <class T>
T log_sum_exp_shifted(const T* x, int64_t C, T m) {
  T s = 0;
  for (int64_t c = 0; c < C; ++c) s += math::vexp(x[c] - m);
  return std::log(s);
}

// Elementwise losses: term(p, t) per element and dterm(p, t) its derivative.
// sum_c term(p[c], t[c]) in 16 interleaved partial sums combined in a fixed order: the
// same result on every run, and the loop vectorises (one running sum could not, as its
// order would have to change).
template <class T, class Term>
T row_sum(const T* p, const T* t, int64_t C, Term term) {
  constexpr int kLanes = 16;
  T lanes[kLanes] = {};
  int64_t c = 0;
  for (; c + kLanes <= C; c += kLanes)
    for (int l = 0; l < kLanes; ++l) lanes[l] += term(p[c + l], t[c + l]);
  T s = 0;
  for (int l = 0; l < kLanes; ++l) s += lanes[l];
  for (; c < C; ++c) s += term(p[c], t[c]);
  return s;
}

template <class T, class Term>
void elementwise_loss_forward(const T* p, const T* t, T* loss, int64_t N, int64_t C, Term term) {
  parallel_for(N, row_grain(kTranscendentalGrain, C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) loss[r] = row_sum(p + r * C, t + r * C, C, term) / T(C);
  });
}

template <class T, class DTerm>
void elementwise_loss_backward(const T* p, const T* t, const T* gl, T* gp, int64_t N, int64_t C,
                               DTerm dterm) {
  parallel_for(N, row_grain(kTranscendentalGrain, C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      T scale = gl[r] / T(C);
      for (int64_t c = 0; c < C; ++c) gp[r * C + c] = scale * dterm(p[r * C + c], t[r * C + c]);
    }
  });
}

// Keras's cross-entropy on probabilities: q = clip(p / sum(p)), loss = -sum_j t_j log q_j.
// With r = p / s, d loss / d p_k = -(1/s) (t_k u_k / r_k - sum_j t_j u_j), u_j = 1 where
// r_j is not clipped.
template <class T, class TargetAt>
T probability_ce_row(const T* p, int64_t C, TargetAt t) {
  T s = 0;
  for (int64_t c = 0; c < C; ++c) s += p[c];
  T loss = 0;
  for (int64_t c = 0; c < C; ++c) {
    T tc = t(c);
    if (tc != T(0)) loss += math::probability_crossentropy(p[c], tc, s);
  }
  return loss;
}

template <class T, class TargetAt>
void probability_ce_row_backward(const T* p, int64_t C, TargetAt t, T g, T* gp) {
  T s = 0;
  for (int64_t c = 0; c < C; ++c) s += p[c];
  T tu = 0;
  for (int64_t c = 0; c < C; ++c)
    if (!math::probability_clipped(p[c] / s)) tu += t(c);
  for (int64_t c = 0; c < C; ++c) gp[c] = math::probability_crossentropy_grad(p[c], t(c), s, tu, g);
}

// The class label of row r, or -1 (reported in kernel_errors) when it is not an integer in
// [0, C): labels of a replayed step were never seen by the host, and must not index out of
// the row. Such a row gets a NaN loss and no gradient.
inline int64_t checked_label(const Tensor& target, int64_t r, int64_t C) {
  int64_t bad = -1;
  if (!is_floating(target.dtype())) {
    int64_t y = label_at(target, r);
    if (y >= 0 && y < C) return y;
    bad = y;
  } else {
    int64_t y = math::float_label(value_of(target, r), C, bad);
    if (y >= 0) return y;
  }
  report_out_of_range(target.device(), r, bad, C);
  return -1;
}

template <class T>
void loss_forward_typed(LossKind kind, const Tensor& pred, const Tensor& target, Tensor& loss) {
  int64_t N = leading_rows(pred), C = last_dim(pred);
  const T* p = pred.data<T>();
  T* l = loss.data<T>();
  const bool sparse = kind == LossKind::SparseCategoricalCrossentropy ||
                      kind == LossKind::SparseCategoricalCrossentropyLogits;
  const T* t = sparse ? nullptr : target.data<T>();
  switch (kind) {
    case LossKind::MeanSquared:
      return elementwise_loss_forward(p, t, l, N, C,
                                      [](T a, T b) { return math::squared_error(a, b); });
    case LossKind::MeanAbsolute:
      return elementwise_loss_forward(p, t, l, N, C,
                                      [](T a, T b) { return math::absolute_error(a, b); });
    case LossKind::BinaryCrossentropy:
      return elementwise_loss_forward(p, t, l, N, C,
                                      [](T a, T b) { return math::binary_crossentropy(a, b); });
    case LossKind::BinaryCrossentropyLogits:
      return elementwise_loss_forward(
          p, t, l, N, C, [](T a, T b) { return math::binary_crossentropy_logits(a, b); });
    default:
      break;
  }
  parallel_for(N, row_grain(kTranscendentalGrain, C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* x = p + r * C;  // seek to pred[r, :]
      switch (kind) {
        case LossKind::CategoricalCrossentropyLogits: {
          T m = row_max(x, C), ls = log_sum_exp_shifted(x, C, m), sum = 0;
          for (int64_t c = 0; c < C; ++c) {
            T tc = t[r * C + c];
            if (tc != T(0)) sum += math::softmax_crossentropy(x[c], tc, m, ls);
          }
          l[r] = sum;
          break;
        }
        case LossKind::CategoricalCrossentropy:
          l[r] = probability_ce_row(x, C, [&](int64_t c) { return t[r * C + c]; });
          break;
        case LossKind::SparseCategoricalCrossentropyLogits: {
          int64_t y = checked_label(target, r, C);
          T m = row_max(x, C);
          l[r] = y < 0 ? T(NAN)
                       : math::softmax_crossentropy(x[y], T(1), m, log_sum_exp_shifted(x, C, m));
          break;
        }
        case LossKind::SparseCategoricalCrossentropy: {
          int64_t y = checked_label(target, r, C);
          l[r] = y < 0 ? T(NAN)
                       : probability_ce_row(x, C, [y](int64_t c) { return c == y ? T(1) : T(0); });
          break;
        }
        default:
          break;
      }
    }
  });
}

template <class T>
void loss_backward_typed(LossKind kind, const Tensor& pred, const Tensor& target,
                         const Tensor& gloss, Tensor& gpred) {
  int64_t N = leading_rows(pred), C = last_dim(pred);
  const T* p = pred.data<T>();
  const T* gl = gloss.data<T>();
  T* gp = gpred.data<T>();
  const bool sparse = kind == LossKind::SparseCategoricalCrossentropy ||
                      kind == LossKind::SparseCategoricalCrossentropyLogits;
  const T* t = sparse ? nullptr : target.data<T>();
  switch (kind) {
    case LossKind::MeanSquared:
      return elementwise_loss_backward(p, t, gl, gp, N, C,
                                       [](T a, T b) { return math::squared_error_grad(a, b); });
    case LossKind::MeanAbsolute:
      return elementwise_loss_backward(p, t, gl, gp, N, C,
                                       [](T a, T b) { return math::absolute_error_grad(a, b); });
    case LossKind::BinaryCrossentropy:
      return elementwise_loss_backward(
          p, t, gl, gp, N, C, [](T a, T b) { return math::binary_crossentropy_grad(a, b); });
    case LossKind::BinaryCrossentropyLogits:
      return elementwise_loss_backward(
          p, t, gl, gp, N, C, [](T a, T b) { return math::binary_crossentropy_logits_grad(a, b); });
    default:
      break;
  }
  parallel_for(N, row_grain(kTranscendentalGrain, C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* x = p + r * C;
      T* g = gp + r * C;
      T scale = gl[r];
      switch (kind) {
        case LossKind::CategoricalCrossentropyLogits: {
          // d/dx_j = sum(t) softmax_j - t_j
          T m = row_max(x, C), ls = log_sum_exp_shifted(x, C, m), st = 0;
          for (int64_t c = 0; c < C; ++c) st += t[r * C + c];
          for (int64_t c = 0; c < C; ++c)
            g[c] = scale * math::softmax_crossentropy_grad(x[c], t[r * C + c], m, ls, st);
          break;
        }
        case LossKind::CategoricalCrossentropy:
          probability_ce_row_backward(x, C, [&](int64_t c) { return t[r * C + c]; }, scale, g);
          break;
        case LossKind::SparseCategoricalCrossentropyLogits: {
          int64_t y = checked_label(target, r, C);
          if (y < 0) {
            std::fill(g, g + C, T(0));
            break;
          }
          T m = row_max(x, C), ls = log_sum_exp_shifted(x, C, m);
          for (int64_t c = 0; c < C; ++c) g[c] = scale * math::softmax_from_shifted(x[c], m, ls);
          g[y] -= scale;
          break;
        }
        case LossKind::SparseCategoricalCrossentropy: {
          int64_t y = checked_label(target, r, C);
          if (y < 0) {
            std::fill(g, g + C, T(0));
            break;
          }
          probability_ce_row_backward(
              x, C, [y](int64_t c) { return c == y ? T(1) : T(0); }, scale, g);
          break;
        }
        default:
          break;
      }
    }
  });
}

}  // namespace

void CpuBackend::loss_forward(LossKind kind, const Tensor& pred, const Tensor& target,
                              Tensor& loss) {
  dispatch_float(pred.dtype(), "loss",
                 [&](auto zero) { loss_forward_typed<decltype(zero)>(kind, pred, target, loss); });
}

void CpuBackend::loss_backward(LossKind kind, const Tensor& pred, const Tensor& target,
                               const Tensor& gloss, Tensor& gpred) {
  dispatch_float(pred.dtype(), "loss backward", [&](auto zero) {
    loss_backward_typed<decltype(zero)>(kind, pred, target, gloss, gpred);
  });
}

namespace {
// A row of index_crossentropy: its class, or -1 when ignored (ignore_index) or bad (reported).
inline int64_t index_row_label(const Tensor& target, int64_t r, int64_t C, int64_t ignore_index) {
  const int64_t y = label_at(target, r);
  if (y == ignore_index) return -1;
  if (y >= 0 && y < C) return y;
  report_out_of_range(target.device(), r, y, C);
  return -2;
}

template <class T>
T weight_of(const T* w, int64_t c) {
  return w ? w[c] : T(1);
}

// W of math::index_crossentropy: the class weights' sum (C without weights).
template <class T>
T weight_sum(const T* w, int64_t C) {
  T W = 0;
  for (int64_t c = 0; c < C; ++c) W += weight_of(w, c);
  return W;
}

template <class T>
void index_crossentropy_forward_typed(const Tensor& x, const Tensor& target, const Tensor& weight,
                                      int64_t ignore_index, T s, Tensor& loss,
                                      Tensor& row_weight) {
  const int64_t R = leading_rows(x), C = last_dim(x);
  const T* xp = x.data<T>();
  const T* w = weight.defined() ? weight.data<T>() : nullptr;
  T* l = loss.data<T>();
  T* rw = row_weight.data<T>();
  const T W = weight_sum(w, C);
  parallel_for(R, row_grain(kTranscendentalGrain, C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t y = index_row_label(target, r, C, ignore_index);
      if (y < 0) {  // ignored: nothing; bad: NaN, which the loss's totals report
        l[r] = y == -1 ? T(0) : T(NAN);
        rw[r] = 0;
        continue;
      }
      const T* row = xp + r * C;
      const T m = row_max(row, C), lse = m + log_sum_exp_shifted(row, C, m);
      T wx = 0;
      if (s != T(0))
        for (int64_t c = 0; c < C; ++c) wx += weight_of(w, c) * row[c];
      rw[r] = weight_of(w, y);
      l[r] = math::index_crossentropy(row[y], rw[r], lse, W, wx, s, T(C));
    }
  });
}

template <class T>
void index_crossentropy_backward_typed(const Tensor& x, const Tensor& target,
                                       const Tensor& weight, int64_t ignore_index, T s,
                                       const Tensor& gloss, Tensor& gx) {
  const int64_t R = leading_rows(x), C = last_dim(x);
  const T* xp = x.data<T>();
  const T* w = weight.defined() ? weight.data<T>() : nullptr;
  const T* g = gloss.data<T>();
  T* gp = gx.data<T>();
  const T W = weight_sum(w, C);
  parallel_for(R, row_grain(kTranscendentalGrain, C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      T* out = gp + r * C;
      const T* row = xp + r * C;
      const int64_t y = index_row_label(target, r, C, ignore_index);
      if (y < 0) {
        std::fill(out, out + C, T(0));
        continue;
      }
      const T m = row_max(row, C), ls = log_sum_exp_shifted(row, C, m), w_y = weight_of(w, y);
      for (int64_t c = 0; c < C; ++c)
        out[c] = g[r] * math::index_crossentropy_grad(math::softmax_from_shifted(row[c], m, ls),
                                                      c == y, w_y, weight_of(w, c), W, s, T(C));
    }
  });
}
}  // namespace

void CpuBackend::index_crossentropy_forward(const Tensor& x, const Tensor& target,
                                            const Tensor& weight, int64_t ignore_index,
                                            double smoothing, Tensor& loss, Tensor& row_weight) {
  dispatch_float(x.dtype(), "cross_entropy", [&](auto zero) {
    using T = decltype(zero);
    index_crossentropy_forward_typed<T>(x, target, weight, ignore_index, T(smoothing), loss,
                                        row_weight);
  });
}

void CpuBackend::index_crossentropy_backward(const Tensor& x, const Tensor& target,
                                             const Tensor& weight, int64_t ignore_index,
                                             double smoothing, const Tensor& gloss, Tensor& gx) {
  dispatch_float(x.dtype(), "cross_entropy backward", [&](auto zero) {
    using T = decltype(zero);
    index_crossentropy_backward_typed<T>(x, target, weight, ignore_index, T(smoothing), gloss,
                                         gx);
  });
}

}  // namespace fastnn
