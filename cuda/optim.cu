// Optimizer updates (csrc/cpu/optim.cpp's counterpart), multi-tensor: one optimizer step
// over all its parameters is two launches (optimizer_update), not two per parameter. A list
// of up to kListTensors parameters travels in the kernel's arguments by value (so a CUDA
// graph keeps it with the launch); each block updates one chunk of kChunk elements of one
// parameter, reading the gradient and the optimizer's state and writing the parameter and
// the state in place (math/optim.h).
//
// The config struct and the step counts stay on the device (a replayed plan reaches a new
// learning rate or the next step without re-recording): the kernels read the struct through
// a pointer into the config tensor. A one-block kernel first adds one to each listed
// parameter's steps[index]; the update kernel, next on the stream, reads the new counts.
// (Incrementing first is the CPU's order, count_step then update, and leaves the update
// kernel nothing to coordinate between blocks.) Thread 0 of each block turns the config and
// its parameter's count into the step's scalars (Adam's two pow) in shared memory, once per
// block rather than once per element. Flags the CPU makes template arguments on the host
// (momentum, nesterov, amsgrad, centered, eps_inside_sqrt) are read there too and select an
// instantiation of the loop: the branch is the same for the whole block.
#include "cuda/common.cuh"
#include "math/optim.h"

namespace fastnn {

namespace {

constexpr int kListTensors = 32;
constexpr int64_t kChunk = 4096;  // elements per block

// The parameters of one launch: parameter k is blocks [first_block[k], first_block[k + 1]).
// About 2 KB of kernel arguments (the limit is 4 KB).
template <class T>
struct TensorList {
  int count;
  int first_block[kListTensors + 1];
  int64_t index[kListTensors];  // its slot in the step counts
  int64_t numel[kListTensors];
  T* param[kListTensors];
  const T* grad[kListTensors];
  T* state[3][kListTensors];  // the per-parameter method's state tensors; null when unused
};

// This block's parameter and its elements [begin, end).
struct Chunk {
  int k;
  int64_t begin, end;
};

template <class T>
__device__ Chunk chunk_of_block(const TensorList<T>& list) {
  int k = 0;
  while (k + 1 < list.count && int(blockIdx.x) >= list.first_block[k + 1]) ++k;
  const int64_t begin = int64_t(blockIdx.x - list.first_block[k]) * kChunk;
  return {k, begin, begin + kChunk < list.numel[k] ? begin + kChunk : list.numel[k]};
}

// steps[index] += 1 for each listed parameter: its count after this update, which the
// update kernel launched next on the stream reads.
template <class T>
__global__ void count_steps_kernel(int64_t* steps, TensorList<T> list) {
  for (int k = threadIdx.x; k < list.count; k += blockDim.x) steps[list.index[k]] += 1;
}

template <class T>
T* state_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Runs launch(list, blocks) for the parameters of dtype T, kListTensors at a time, each list
// after a count_steps_kernel over it.
template <class T, class Launch>
void for_each_list(cudaStream_t stream, Tensor& steps, const std::vector<const ParamUpdate*>& params,
                   Launch launch) {
  TensorList<T> list{};
  auto flush = [&] {
    if (list.count == 0) return;
    count_steps_kernel<T><<<1, kListTensors, 0, stream>>>(steps.data<int64_t>(), list);
    FASTNN_CUDA_CHECK_LAUNCH();
    const int blocks = list.first_block[list.count];
    if (blocks > 0) launch(list, blocks);
    list = TensorList<T>{};
  };
  for (const ParamUpdate* u : params) {
    const int64_t chunks = (u->param.numel() + kChunk - 1) / kChunk;
    if (list.count == kListTensors ||
        int64_t(list.first_block[list.count]) + chunks > int64_t(1) << 30)
      flush();
    const int k = list.count++;
    list.index[k] = u->index;
    list.numel[k] = u->param.numel();
    list.param[k] = u->param.template data<T>();
    list.grad[k] = u->grad.template data<T>();
    for (int j = 0; j < 3; ++j) list.state[j][k] = state_or_null<T>(u->state[j]);
    list.first_block[k + 1] = list.first_block[k] + int(chunks);
  }
  flush();
}

// --- SGD ---

template <class T>
struct SgdScalars {
  T lr, momentum, dampening;
  math::Decay<T> decay;
  bool has_momentum, nesterov;
};

template <bool Momentum, bool Nesterov, class T>
__device__ void sgd_loop(const SgdScalars<T>& s, Chunk r, T* param, const T* grad, T* buf) {
  for (int64_t i = r.begin + threadIdx.x; i < r.end; i += blockDim.x) {
    T scratch = 0;
    math::sgd_update<Momentum, Nesterov>(param[i], grad[i], Momentum ? buf[i] : scratch, s.lr,
                                         s.momentum, s.dampening, s.decay);
  }
}

// One SGD step of the listed parameters (state 0: momentum, may be null).
template <class T>
__global__ void sgd_kernel(const SGDConfig* config, const int64_t* steps, TensorList<T> list) {
  __shared__ SgdScalars<T> shared;
  const Chunk r = chunk_of_block(list);
  T* momentum = list.state[0][r.k];
  if (threadIdx.x == 0) {
    const SGDConfig c = *config;
    shared.lr = T(c.lr);
    shared.momentum = T(c.momentum);
    shared.dampening = T(math::sgd_dampening(c.dampening, steps[list.index[r.k]]));
    shared.decay = math::make_decay<T>(T(c.lr), T(c.weight_decay), c.decoupled_weight_decay);
    shared.has_momentum = momentum != nullptr && c.momentum != 0;
    shared.nesterov = c.nesterov;
  }
  __syncthreads();
  const SgdScalars<T> s = shared;
  T* param = list.param[r.k];
  const T* grad = list.grad[r.k];
  if (!s.has_momentum)
    sgd_loop<false, false>(s, r, param, grad, momentum);
  else if (s.nesterov)
    sgd_loop<true, true>(s, r, param, grad, momentum);
  else
    sgd_loop<true, false>(s, r, param, grad, momentum);
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
__device__ void adam_loop(const AdamScalars<T>& s, Chunk r, T* param, const T* grad, T* m, T* v,
                          T* v_max) {
  for (int64_t i = r.begin + threadIdx.x; i < r.end; i += blockDim.x) {
    T scratch = 0;
    math::adam_update<AMSGrad>(param[i], grad[i], m[i], v[i], AMSGrad ? v_max[i] : scratch,
                               s.beta1, s.beta2, s.step.eps, s.decay, s.step.step_size,
                               s.step.inv_bias2_sqrt);
  }
}

// One Adam step of the listed parameters (states m, v, v_max; v_max may be null).
template <class T>
__global__ void adam_kernel(const AdamConfig* config, const int64_t* steps, TensorList<T> list) {
  __shared__ AdamScalars<T> shared;
  const Chunk r = chunk_of_block(list);
  T* v_max = list.state[2][r.k];
  if (threadIdx.x == 0) {
    const AdamConfig c = *config;
    shared.step = math::adam_step<T>(c.lr, c.beta1, c.beta2, c.eps, c.epsilon_hat,
                                     steps[list.index[r.k]]);
    shared.beta1 = T(c.beta1);
    shared.beta2 = T(c.beta2);
    shared.decay = math::make_decay<T>(T(c.lr), T(c.weight_decay), c.decoupled_weight_decay);
    shared.amsgrad = v_max != nullptr && c.amsgrad;
  }
  __syncthreads();
  const AdamScalars<T> s = shared;
  T *param = list.param[r.k], *m = list.state[0][r.k], *v = list.state[1][r.k];
  const T* grad = list.grad[r.k];
  if (s.amsgrad)
    adam_loop<true>(s, r, param, grad, m, v, v_max);
  else
    adam_loop<false>(s, r, param, grad, m, v, v_max);
}

// --- RMSprop ---

template <class T>
struct RmspropScalars {
  T lr, alpha, eps, momentum;
  math::Decay<T> decay;
  bool has_momentum, centered, eps_inside_sqrt;
};

template <bool Momentum, bool Centered, bool EpsInsideSqrt, class T>
__device__ void rmsprop_loop(const RmspropScalars<T>& s, Chunk r, T* param, const T* grad,
                             T* square_avg, T* buf, T* grad_avg) {
  for (int64_t i = r.begin + threadIdx.x; i < r.end; i += blockDim.x) {
    T scratch_buf = 0, scratch_avg = 0;
    math::rmsprop_update<Momentum, Centered, EpsInsideSqrt>(
        param[i], grad[i], square_avg[i], Momentum ? buf[i] : scratch_buf,
        Centered ? grad_avg[i] : scratch_avg, s.lr, s.alpha, s.eps, s.decay, s.momentum);
  }
}

// The eight instantiations, one flag at a time.
template <bool Momentum, bool Centered, class T>
__device__ void rmsprop_loop_eps(const RmspropScalars<T>& s, Chunk r, T* param, const T* grad,
                                 T* square_avg, T* buf, T* grad_avg) {
  if (s.eps_inside_sqrt)
    rmsprop_loop<Momentum, Centered, true>(s, r, param, grad, square_avg, buf, grad_avg);
  else
    rmsprop_loop<Momentum, Centered, false>(s, r, param, grad, square_avg, buf, grad_avg);
}
template <bool Momentum, class T>
__device__ void rmsprop_loop_centered(const RmspropScalars<T>& s, Chunk r, T* param,
                                      const T* grad, T* square_avg, T* buf, T* grad_avg) {
  if (s.centered)
    rmsprop_loop_eps<Momentum, true>(s, r, param, grad, square_avg, buf, grad_avg);
  else
    rmsprop_loop_eps<Momentum, false>(s, r, param, grad, square_avg, buf, grad_avg);
}

// One RMSprop step of the listed parameters (states square_avg, momentum, grad_avg; the
// last two may be null). The count is not used; it is kept for the optimizer's state.
template <class T>
__global__ void rmsprop_kernel(const RMSpropConfig* config, const int64_t*, TensorList<T> list) {
  __shared__ RmspropScalars<T> shared;
  const Chunk r = chunk_of_block(list);
  T *square_avg = list.state[0][r.k], *buf = list.state[1][r.k], *grad_avg = list.state[2][r.k];
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
  T* param = list.param[r.k];
  const T* grad = list.grad[r.k];
  if (s.has_momentum)
    rmsprop_loop_centered<true>(s, r, param, grad, square_avg, buf, grad_avg);
  else
    rmsprop_loop_centered<false>(s, r, param, grad, square_avg, buf, grad_avg);
}

// --- Adagrad ---

template <class T>
struct AdagradScalars {
  T lr, eps;
  math::Decay<T> decay;
  bool eps_inside_sqrt;
};

template <bool EpsInsideSqrt, class T>
__device__ void adagrad_loop(const AdagradScalars<T>& s, Chunk r, T* param, const T* grad,
                             T* sum) {
  for (int64_t i = r.begin + threadIdx.x; i < r.end; i += blockDim.x) {
    math::adagrad_update<EpsInsideSqrt>(param[i], grad[i], sum[i], s.lr, s.eps, s.decay);
  }
}

// One Adagrad step of the listed parameters (state sum).
template <class T>
__global__ void adagrad_kernel(const AdagradConfig* config, const int64_t* steps,
                               TensorList<T> list) {
  __shared__ AdagradScalars<T> shared;
  const Chunk r = chunk_of_block(list);
  if (threadIdx.x == 0) {
    const AdagradConfig c = *config;
    const T clr = T(math::adagrad_lr(c.lr, c.lr_decay, steps[list.index[r.k]]));
    shared.lr = clr;
    shared.eps = T(c.eps);
    shared.decay = math::make_decay<T>(clr, T(c.weight_decay), c.decoupled_weight_decay);
    shared.eps_inside_sqrt = c.eps_inside_sqrt;
  }
  __syncthreads();
  const AdagradScalars<T> s = shared;
  T *param = list.param[r.k], *sum = list.state[0][r.k];
  const T* grad = list.grad[r.k];
  if (s.eps_inside_sqrt)
    adagrad_loop<true>(s, r, param, grad, sum);
  else
    adagrad_loop<false>(s, r, param, grad, sum);
}

// The kind's kernel over the parameters of dtype T, a list at a time.
template <class T>
void update_typed(cudaStream_t stream, OptimizerKind kind, const Tensor& config, Tensor& steps,
                  const std::vector<const ParamUpdate*>& params) {
  const void* c = config.raw();
  const int64_t* counts = steps.data<int64_t>();
  for_each_list<T>(stream, steps, params, [&](const TensorList<T>& list, int blocks) {
    switch (kind) {
      case OptimizerKind::SGD:
        sgd_kernel<T><<<blocks, cuda::kThreads, 0, stream>>>(
            static_cast<const SGDConfig*>(c), counts, list);
        break;
      case OptimizerKind::Adam:
        adam_kernel<T><<<blocks, cuda::kThreads, 0, stream>>>(
            static_cast<const AdamConfig*>(c), counts, list);
        break;
      case OptimizerKind::RMSprop:
        rmsprop_kernel<T><<<blocks, cuda::kThreads, 0, stream>>>(
            static_cast<const RMSpropConfig*>(c), counts, list);
        break;
      case OptimizerKind::Adagrad:
        adagrad_kernel<T><<<blocks, cuda::kThreads, 0, stream>>>(
            static_cast<const AdagradConfig*>(c), counts, list);
        break;
    }
    FASTNN_CUDA_CHECK_LAUNCH();
  });
}

const char* kind_name(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::SGD:
      return "SGD";
    case OptimizerKind::Adam:
      return "Adam";
    case OptimizerKind::RMSprop:
      return "RMSprop";
    case OptimizerKind::Adagrad:
      return "Adagrad";
  }
  return "optimizer";
}

}  // namespace

void CudaBackend::optimizer_update(OptimizerKind kind, const Tensor& config, Tensor& steps,
                                   const std::vector<ParamUpdate>& params) {
  if (params.empty()) return;
  const char* who = kind_name(kind);
  const Device device = params.front().param.device();
  // The host never reads the config or the counts: both must be on the parameters' device.
  FASTNN_CHECK(config.device() == device && steps.device() == device, Value, who,
               ": expected the config and step tensors on the parameters' device ",
               device.name(), ", got ", config.device().name(), " and ", steps.device().name());
  std::vector<const ParamUpdate*> by_dtype[2];  // float32, float64
  for (const ParamUpdate& u : params) {
    FASTNN_CHECK(u.param.device() == device && is_floating(u.param.dtype()), Value, who,
                 ": expected float parameters on ", device.name(), ", got a ",
                 dtype_name(u.param.dtype()), " one on ", u.param.device().name());
    by_dtype[u.param.dtype() == DType::Float64].push_back(&u);
  }
  cudaStream_t stream = state(device).stream;
  if (!by_dtype[0].empty()) update_typed<float>(stream, kind, config, steps, by_dtype[0]);
  if (!by_dtype[1].empty()) update_typed<double>(stream, kind, config, steps, by_dtype[1]);
}

// The per-parameter methods: a list of one.
void CudaBackend::sgd_update(const Tensor& config, Tensor& steps, int64_t index, Tensor& param,
                             const Tensor& grad, Tensor& momentum) {
  optimizer_update(OptimizerKind::SGD, config, steps, {{index, param, grad, {momentum}}});
}

void CudaBackend::adam_update(const Tensor& config, Tensor& steps, int64_t index, Tensor& param,
                              const Tensor& grad, Tensor& m, Tensor& v, Tensor& v_max) {
  optimizer_update(OptimizerKind::Adam, config, steps, {{index, param, grad, {m, v, v_max}}});
}

void CudaBackend::rmsprop_update(const Tensor& config, Tensor& steps, int64_t index,
                                 Tensor& param, const Tensor& grad, Tensor& square_avg,
                                 Tensor& momentum, Tensor& grad_avg) {
  optimizer_update(OptimizerKind::RMSprop, config, steps,
                   {{index, param, grad, {square_avg, momentum, grad_avg}}});
}

void CudaBackend::adagrad_update(const Tensor& config, Tensor& steps, int64_t index,
                                 Tensor& param, const Tensor& grad, Tensor& sum) {
  optimizer_update(OptimizerKind::Adagrad, config, steps, {{index, param, grad, {sum}}});
}

}  // namespace fastnn
