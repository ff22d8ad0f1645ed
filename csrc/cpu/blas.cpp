#include "cpu/blas.h"

#include <cblas.h>

#include "core/error.h"

namespace fastnn {

namespace {
void check_blas_size(int64_t m, int64_t n, int64_t k) {
  // scipy-openblas32 takes 32-bit sizes.
  constexpr int64_t limit = 2147483647;
  FASTNN_CHECK(m <= limit && n <= limit && k <= limit, Value,
               "gemm: sizes above 2^31-1 are not supported by the 32-bit OpenBLAS, got m=", m,
               " n=", n, " k=", k);
}
}  // namespace

void blas_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                int64_t ldc) {
  check_blas_size(m, n, k);
  scipy_cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
                    ldc);
}

void blas_dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
                int64_t ldc) {
  check_blas_size(m, n, k);
  scipy_cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
                    ldc);
}

int blas_get_num_threads() {
  return scipy_openblas_get_num_threads();
}
void blas_set_num_threads(int n) {
  scipy_openblas_set_num_threads(n);
}
std::string blas_config() {
  return scipy_openblas_get_config();
}
std::string blas_corename() {
  return scipy_openblas_get_corename();
}

}  // namespace fastnn
