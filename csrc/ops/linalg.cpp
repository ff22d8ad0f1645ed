// Batched matrix products (torch.bmm, and matmul with batch dims on both sides): one GEMM
// per batch entry on row views of the operands, forward and backward.
#include "core/launch.h"
#include "ops/tensor_ops.h"

namespace fastnn {

namespace {

// Matrix i of a (B, R, C) tensor: a view of its rows.
Tensor matrix(const Tensor& t, int64_t i) {
  const int64_t R = t.shape()[1], C = t.shape()[2];
  return t.view({t.shape()[0] * R, C}).rows(i * R, (i + 1) * R);
}

}  // namespace

// y[i] = a[i] @ b[i].  ga[i] = gy[i] @ b[i]^T,  gb[i] = a[i]^T @ gy[i].
Tensor bmm(const Tensor& a, const Tensor& b) {
  const char* who = "bmm";
  check_float(a, who, "input");
  check_float_like(b, a, who, "mat2");
  FASTNN_CHECK(a.dim() == 3 && b.dim() == 3 && a.shape()[0] == b.shape()[0] &&
                   a.shape()[2] == b.shape()[1],
               Value, who, ": expected (B, M, K) @ (B, K, N), got shapes ", shape_str(a.shape()),
               " and ", shape_str(b.shape()));
  const int64_t B = a.shape()[0], M = a.shape()[1], K = a.shape()[2], N = b.shape()[2];
  Tensor y = Tensor::empty({B, M, N}, a.dtype(), a.device());
  Backend& be = backend_of(a);
  for (int64_t i = 0; i < B; ++i) {
    Tensor yi = matrix(y, i);
    FASTNN_LAUNCH(be, gemm, false, false, M, N, K, 1.0, matrix(a, i), matrix(b, i), 0.0, yi);
  }
  if (!needs_grad({&a, &b})) return y;
  record(who, y, {a, b},
         [a = a.detach(), b = b.detach(), B, M, N, K](const Tensor& gy,
                                                     const std::vector<bool>& needs) {
           std::vector<Tensor> grads(2);
           Backend& be = backend_of(gy);
           if (needs[0]) grads[0] = Tensor::empty({B, M, K}, gy.dtype(), gy.device());
           if (needs[1]) grads[1] = Tensor::empty({B, K, N}, gy.dtype(), gy.device());
           for (int64_t i = 0; i < B; ++i) {
             if (needs[0]) {
               Tensor gai = matrix(grads[0], i);
               FASTNN_LAUNCH(be, gemm, false, true, M, K, N, 1.0, matrix(gy, i), matrix(b, i),
                             0.0, gai);
             }
             if (needs[1]) {
               Tensor gbi = matrix(grads[1], i);
               FASTNN_LAUNCH(be, gemm, true, false, K, N, M, 1.0, matrix(a, i), matrix(gy, i),
                             0.0, gbi);
             }
           }
           return grads;
         });
  mark_saved(y, {a, b});
  return y;
}

}  // namespace fastnn
