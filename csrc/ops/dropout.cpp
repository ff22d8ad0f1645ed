// Dropout: x (any shape) -> y = x * mask, mask (noise shape: x's rank, each dim x's or 1)
// drawn from the device's generator tensor by the kernel itself, so a replayed plan draws a
// new mask each step, the one the eager step would draw. The backward reuses the mask.
#include <cmath>

#include "core/launch.h"
#include "core/rng.h"
#include "ops/ops.h"

namespace fastnn {

Tensor dropout(const Tensor& x, double rate, const Shape& noise_shape, bool training,
               const Tensor& generator, const char* who, Tensor* mask_out) {
  check_float(x, who, "inputs");
  FASTNN_CHECK(rate >= 0 && rate < 1, Value, who, ": expected rate in [0, 1), got ", rate);
  Shape mask_shape = noise_shape.empty() ? x.shape() : noise_shape;
  FASTNN_CHECK(int64_t(mask_shape.size()) == x.dim(), Value, who,
               ": expected noise_shape of the inputs' rank ", x.dim(), ", got ",
               shape_str(noise_shape), " for inputs of shape ", shape_str(x.shape()));
  for (int64_t i = 0; i < x.dim(); ++i)
    FASTNN_CHECK(mask_shape[i] == x.size(i) || mask_shape[i] == 1, Value, who,
                 ": expected noise_shape dims equal to the inputs' or 1, got ",
                 shape_str(noise_shape), " for inputs of shape ", shape_str(x.shape()));
  if (generator.defined())
    FASTNN_CHECK(generator.dtype() == DType::Int64 && generator.numel() == 2 &&
                     generator.device() == x.device(),
                 Value, who, ": expected a generator int64 {seed, offset} on the inputs' device");
  if (!training || rate == 0 || x.numel() == 0) return x;
  Tensor state = generator.defined() ? generator : generator_state(x.device());
  Tensor mask = Tensor::empty(mask_shape, x.dtype(), x.device());
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  FASTNN_LAUNCH(backend_of(x), dropout_forward, x, rate, state, mask, y);
  if (mask_out != nullptr) *mask_out = mask;
  if (!needs_grad({&x})) return y;
  record(who, y, {x}, [mask](const Tensor& gy, const std::vector<bool>&) {
    Tensor gx = Tensor::empty(gy.shape(), gy.dtype(), gy.device());
    FASTNN_LAUNCH(backend_of(gy), dropout_backward, gy, mask, gx);
    return std::vector<Tensor>{gx};
  });
  return y;
}

}  // namespace fastnn
