// GEMM through OpenBLAS; never written by hand.
#include "cpu/backend_cpu.h"
#include "cpu/blas.h"

namespace fastnn {

void CpuBackend::gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                      const Tensor& a, const Tensor& b, double beta, Tensor& c) {
  if (m == 0 || n == 0) return;
  int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n;
  if (k == 0) {
    // OpenBLAS leaves c untouched for k == 0 only sometimes; the math says c = beta * c,
    // and c may be uninitialised when beta is 0 (0 * NaN would stay NaN).
    if (beta == 0) {
      fill(c, 0.0);
    } else {
      axpby(beta, c, 0.0, c);
    }
    return;
  }
  if (c.dtype() == DType::Float32) {
    blas_sgemm(trans_a, trans_b, m, n, k, static_cast<float>(alpha), a.data<float>(), lda,
               b.data<float>(), ldb, static_cast<float>(beta), c.data<float>(), n);
  } else {
    blas_dgemm(trans_a, trans_b, m, n, k, alpha, a.data<double>(), lda, b.data<double>(), ldb, beta,
               c.data<double>(), n);
  }
}

}  // namespace fastnn
