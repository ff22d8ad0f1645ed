// Dense and matmul. B = rows (all leading dims of x flattened), I = in features,
// O = out features.
#include "ops/ops.h"
#include "core/launch.h"

namespace fastnn {

namespace {
Shape with_last(const Shape& s, int64_t last) {
  Shape out = s;
  out.back() = last;
  return out;
}

// The gradients of y = a (M, K) @ b (K, N) for gy (M, N): ga = gy @ b^T (a's shape),
// gb = a^T @ gy, each only when asked for. b_transposed: b is stored (N, K), y = a @ b^T,
// so ga = gy @ b and gb = gy^T @ a (N, K).
void matmul_backward(const Tensor& gy, const Tensor& a, const Tensor& b, int64_t M, int64_t N,
                     int64_t K, bool need_a, bool need_b, Tensor& ga, Tensor& gb,
                     bool b_transposed = false) {
  Backend& be = backend_of(gy);
  if (need_a) {
    ga = Tensor::empty(a.shape(), a.dtype(), a.device());
    FASTNN_LAUNCH(be, gemm, false, !b_transposed, M, K, N, 1.0, gy, b, 0.0, ga);
  }
  if (need_b) {
    if (b_transposed) {
      gb = Tensor::empty({N, K}, a.dtype(), a.device());
      FASTNN_LAUNCH(be, gemm, true, false, N, K, M, 1.0, gy, a, 0.0, gb);
    } else {
      gb = Tensor::empty({K, N}, a.dtype(), a.device());
      FASTNN_LAUNCH(be, gemm, true, false, K, N, M, 1.0, a, gy, 0.0, gb);
    }
  }
}
}  // namespace

Tensor epilogue_forward(Activation act, double alpha, const Tensor& bias, Tensor& y,
                        bool grad) {
  Tensor z;
  if (grad && !activation_grad_from_output(act))
    z = Tensor::empty(y.shape(), y.dtype(), y.device());
  if (bias.defined() || act != Activation::Linear || z.defined())
    FASTNN_LAUNCH(backend_of(y), bias_activation_forward, act, alpha, bias, y, z);
  return z;
}

Tensor epilogue_backward(Activation act, double alpha, const Tensor& z, const Tensor& y,
                         const Tensor& gy) {
  if (act == Activation::Linear) return gy;
  Tensor gz = Tensor::empty(gy.shape(), gy.dtype(), gy.device());
  FASTNN_LAUNCH(backend_of(gy), activation_backward, act, alpha, z, y, gy, gz);
  return gz;
}

Tensor bias_gradient(const Tensor& gz, int64_t rows, int64_t features) {
  Tensor g = Tensor::empty({1, features}, gz.dtype(), gz.device());
  FASTNN_LAUNCH(backend_of(gz), sum_to, gz.view({rows, features}), g);
  return g.view({features});
}

// y = act(x @ W + b), computed as one GEMM into y and one pass adding b and applying act.
// Backward:  gz = gy * act'(y)   (act'(z) for GELU, which keeps z)
//            gW = x^T @ gz,  gb = column sums of gz,  gx = gz @ W^T
Tensor dense(const Tensor& x, const Tensor& kernel, const Tensor& bias, Activation act,
             double alpha, const char* who, bool kernel_transposed) {
  check_float(x, who, "inputs");
  check_float(kernel, who, "kernel");
  check_dim(kernel, 2, who, "kernel");
  check_nonempty(x, who, "inputs");
  check_nonempty(kernel, who, "kernel");
  FASTNN_CHECK(x.dim() >= 1, Value, who, ": expected inputs with a feature axis, got a scalar");
  const int64_t I = kernel.shape()[kernel_transposed ? 1 : 0];
  const int64_t O = kernel.shape()[kernel_transposed ? 0 : 1];
  FASTNN_CHECK(x.shape().back() == I, Value, who, ": expected inputs with last dimension ", I,
               " (the ", kernel_transposed ? "weight" : "kernel", "'s input size), got shape ",
               shape_str(x.shape()));
  check_same_dtype(x, kernel, who, "kernel");
  check_same_device(x, kernel, who, "kernel");
  if (bias.defined()) {
    check_same_dtype(x, bias, who, "bias");
    check_same_device(x, bias, who, "bias");
    FASTNN_CHECK(bias.dim() == 1 && bias.shape()[0] == O, Value, who, ": expected bias of shape (",
                 O, ",), got ", shape_str(bias.shape()));
  }
  FASTNN_CHECK(act != Activation::LeakyReLU || alpha >= 0, Value, who,
               ": expected leaky_relu alpha >= 0, got ", alpha);
  const int64_t B = x.numel() / I;
  Backend& be = backend_of(x);
  Tensor y = Tensor::empty(with_last(x.shape(), O), x.dtype(), x.device());
  const bool grad = needs_grad({&x, &kernel, &bias});
  FASTNN_LAUNCH(be, gemm, false, kernel_transposed, B, O, I, 1.0, x, kernel, 0.0, y);
  Tensor z = epilogue_forward(act, alpha, bias, y, grad);
  if (!grad) return y;

  record(who, y, {x, kernel, bias},
         [x = x.detach(), w = kernel.detach(), y_saved = y.detach(), z, act, alpha, B, I, O,
          kernel_transposed](const Tensor& gy, const std::vector<bool>& needs) {
           Tensor gz = epilogue_backward(act, alpha, z, y_saved, gy);
           std::vector<Tensor> grads(3);
           matmul_backward(gz, x, w, B, O, I, needs[0], needs[1], grads[0], grads[1],
                           kernel_transposed);
           if (needs[2]) grads[2] = bias_gradient(gz, B, O);
           return grads;
         });
  // What the backward reads, for the in-place checks (y only through an activation).
  mark_saved(y, {x, kernel});
  if (act != Activation::Linear && !z.defined()) mark_saved(y, {y});
  return y;
}

// a (..., K) @ b (K, N) -> (..., N).  ga = gy @ b^T,  gb = a^T @ gy.
Tensor matmul(const Tensor& a, const Tensor& b) {
  const char* who = "matmul";
  check_float(a, who, "a");
  check_float_like(b, a, who, "b");
  FASTNN_CHECK(a.dim() >= 1 && b.dim() == 2, Value, who,
               ": expected a (..., K) @ b (K, N), got shapes ", shape_str(a.shape()), " and ",
               shape_str(b.shape()));
  const int64_t K = b.shape()[0], N = b.shape()[1];
  FASTNN_CHECK(a.shape().back() == K, Value, who,
               ": inner dimensions differ: ", shape_str(a.shape()), " @ ", shape_str(b.shape()));
  const int64_t M = shape_numel(Shape(a.shape().begin(), a.shape().end() - 1));  // K may be 0
  Tensor y = Tensor::empty(with_last(a.shape(), N), a.dtype(), a.device());
  FASTNN_LAUNCH(backend_of(a), gemm, false, false, M, N, K, 1.0, a, b, 0.0, y);
  if (!needs_grad({&a, &b})) return y;
  record(
      who, y, {a, b},
      [a = a.detach(), b = b.detach(), M, N, K](const Tensor& gy, const std::vector<bool>& needs) {
        std::vector<Tensor> grads(2);
        matmul_backward(gy, a, b, M, N, K, needs[0], needs[1], grads[0], grads[1]);
        return grads;
      });
  mark_saved(y, {a, b});
  return y;
}

}  // namespace fastnn
