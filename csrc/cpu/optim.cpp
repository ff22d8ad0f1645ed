// Optimizer updates: one pass over each parameter tensor, reading the gradient and the
// optimizer's state and writing the parameter and the state in place. Runtime flags become
// template arguments here (with_flags), so every loop is branch-free and vectorises. The
// loop bodies capture by value: a float hyperparameter captured by reference could alias
// the parameters being written, and the compiler would reload it every element.
#include "math/optim.h"

#include <cmath>
#include <type_traits>

#include "core/parallel.h"
#include "cpu/backend_cpu.h"

namespace fastnn {
namespace {

// An update is a few dozen flops per element (a square root and a division for Adam), so
// it pays for a second thread at a smaller size than a plain elementwise op.
constexpr int64_t kOptimizerGrain = 1 << 13;

// Calls f(std::bool_constant<a>{}, std::bool_constant<b>{}, ...) for runtime flags.
template <class F>
void with_flags(F&& f) {
  f();
}
template <class F, class... Rest>
void with_flags(F&& f, bool flag, Rest... rest) {
  if (flag)
    with_flags([&](auto... flags) { f(std::true_type{}, flags...); }, rest...);
  else
    with_flags([&](auto... flags) { f(std::false_type{}, flags...); }, rest...);
}

// State an optimizer was configured without (no momentum, no amsgrad) is undefined; the
// loops then pass a scratch value that the update never reads.
template <class T>
T* state_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// The parameter's step count after this update (steps[index] + 1, stored).
int64_t count_step(Tensor& steps, int64_t index) {
  return ++steps.data<int64_t>()[index];
}

}  // namespace

void CpuBackend::sgd_update(const Tensor& config, Tensor& steps, int64_t index, Tensor& param,
                            const Tensor& grad, Tensor& momentum) {
  const auto c = read_config<SGDConfig>(config);
  const int64_t step = count_step(steps, index);
  dispatch_float(param.dtype(), "SGD", [&](auto zero) {
    using T = decltype(zero);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* buf = state_or_null<T>(momentum);
    auto decay = math::make_decay<T>(T(c.lr), T(c.weight_decay), c.decoupled_weight_decay);
    T lr = T(c.lr), mom = T(c.momentum), damp = T(math::sgd_dampening(c.dampening, step));
    with_flags(
        [&](auto has_momentum, auto nesterov) {
          parallel_for(param.numel(), kOptimizerGrain, [=](int64_t b, int64_t e) {
            T scratch = 0;
            for (int64_t i = b; i < e; ++i)
              math::sgd_update<has_momentum.value, nesterov.value>(
                  p[i], g[i], has_momentum ? buf[i] : scratch, lr, mom, damp, decay);
          });
        },
        buf != nullptr && c.momentum != 0, c.nesterov);
  });
}

void CpuBackend::adam_update(const Tensor& config, Tensor& steps, int64_t index, Tensor& param,
                             const Tensor& grad, Tensor& m, Tensor& v, Tensor& v_max) {
  const auto c = read_config<AdamConfig>(config);
  const int64_t step = count_step(steps, index);
  dispatch_float(param.dtype(), "Adam", [&](auto zero) {
    using T = decltype(zero);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* mp = m.data<T>();
    T* vp = v.data<T>();
    T* vm = state_or_null<T>(v_max);
    const auto s = math::adam_step<T>(c.lr, c.beta1, c.beta2, c.eps, c.epsilon_hat, step);
    T step_size = s.step_size, inv_bias2_sqrt = s.inv_bias2_sqrt, eps = s.eps;
    T beta1 = T(c.beta1), beta2 = T(c.beta2);
    auto decay = math::make_decay<T>(T(c.lr), T(c.weight_decay), c.decoupled_weight_decay);
    with_flags(
        [&](auto amsgrad) {
          parallel_for(param.numel(), kOptimizerGrain, [=](int64_t b, int64_t e) {
            T scratch = 0;
            for (int64_t i = b; i < e; ++i)
              math::adam_update<amsgrad.value>(p[i], g[i], mp[i], vp[i], amsgrad ? vm[i] : scratch,
                                               beta1, beta2, eps, decay, step_size, inv_bias2_sqrt);
          });
        },
        vm != nullptr && c.amsgrad);
  });
}

void CpuBackend::rmsprop_update(const Tensor& config, Tensor& steps, int64_t index,
                                Tensor& param, const Tensor& grad, Tensor& square_avg,
                                Tensor& momentum, Tensor& grad_avg) {
  const auto c = read_config<RMSpropConfig>(config);
  count_step(steps, index);
  dispatch_float(param.dtype(), "RMSprop", [&](auto zero) {
    using T = decltype(zero);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* sq = square_avg.data<T>();
    T* buf = state_or_null<T>(momentum);
    T* ga = state_or_null<T>(grad_avg);
    auto decay = math::make_decay<T>(T(c.lr), T(c.weight_decay), c.decoupled_weight_decay);
    T lr = T(c.lr), alpha = T(c.alpha), eps = T(c.eps), mom = T(c.momentum);
    with_flags(
        [&](auto has_momentum, auto centered, auto inside) {
          parallel_for(param.numel(), kOptimizerGrain, [=](int64_t b, int64_t e) {
            T scratch_buf = 0, scratch_avg = 0;
            for (int64_t i = b; i < e; ++i)
              math::rmsprop_update<has_momentum.value, centered.value, inside.value>(
                  p[i], g[i], sq[i], has_momentum ? buf[i] : scratch_buf,
                  centered ? ga[i] : scratch_avg, lr, alpha, eps, decay, mom);
          });
        },
        buf != nullptr && c.momentum > 0, ga != nullptr && c.centered, c.eps_inside_sqrt);
  });
}

void CpuBackend::adagrad_update(const Tensor& config, Tensor& steps, int64_t index,
                                Tensor& param, const Tensor& grad, Tensor& sum) {
  const auto c = read_config<AdagradConfig>(config);
  const int64_t step = count_step(steps, index);
  dispatch_float(param.dtype(), "Adagrad", [&](auto zero) {
    using T = decltype(zero);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* s = sum.data<T>();
    T clr = T(math::adagrad_lr(c.lr, c.lr_decay, step)), eps = T(c.eps);
    auto decay = math::make_decay<T>(clr, T(c.weight_decay), c.decoupled_weight_decay);
    with_flags(
        [&](auto inside) {
          parallel_for(param.numel(), kOptimizerGrain, [=](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i)
              math::adagrad_update<inside.value>(p[i], g[i], s[i], clr, eps, decay);
          });
        },
        c.eps_inside_sqrt);
  });
}

}  // namespace fastnn
