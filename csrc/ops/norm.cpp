// Batch normalisation over the last axis (Keras's axis=-1): x (..., C), gamma, beta and the
// moving statistics (C). The moving statistics are updated by the forward kernel itself, so
// a replayed training step updates them as the eager step does.
#include "core/launch.h"
#include "ops/ops.h"

namespace fastnn {

Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                  const Tensor& moving_mean, const Tensor& moving_variance, bool training,
                  double momentum, double epsilon, const char* who,
                  bool unbiased_moving_variance) {
  check_float(x, who, "inputs");
  FASTNN_CHECK(x.dim() >= 1, Value, who, ": expected inputs with a channel axis, got a scalar");
  const int64_t C = x.shape().back();
  auto check_channel_vector = [&](const Tensor& t, const char* arg) {
    check_defined(t, who, arg);
    check_same_dtype(x, t, who, arg);
    check_same_device(x, t, who, arg);
    FASTNN_CHECK(t.dim() == 1 && t.size(0) == C, Value, who, ": expected ", arg, " of shape (", C,
                 ",) for inputs of shape ", shape_str(x.shape()), ", got ", shape_str(t.shape()));
  };
  if (gamma.defined()) check_channel_vector(gamma, "gamma");
  if (beta.defined()) check_channel_vector(beta, "beta");
  check_channel_vector(moving_mean, "moving_mean");
  check_channel_vector(moving_variance, "moving_variance");
  FASTNN_CHECK(epsilon > 0, Value, who, ": expected epsilon > 0, got ", epsilon);
  FASTNN_CHECK(momentum >= 0 && momentum <= 1, Value, who, ": expected momentum in [0, 1], got ",
               momentum);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.numel() == 0 && !training) return y;
  FASTNN_CHECK(x.numel() > 0, Value, who,
               ": expected a non-empty batch in training (batch statistics), got shape ",
               shape_str(x.shape()));
  Tensor mean = Tensor::empty({C}, x.dtype(), x.device());
  Tensor invstd = Tensor::empty({C}, x.dtype(), x.device());
  Tensor moving_mean_out = moving_mean, moving_variance_out = moving_variance;
  FASTNN_LAUNCH(backend_of(x), batch_norm_forward, training, momentum, epsilon,
                unbiased_moving_variance, x, gamma, beta, moving_mean_out, moving_variance_out,
                mean, invstd, y);
  if (!needs_grad({&x, &gamma, &beta})) return y;
  record(who, y, {x, gamma, beta},
         [training, x = x.detach(), gamma = gamma.defined() ? gamma.detach() : Tensor(), mean,
          invstd](const Tensor& gy, const std::vector<bool>& needs) {
           std::vector<Tensor> grads(3);
           if (needs[0]) grads[0] = Tensor::empty(x.shape(), x.dtype(), x.device());
           if (needs[1]) grads[1] = Tensor::empty(mean.shape(), x.dtype(), x.device());
           if (needs[2]) grads[2] = Tensor::empty(mean.shape(), x.dtype(), x.device());
           FASTNN_LAUNCH(backend_of(gy), batch_norm_backward, training, x, gamma, mean, invstd, gy,
                         grads[0], grads[1], grads[2]);
           return grads;
         });
  return y;
}

}  // namespace fastnn
