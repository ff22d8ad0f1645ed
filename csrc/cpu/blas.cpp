#include "cpu/blas.h"

#include <cblas.h>

#include <algorithm>
#include <cctype>

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

namespace {
// OpenBLAS's SkylakeX kernels (also chosen for Cooper Lake, Sapphire Rapids and AVX-512
// Zen) multiply a product of at most 1e6 multiply-adds without packing its operands (their
// small-matrix path); above that they pack both, which for a thread's 32 or 64 rows costs as
// much as a quarter of the product. Measured on one core (bench/NOTES.md item 32): an LSTM
// step's 32 x 128 by 128 x 512 ran 24% faster as four column pieces, its backward's
// 32 x 512 by 512 x 128 25% faster as four slices of k; a decoder's 64 x 128 by 128 x 392 16%,
// its weight gradient 18%, an input gradient 32 x 784 by (128 x 784)^T 34% faster in pieces.
// Other kernels keep the one GEMM.
// A thread's few rows go in pieces of columns or k; a tall block (a conv's GEMM) in pieces of
// rows, never thin slices of k (LeNet's conv2 as 16 slices of 16 ran 25% slower).
constexpr double kSmallGemmLimit = 1e6;
constexpr int64_t kMaxPiecedRows = 128;
constexpr int64_t kMinPiece = 16;  // narrower pieces would lose the kernel's vector width
// Slices of k of a transposed A: a lowered convolution's kernel gradient, cols^T (K x M) @ gz
// (M x F), 250 x 4096 by 4096 x 20 in LeNet, ran in 200 us as slices of 256 against 329 us
// as one GEMM (item 39); thin slices were not measured to gain, so they stay untried.
constexpr int64_t kMinTransposedDepth = 128;

bool has_small_gemm_path() {
  static const bool has = [] {
    std::string core = blas_corename();
    std::transform(core.begin(), core.end(), core.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    return core == "skylakex" || core == "cooperlake" || core == "sapphirerapids";
  }();
  return has;
}

// The largest power of two p <= extent with other * p within the limit.
int64_t small_piece(double other, int64_t extent) {
  int64_t p = 1;
  while (p * 2 <= extent && other * double(p * 2) <= kSmallGemmLimit) p *= 2;
  return p;
}

// Rows of an untransposed B whose distance is a multiple of 4 KiB map to the same cache
// sets, and the unpacked kernel, which reads a piece's rows straight from B, runs at a third
// of its rate: 64 x 512 by 16 columns of a 512 x 8192 B (PyTorch Linear's input gradient,
// gz @ W) at 26 GFLOP/s against 99 with B 512 wide, and only such strides (1024, 2048, 4096
// or 8192 floats) fall (bench/NOTES.md item 39). The plain GEMM packs B first.
template <class T>
bool rows_alias(bool tb, int64_t ldb) {
  return !tb && (ldb * int64_t(sizeof(T))) % 4096 == 0;
}

// Columns of op(B) and C in pieces; else (an untransposed B: the transposed one measured no
// gain) slices of k added in order. The pieces depend on the shape alone.
template <class T, class Gemm>
void gemm_pieces(Gemm gemm, bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha,
                 const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (rows_alias<T>(tb, ldb)) return gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (m <= kMaxPiecedRows && double(m) * double(n) * double(k) > kSmallGemmLimit &&
      has_small_gemm_path()) {
    const int64_t columns = small_piece(double(m) * double(k), n);
    const int64_t depth = small_piece(double(m) * double(n), k);
    if (columns >= kMinPiece && (columns >= depth || ta || tb)) {
      for (int64_t j = 0; j < n; j += columns)
        gemm(ta, tb, m, std::min(columns, n - j), k, alpha, a, lda, tb ? b + j * ldb : b + j, ldb,
             beta, c + j, ldc);
      return;
    }
    if (depth >= (ta ? kMinTransposedDepth : kMinPiece) && !tb) {
      for (int64_t s = 0; s < k; s += depth)
        gemm(ta, false, m, n, std::min(depth, k - s), alpha, ta ? a + s * lda : a + s, lda,
             b + s * ldb, ldb, s ? T(1) : beta, c, ldc);
      return;
    }
  }
  // A tall block with few columns (a lowered convolution's thousands of rows by its filters):
  // pieces of rows, each within the limit. Measured on one core (item 38): LeNet's conv2
  // 2048 x 250 by 250 x 20 26% faster as 128-row pieces, cifar_cnn's conv1 32768 x 27 by
  // 27 x 64 16%, 4096 x 576 by 576 x 16 39%. Untransposed operands only: an NT product
  // (2048 x 20 by (250 x 20)^T) ran 15% slower in pieces.
  if (m > kMaxPiecedRows && !ta && !tb && has_small_gemm_path()) {
    const int64_t rows = small_piece(double(n) * double(k), m);
    if (rows >= kMinPiece && rows < m) {
      for (int64_t i = 0; i < m; i += rows)
        gemm(false, false, std::min(rows, m - i), n, k, alpha, a + i * lda, lda, b, ldb, beta,
             c + i * ldc, ldc);
      return;
    }
  }
  gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
}  // namespace

void blas_sgemm_pieces(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                       const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
                       float* c, int64_t ldc) {
  gemm_pieces<float>(blas_sgemm, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void blas_dgemm_pieces(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                       const double* a, int64_t lda, const double* b, int64_t ldb, double beta,
                       double* c, int64_t ldc) {
  gemm_pieces<double>(blas_dgemm, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
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
