// Optimizer updates (csrc/cpu/optim.cpp's counterpart): one pass over each parameter tensor,
// reading the gradient and the optimizer's state and writing the parameter and the state in
// place, a thread per element (math/optim.h).
//
// The config struct and the step counts stay on the device (a replayed plan reaches a new
// learning rate or the next step without re-recording): the kernel reads the struct through
// a pointer into the config tensor. Each update is two launches on the stream: a one-thread
// kernel adds one to steps[index], then the update kernel reads the new count. (The other
// order, update first and increment after, would need every thread to read steps[index] + 1
// and a later kernel to write it; incrementing first is the CPU's order, count_step then
// update, and leaves the update kernel nothing to coordinate.) Thread 0 of each block turns
// the config and the count into the step's scalars (Adam's two pow) in shared memory, once
// per block rather than once per element. Flags the CPU makes template arguments on the host
// (momentum, nesterov, amsgrad, centered, eps_inside_sqrt) are read there too and select an
// instantiation of the loop: the branch is the same for the whole grid.
#include "cuda/common.cuh"
#include "math/optim.h"

namespace fastnn {

namespace {

// steps[index] += 1: the parameter's count after this update, which the update kernel
// launched next on the stream reads.
__global__ void count_step_kernel(int64_t* steps, int64_t index) {
  steps[index] += 1;
}

// Checks that the update's config and steps live on the parameter's device (the host never
// reads them) and counts the step.
void count_step(cudaStream_t stream, const Tensor& config, Tensor& steps, int64_t index,
                const Tensor& param, const char* who) {
  FASTNN_CHECK(config.device() == param.device() && steps.device() == param.device(), Value,
               who, ": expected the config and step tensors on the parameters' device ",
               param.device().name(), ", got ", config.device().name(), " and ",
               steps.device().name());
  count_step_kernel<<<1, 1, 0, stream>>>(steps.data<int64_t>(), index);
  FASTNN_CUDA_CHECK_LAUNCH();
}

// State an optimizer was configured without (no momentum, no amsgrad) is undefined: null,
// and the loops pass a scratch value the update never reads.
template <class T>
T* state_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// --- SGD ---

template <class T>
struct SgdScalars {
  T lr, momentum, dampening;
  math::Decay<T> decay;
  bool has_momentum, nesterov;
};

template <bool Momentum, bool Nesterov, class T>
__device__ void sgd_loop(const SgdScalars<T>& s, int64_t n, T* param, const T* grad, T* buf) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(blockDim.x) * gridDim.x) {
    T scratch = 0;
    math::sgd_update<Momentum, Nesterov>(param[i], grad[i], Momentum ? buf[i] : scratch, s.lr,
                                         s.momentum, s.dampening, s.decay);
  }
}

// param, grad, momentum (n): one SGD step; momentum may be null.
template <class T>
__global__ void sgd_kernel(const SGDConfig* config, const int64_t* steps, int64_t index,
                           int64_t n, T* param, const T* grad, T* momentum) {
  __shared__ SgdScalars<T> shared;
  if (threadIdx.x == 0) {
    const SGDConfig c = *config;
    shared.lr = T(c.lr);
    shared.momentum = T(c.momentum);
    shared.dampening = T(math::sgd_dampening(c.dampening, steps[index]));
    shared.decay = math::make_decay<T>(T(c.lr), T(c.weight_decay), c.decoupled_weight_decay);
    shared.has_momentum = momentum != nullptr && c.momentum != 0;
    shared.nesterov = c.nesterov;
  }
  __syncthreads();
  const SgdScalars<T> s = shared;
  if (!s.has_momentum)
    sgd_loop<false, false>(s, n, param, grad, momentum);
  else if (s.nesterov)
    sgd_loop<true, true>(s, n, param, grad, momentum);
  else
    sgd_loop<true, false>(s, n, param, grad, momentum);
}

template <class T>
void sgd_typed(cudaStream_t stream, const Tensor& config, const Tensor& steps, int64_t index,
               Tensor& param, const Tensor& grad, const Tensor& momentum) {
  const int64_t n = param.numel();
  if (n == 0) return;
  sgd_kernel<T><<<cuda::blocks_for(n), cuda::kThreads, 0, stream>>>(
      reinterpret_cast<const SGDConfig*>(config.raw()), steps.data<int64_t>(), index, n,
      param.data<T>(), grad.data<T>(), state_or_null<T>(momentum));
  FASTNN_CUDA_CHECK_LAUNCH();
}

// --- Adam ---

template <class T>
struct AdamScalars {
  math::AdamStep<T> step;
  T beta1, beta2;
  math::Decay<T> decay;
  bool amsgrad;
};

template <bool AMSGrad, class T>
__device__ void adam_loop(const AdamScalars<T>& s, int64_t n, T* param, const T* grad, T* m,
                          T* v, T* v_max) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(blockDim.x) * gridDim.x) {
    T scratch = 0;
    math::adam_update<AMSGrad>(param[i], grad[i], m[i], v[i], AMSGrad ? v_max[i] : scratch,
                               s.beta1, s.beta2, s.step.eps, s.decay, s.step.step_size,
                               s.step.inv_bias2_sqrt);
  }
}

// param, grad, m, v, v_max (n): one Adam step; v_max may be null.
template <class T>
__global__ void adam_kernel(const AdamConfig* config, const int64_t* steps, int64_t index,
                            int64_t n, T* param, const T* grad, T* m, T* v, T* v_max) {
  __shared__ AdamScalars<T> shared;
  if (threadIdx.x == 0) {
    const AdamConfig c = *config;
    shared.step = math::adam_step<T>(c.lr, c.beta1, c.beta2, c.eps, c.epsilon_hat, steps[index]);
    shared.beta1 = T(c.beta1);
    shared.beta2 = T(c.beta2);
    shared.decay = math::make_decay<T>(T(c.lr), T(c.weight_decay), c.decoupled_weight_decay);
    shared.amsgrad = v_max != nullptr && c.amsgrad;
  }
  __syncthreads();
  const AdamScalars<T> s = shared;
  if (s.amsgrad)
    adam_loop<true>(s, n, param, grad, m, v, v_max);
  else
    adam_loop<false>(s, n, param, grad, m, v, v_max);
}

template <class T>
void adam_typed(cudaStream_t stream, const Tensor& config, const Tensor& steps, int64_t index,
                Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const Tensor& v_max) {
  const int64_t n = param.numel();
  if (n == 0) return;
  adam_kernel<T><<<cuda::blocks_for(n), cuda::kThreads, 0, stream>>>(
      reinterpret_cast<const AdamConfig*>(config.raw()), steps.data<int64_t>(), index, n,
      param.data<T>(), grad.data<T>(), m.data<T>(), v.data<T>(), state_or_null<T>(v_max));
  FASTNN_CUDA_CHECK_LAUNCH();
}

// --- RMSprop ---

template <class T>
struct RmspropScalars {
  T lr, alpha, eps, momentum;
  math::Decay<T> decay;
  bool has_momentum, centered, eps_inside_sqrt;
};

template <bool Momentum, bool Centered, bool EpsInsideSqrt, class T>
__device__ void rmsprop_loop(const RmspropScalars<T>& s, int64_t n, T* param, const T* grad,
                             T* square_avg, T* buf, T* grad_avg) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(blockDim.x) * gridDim.x) {
    T scratch_buf = 0, scratch_avg = 0;
    math::rmsprop_update<Momentum, Centered, EpsInsideSqrt>(
        param[i], grad[i], square_avg[i], Momentum ? buf[i] : scratch_buf,
        Centered ? grad_avg[i] : scratch_avg, s.lr, s.alpha, s.eps, s.decay, s.momentum);
  }
}

// The eight instantiations, one flag at a time.
template <bool Momentum, bool Centered, class T>
__device__ void rmsprop_loop_eps(const RmspropScalars<T>& s, int64_t n, T* param, const T* grad,
                                 T* square_avg, T* buf, T* grad_avg) {
  if (s.eps_inside_sqrt)
    rmsprop_loop<Momentum, Centered, true>(s, n, param, grad, square_avg, buf, grad_avg);
  else
    rmsprop_loop<Momentum, Centered, false>(s, n, param, grad, square_avg, buf, grad_avg);
}
template <bool Momentum, class T>
__device__ void rmsprop_loop_centered(const RmspropScalars<T>& s, int64_t n, T* param,
                                      const T* grad, T* square_avg, T* buf, T* grad_avg) {
  if (s.centered)
    rmsprop_loop_eps<Momentum, true>(s, n, param, grad, square_avg, buf, grad_avg);
  else
    rmsprop_loop_eps<Momentum, false>(s, n, param, grad, square_avg, buf, grad_avg);
}

// param, grad, square_avg, momentum, grad_avg (n): one RMSprop step; momentum and grad_avg
// may be null.
template <class T>
__global__ void rmsprop_kernel(const RMSpropConfig* config, int64_t n, T* param, const T* grad,
                               T* square_avg, T* buf, T* grad_avg) {
  __shared__ RmspropScalars<T> shared;
  if (threadIdx.x == 0) {
    const RMSpropConfig c = *config;
    shared.lr = T(c.lr);
    shared.alpha = T(c.alpha);
    shared.eps = T(c.eps);
    shared.momentum = T(c.momentum);
    shared.decay = math::make_decay<T>(T(c.lr), T(c.weight_decay), c.decoupled_weight_decay);
    shared.has_momentum = buf != nullptr && c.momentum > 0;
    shared.centered = grad_avg != nullptr && c.centered;
    shared.eps_inside_sqrt = c.eps_inside_sqrt;
  }
  __syncthreads();
  const RmspropScalars<T> s = shared;
  if (s.has_momentum)
    rmsprop_loop_centered<true>(s, n, param, grad, square_avg, buf, grad_avg);
  else
    rmsprop_loop_centered<false>(s, n, param, grad, square_avg, buf, grad_avg);
}

template <class T>
void rmsprop_typed(cudaStream_t stream, const Tensor& config, Tensor& param, const Tensor& grad,
                   Tensor& square_avg, const Tensor& momentum, const Tensor& grad_avg) {
  const int64_t n = param.numel();
  if (n == 0) return;
  rmsprop_kernel<T><<<cuda::blocks_for(n), cuda::kThreads, 0, stream>>>(
      reinterpret_cast<const RMSpropConfig*>(config.raw()), n, param.data<T>(), grad.data<T>(),
      square_avg.data<T>(), state_or_null<T>(momentum), state_or_null<T>(grad_avg));
  FASTNN_CUDA_CHECK_LAUNCH();
}

// --- Adagrad ---

template <class T>
struct AdagradScalars {
  T lr, eps;
  math::Decay<T> decay;
  bool eps_inside_sqrt;
};

template <bool EpsInsideSqrt, class T>
__device__ void adagrad_loop(const AdagradScalars<T>& s, int64_t n, T* param, const T* grad,
                             T* sum) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(blockDim.x) * gridDim.x) {
    math::adagrad_update<EpsInsideSqrt>(param[i], grad[i], sum[i], s.lr, s.eps, s.decay);
  }
}

// param, grad, sum (n): one Adagrad step.
template <class T>
__global__ void adagrad_kernel(const AdagradConfig* config, const int64_t* steps, int64_t index,
                               int64_t n, T* param, const T* grad, T* sum) {
  __shared__ AdagradScalars<T> shared;
  if (threadIdx.x == 0) {
    const AdagradConfig c = *config;
    const T clr = T(math::adagrad_lr(c.lr, c.lr_decay, steps[index]));
    shared.lr = clr;
    shared.eps = T(c.eps);
    shared.decay = math::make_decay<T>(clr, T(c.weight_decay), c.decoupled_weight_decay);
    shared.eps_inside_sqrt = c.eps_inside_sqrt;
  }
  __syncthreads();
  const AdagradScalars<T> s = shared;
  if (s.eps_inside_sqrt)
    adagrad_loop<true>(s, n, param, grad, sum);
  else
    adagrad_loop<false>(s, n, param, grad, sum);
}

template <class T>
void adagrad_typed(cudaStream_t stream, const Tensor& config, const Tensor& steps, int64_t index,
                   Tensor& param, const Tensor& grad, Tensor& sum) {
  const int64_t n = param.numel();
  if (n == 0) return;
  adagrad_kernel<T><<<cuda::blocks_for(n), cuda::kThreads, 0, stream>>>(
      reinterpret_cast<const AdagradConfig*>(config.raw()), steps.data<int64_t>(), index, n,
      param.data<T>(), grad.data<T>(), sum.data<T>());
  FASTNN_CUDA_CHECK_LAUNCH();
}

}  // namespace

void CudaBackend::sgd_update(const Tensor& config, Tensor& steps, int64_t index, Tensor& param,
                             const Tensor& grad, Tensor& momentum) {
  auto& dev = state(param.device());
  count_step(dev.stream, config, steps, index, param, "SGD");
  FASTNN_FLOAT_CALL(param.dtype(), "SGD", sgd_typed, dev.stream, config, steps, index, param, grad,
                    momentum);
}

void CudaBackend::adam_update(const Tensor& config, Tensor& steps, int64_t index, Tensor& param,
                              const Tensor& grad, Tensor& m, Tensor& v, Tensor& v_max) {
  auto& dev = state(param.device());
  count_step(dev.stream, config, steps, index, param, "Adam");
  FASTNN_FLOAT_CALL(param.dtype(), "Adam", adam_typed, dev.stream, config, steps, index, param,
                    grad, m, v, v_max);
}

void CudaBackend::rmsprop_update(const Tensor& config, Tensor& steps, int64_t index,
                                 Tensor& param, const Tensor& grad, Tensor& square_avg,
                                 Tensor& momentum, Tensor& grad_avg) {
  auto& dev = state(param.device());
  // RMSprop's update does not depend on the count; it is kept for the optimizer's state.
  count_step(dev.stream, config, steps, index, param, "RMSprop");
  FASTNN_FLOAT_CALL(param.dtype(), "RMSprop", rmsprop_typed, dev.stream, config, param, grad,
                    square_avg, momentum, grad_avg);
}

void CudaBackend::adagrad_update(const Tensor& config, Tensor& steps, int64_t index,
                                 Tensor& param, const Tensor& grad, Tensor& sum) {
  auto& dev = state(param.device());
  count_step(dev.stream, config, steps, index, param, "Adagrad");
  FASTNN_FLOAT_CALL(param.dtype(), "Adagrad", adagrad_typed, dev.stream, config, steps, index,
                    param, grad, sum);
}

}  // namespace fastnn
