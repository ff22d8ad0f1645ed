// GEMM through OpenBLAS; never written by hand. OpenBLAS runs single-threaded: a large GEMM
// is cut into blocks of C's rows or columns that the pool's threads compute side by side
// (one set of threads for every kernel; see core/parallel.h).
#include <algorithm>

#include "core/parallel.h"
#include "cpu/backend_cpu.h"
#include "cpu/blas.h"

namespace fastnn {
namespace {

// Below this many multiply-adds per block (~5 us of one core) a block costs more in
// repacked operands and the hand-off than it gains (digits_mlp's 64x64x64 GEMMs ran 6%
// slower cut in two).
constexpr double kMinBlockMultiplies = 1 << 19;
// Blocks are cut at multiples of OpenBLAS's register tile.
constexpr int64_t kBlockAlign = 16;

// C (m x n, row-major) = alpha * op(A) (m x k) @ op(B) (k x n) + beta * C, computed as
// `blocks` GEMMs over C's rows (tall C) or columns (wide C). The block count depends on the
// shape and the machine's core count only, never on the thread count: OpenBLAS picks its
// summation order from the shape it is given, so 1 thread and 8 give the same bits.
template <class T, class Gemm>
void blocked_gemm(Gemm gemm, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha,
                  const T* a, const T* b, T beta, T* c) {
  const int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n;
  const bool by_rows = m > n;
  const int64_t extent = by_rows ? m : n;
  int64_t blocks = static_cast<int64_t>(double(m) * double(n) * double(k) / kMinBlockMultiplies);
  blocks = std::clamp<int64_t>(blocks, 1, hardware_threads());
  int64_t per = (extent + blocks - 1) / blocks;
  per = (per + kBlockAlign - 1) / kBlockAlign * kBlockAlign;
  blocks = (extent + per - 1) / per;
  parallel_for(blocks, 1, [&](int64_t first, int64_t last) {
    for (int64_t block = first; block < last; ++block) {
      int64_t begin = block * per, size = std::min(extent, begin + per) - begin;
      if (by_rows) {  // rows [begin, begin + size) of op(A) and C
        const T* a_rows = trans_a ? a + begin : a + begin * lda;
        gemm(trans_a, trans_b, size, n, k, alpha, a_rows, lda, b, ldb, beta, c + begin * n, n);
      } else {  // columns [begin, begin + size) of op(B) and C
        const T* b_cols = trans_b ? b + begin * ldb : b + begin;
        gemm(trans_a, trans_b, m, size, k, alpha, a, lda, b_cols, ldb, beta, c + begin, n);
      }
    }
  });
}

}  // namespace

void CpuBackend::gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                      const Tensor& a, const Tensor& b, double beta, Tensor& c) {
  if (m == 0 || n == 0) return;
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
    blocked_gemm<float>(blas_sgemm_pieces, trans_a, trans_b, m, n, k, static_cast<float>(alpha),
                        a.data<float>(), b.data<float>(), static_cast<float>(beta),
                        c.data<float>());
  } else {
    blocked_gemm<double>(blas_dgemm_pieces, trans_a, trans_b, m, n, k, alpha, a.data<double>(),
                         b.data<double>(), beta, c.data<double>());
  }
}

}  // namespace fastnn
