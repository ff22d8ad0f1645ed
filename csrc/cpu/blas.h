// The few OpenBLAS entry points fastnn uses (scipy-openblas32 prefixes its symbols with
// scipy_), behind plain names so the rest of the code does not see the prefix.
#pragma once

#include <cstdint>
#include <string>

namespace fastnn {

void blas_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                int64_t ldc);
void blas_dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
                int64_t ldc);
// The same products for one thread's share of a GEMM, cut into pieces of at most 1e6
// multiply-adds where OpenBLAS's kernel multiplies such small products without packing its
// operands (blas.cpp says where and why): a thread's 32 or 64 rows of a dense layer or of a
// recurrent step, or a lowered convolution's thousands of rows by a few filters.
void blas_sgemm_pieces(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                       const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
                       float* c, int64_t ldc);
void blas_dgemm_pieces(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                       const double* a, int64_t lda, const double* b, int64_t ldb, double beta,
                       double* c, int64_t ldc);
int blas_get_num_threads();
void blas_set_num_threads(int n);
std::string blas_config();    // e.g. "OpenBLAS 0.3.30 DYNAMIC_ARCH NO_AFFINITY Haswell ..."
std::string blas_corename();  // the kernel OpenBLAS chose for this CPU

}  // namespace fastnn
