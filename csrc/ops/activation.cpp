// Activations and softmax as standalone ops (Dense fuses its activation instead).
#include "ops/ops.h"
#include "core/launch.h"
#include "ops/tensor_ops.h"

namespace fastnn {

Tensor activation(Activation act, const Tensor& x, double alpha) {
  const char* who = activation_name(act);
  check_float(x, who, "x");
  FASTNN_CHECK(act != Activation::LeakyReLU || alpha >= 0, Value, who,
               ": expected alpha >= 0, got ", alpha);
  // An elementwise op commutes with a permute: on a deferred one, apply it to the source
  // and defer again (fastnn.nn's conv -> relu -> pool never leaves channels-last).
  std::vector<int64_t> dims;
  if (Tensor source = pending_permute_source(x, &dims); source.defined())
    return permute_deferred(activation(act, source, alpha), dims);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  FASTNN_LAUNCH(backend_of(x), activation_forward, act, alpha, x, y);
  if (!needs_grad({&x})) return y;
  // Keep only what the derivative reads: y, or x for GELU.
  bool from_y = activation_grad_from_output(act);
  record(who, y, {x},
         [act, alpha, x_saved = from_y ? Tensor() : x.detach(),
          y_saved = from_y ? y.detach() : Tensor()](const Tensor& gy, const std::vector<bool>&) {
           Tensor gx = Tensor::empty(gy.shape(), gy.dtype(), gy.device());
           FASTNN_LAUNCH(backend_of(gy), activation_backward, act, alpha, x_saved, y_saved, gy, gx);
           return std::vector<Tensor>{gx};
         });
  mark_saved(y, {from_y ? y : x});  // an in-place change to it makes the backward raise
  return y;
}

namespace {
Tensor softmax_impl(const Tensor& x, int64_t axis, bool log) {
  const char* who = log ? "log_softmax" : "softmax";
  check_float(x, who, "x");
  FASTNN_CHECK(x.dim() >= 1, Value, who, ": expected at least one dimension, got a scalar");
  FASTNN_CHECK(axis == -1 || axis == x.dim() - 1, Value, who,
               ": only the last axis is supported, got axis=", axis, " for shape ",
               shape_str(x.shape()));
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.numel() == 0) return y;
  FASTNN_LAUNCH(backend_of(x), softmax_forward, log, x, y);
  if (!needs_grad({&x})) return y;
  record(who, y, {x}, [log, y_saved = y.detach()](const Tensor& gy, const std::vector<bool>&) {
    Tensor gx = Tensor::empty(gy.shape(), gy.dtype(), gy.device());
    FASTNN_LAUNCH(backend_of(gy), softmax_backward, log, y_saved, gy, gx);
    return std::vector<Tensor>{gx};
  });
  mark_saved(y, {y});
  return y;
}
}  // namespace

Tensor softmax(const Tensor& x, int64_t axis) {
  return softmax_impl(x, axis, false);
}
Tensor log_softmax(const Tensor& x, int64_t axis) {
  return softmax_impl(x, axis, true);
}

}  // namespace fastnn
