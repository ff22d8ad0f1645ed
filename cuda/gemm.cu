// GEMM through cuBLAS (csrc/cpu/gemm.cpp's counterpart). cuBLAS is column-major and fastnn
// row-major: a row-major (r, c) matrix is the column-major (c, r) one, so
// C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T, swapping the operands.
#include "cuda/common.cuh"

namespace fastnn {

void CudaBackend::gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                       const Tensor& a, const Tensor& b, double beta, Tensor& c) {
  if (m == 0 || n == 0) return;
  auto& dev = state(c.device());
  FASTNN_CHECK(m <= INT32_MAX && n <= INT32_MAX && k <= INT32_MAX, Value,
               "gemm: dimensions (", m, ", ", n, ", ", k, ") exceed cuBLAS's 32-bit sizes");
  // Leading dimensions of the row-major operands as stored: A is (m, k), or (k, m) when
  // transposed; B likewise (k, n) or (n, k); C (m, n).
  const int lda = static_cast<int>(trans_a ? m : k), ldb = static_cast<int>(trans_b ? k : n);
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int M = static_cast<int>(m), N = static_cast<int>(n), K = static_cast<int>(k);
  if (c.dtype() == DType::Float32) {
    // TF32 tensor cores only when asked (fn.set_float32_matmul_precision("high")).
    FASTNN_CUBLAS_CHECK(cublasSetMathMode(
        dev.cublas, float32_matmul_allows_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    const float al = static_cast<float>(alpha), be = static_cast<float>(beta);
    FASTNN_CUBLAS_CHECK(cublasSgemm(dev.cublas, op_b, op_a, N, M, K, &al, b.data<float>(), ldb,
                                    a.data<float>(), lda, &be, c.data<float>(), N));
  } else {
    FASTNN_CUBLAS_CHECK(cublasDgemm(dev.cublas, op_b, op_a, N, M, K, &alpha, b.data<double>(), ldb,
                                    a.data<double>(), lda, &beta, c.data<double>(), N));
  }
}

}  // namespace fastnn
