// Optimizer updates: one pass over each parameter tensor, reading the gradient and the
// optimizer's state and writing the parameter and the state in place.
#include <cmath>

#include "core/parallel.h"
#include "cpu/backend_cpu.h"
#include "math/optim.h"

namespace fastnn {


void CpuBackend::sgd_update(const SGDConfig& c, bool first_step, Tensor& param, const Tensor& grad,
                            Tensor& momentum) {
  dispatch_float(param.dtype(), "SGD", [&](auto zero) {
    using T = decltype(zero);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    parallel_for(param.numel(), kElementwiseGrain, [&](int64_t b, int64_t e) {
      T dummy = 0;
      T* buf = momentum.defined() ? momentum.data<T>() : nullptr;
      for (int64_t i = b; i < e; ++i)
        math::sgd_update<T>(p[i], g[i], buf ? buf[i] : dummy, T(c.lr), T(c.momentum),
                            T(c.dampening), T(c.weight_decay), c.decoupled_weight_decay,
                            c.nesterov, first_step);
    });
  });
}

void CpuBackend::adam_update(const AdamConfig& c, int64_t step, Tensor& param, const Tensor& grad,
                             Tensor& m, Tensor& v, Tensor& v_max) {
  dispatch_float(param.dtype(), "Adam", [&](auto zero) {
    using T = decltype(zero);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* mp = m.data<T>();
    T* vp = v.data<T>();
    T bias1 = T(1 - std::pow(c.beta1, double(step)));
    T bias2_sqrt = T(std::sqrt(1 - std::pow(c.beta2, double(step))));
    T eps = T(c.epsilon_hat ? c.eps / double(bias2_sqrt) : c.eps);
    parallel_for(param.numel(), kElementwiseGrain, [&](int64_t b, int64_t e) {
      T dummy = 0;
      T* vm = v_max.defined() ? v_max.data<T>() : nullptr;
      for (int64_t i = b; i < e; ++i)
        math::adam_update<T>(p[i], g[i], mp[i], vp[i], vm ? vm[i] : dummy, T(c.lr), T(c.beta1),
                             T(c.beta2), eps, T(c.weight_decay), c.decoupled_weight_decay,
                             c.amsgrad, bias1, bias2_sqrt);
    });
  });
}

void CpuBackend::rmsprop_update(const RMSpropConfig& c, Tensor& param, const Tensor& grad,
                                Tensor& square_avg, Tensor& momentum, Tensor& grad_avg) {
  dispatch_float(param.dtype(), "RMSprop", [&](auto zero) {
    using T = decltype(zero);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* sq = square_avg.data<T>();
    parallel_for(param.numel(), kElementwiseGrain, [&](int64_t b, int64_t e) {
      T dummy_buf = 0, dummy_avg = 0;
      T* buf = momentum.defined() ? momentum.data<T>() : nullptr;
      T* ga = grad_avg.defined() ? grad_avg.data<T>() : nullptr;
      for (int64_t i = b; i < e; ++i)
        math::rmsprop_update<T>(p[i], g[i], sq[i], buf ? buf[i] : dummy_buf,
                                ga ? ga[i] : dummy_avg, T(c.lr), T(c.alpha), T(c.eps),
                                T(c.weight_decay), c.decoupled_weight_decay, T(c.momentum),
                                c.centered, c.eps_inside_sqrt);
    });
  });
}

void CpuBackend::adagrad_update(const AdagradConfig& c, int64_t step, Tensor& param,
                                const Tensor& grad, Tensor& sum) {
  dispatch_float(param.dtype(), "Adagrad", [&](auto zero) {
    using T = decltype(zero);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* s = sum.data<T>();
    T clr = T(c.lr / (1 + (step - 1) * c.lr_decay));
    parallel_for(param.numel(), kElementwiseGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        math::adagrad_update<T>(p[i], g[i], s[i], clr, T(c.eps), T(c.weight_decay),
                                c.decoupled_weight_decay, c.eps_inside_sqrt);
    });
  });
}

}  // namespace fastnn
