// Broadcasting binary ops, axpby, the reductions that undo broadcasting (sum_to) and redo
// it (broadcast_to), the finiteness query and the weight penalty (csrc/cpu/elementwise.cpp's
// counterpart). Shapes here always have equal rank (the ops layer pads with 1s), except
// sum_to's column sums, whose out may drop x's leading dims, as on the CPU.
//
// Sums accumulate in double for both dtypes, as the CPU does, in an order fixed by the
// shapes alone (fixed chunks, fixed block sizes, shuffles): the same inputs give the same
// bits on every run. They differ from the CPU's order, so results agree to rounding.
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "core/broadcast.h"
#include "cuda/broadcast.cuh"
#include "cuda/common.cuh"
#include "math/elementwise.h"
#include "math/tensor_math.h"

namespace fastnn {
namespace {

using cuda::for_each;

// --- broadcasting ------------------------------------------------------------------------

// core/broadcast.h's layout, passed to kernels by value.
using Layout = BroadcastLayout;
using cuda::broadcast_offsets;

// out (any shape) = a op b, a and b broadcast to it; one thread per element of out. Same
// shapes (the common case) skip the index arithmetic.
template <class T, BinaryOp Op>
void binary_launch(cudaStream_t stream, const Tensor& a, const Tensor& b, Tensor& out) {
  const T* ap = a.data<T>();
  const T* bp = b.data<T>();
  T* op = out.data<T>();
  const Layout L = broadcast_layout(out.shape(), a.shape(), b.shape());
  if (L.dims == 1 && L.stride_a[0] == 1 && L.stride_b[0] == 1) {
    for_each(stream, out.numel(), [=] __device__(int64_t i) { op[i] = math::binary<Op>(ap[i], bp[i]); });
    return;
  }
  for_each(stream, out.numel(), [=] __device__(int64_t i) {
    int64_t oa, ob;
    broadcast_offsets(L, i, oa, ob);
    op[i] = math::binary<Op>(ap[oa], bp[ob]);
  });
}

template <class T>
void binary_typed(cudaStream_t stream, BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  switch (op) {
#define FASTNN_BINARY_CASE(name) \
  case BinaryOp::name:           \
    return binary_launch<T, BinaryOp::name>(stream, a, b, out);
    FASTNN_BINARY_CASE(Add)
    FASTNN_BINARY_CASE(Sub)
    FASTNN_BINARY_CASE(Mul)
    FASTNN_BINARY_CASE(Div)
    FASTNN_BINARY_CASE(Pow)
    FASTNN_BINARY_CASE(Maximum)
    FASTNN_BINARY_CASE(Minimum)
    FASTNN_BINARY_CASE(FloorDivide)
    FASTNN_BINARY_CASE(Remainder)
    FASTNN_BINARY_CASE(BitAnd)
    FASTNN_BINARY_CASE(BitOr)
    FASTNN_BINARY_CASE(BitXor)
#undef FASTNN_BINARY_CASE
  }
}

// out (any shape) = alpha * x, x broadcast to out; one thread per element of out.
template <class T>
void broadcast_typed(cudaStream_t stream, const Tensor& x, double alpha, Tensor& out) {
  const T* xp = x.data<T>();
  T* op = out.data<T>();
  const T a = static_cast<T>(alpha);
  const Layout L = broadcast_layout(out.shape(), x.shape(), x.shape());
  for_each(stream, out.numel(), [=] __device__(int64_t i) {
    int64_t ox, unused;
    broadcast_offsets(L, i, ox, unused);
    op[i] = a * xp[ox];
  });
}

// out = alpha * x + beta * out, elementwise (beta 0: out's old values are not read).
template <class T>
void axpby_typed(cudaStream_t stream, double alpha, const Tensor& x, double beta, Tensor& out) {
  const T* xp = x.data<T>();
  T* op = out.data<T>();
  const T a = static_cast<T>(alpha), b = static_cast<T>(beta);
  if (beta == 0) {
    for_each(stream, out.numel(), [=] __device__(int64_t i) { op[i] = a * xp[i]; });
  } else {
    for_each(stream, out.numel(), [=] __device__(int64_t i) { op[i] = a * xp[i] + b * op[i]; });
  }
}

// --- reductions --------------------------------------------------------------------------

constexpr int kReduceThreads = 256;
// Elements per block of a full sum's first pass (pass two adds the blocks' totals).
constexpr int64_t kSumChunk = 8192;

template <class T>
__device__ T warp_sum(T v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;  // lane 0's is the total
}

// out[b] = the sum (in double) of x[b * chunk, min(n, (b + 1) * chunk)) for block b: thread
// t adds elements t, t + blockDim, ... of the chunk, then block_sum. Pass one of a full sum
// (out: a double per block) and pass two (x: those doubles, one block, chunk >= n).
template <class T, class Out>
__global__ void sum_chunks_kernel(const T* x, int64_t n, int64_t chunk, Out* out) {
  __shared__ double shared[32];
  const int64_t begin = blockIdx.x * chunk, end = min(n, begin + chunk);
  double s = 0;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) s += static_cast<double>(x[i]);
  s = cuda::block_sum(s, shared);
  if (threadIdx.x == 0) out[blockIdx.x] = static_cast<Out>(s);
}

// The weight penalty's pass one: out[b] = l1 * sum|w| + l2 * sum w^2 over block b's chunk
// (as the CPU's per-chunk partial), in double; with one chunk, the penalty itself.
template <class T, class Out>
__global__ void penalty_chunks_kernel(const T* w, int64_t n, int64_t chunk, double l1, double l2,
                                      Out* out) {
  __shared__ double shared[32];
  const int64_t begin = blockIdx.x * chunk, end = min(n, begin + chunk);
  double s1 = 0, s2 = 0;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const double v = static_cast<double>(w[i]);
    s1 += fabs(v);
    s2 += v * v;
  }
  s1 = cuda::block_sum(s1, shared);
  s2 = cuda::block_sum(s2, shared);
  if (threadIdx.x == 0) out[blockIdx.x] = static_cast<Out>(l1 * s1 + l2 * s2);
}

// out[0] = the sum of the per-chunk values in `partial` (doubles on the device), one block.
template <class T>
void sum_partials(cudaStream_t stream, const Tensor& partial, T* out) {
  const int64_t n = partial.numel();
  sum_chunks_kernel<double, T><<<1, kReduceThreads, 0, stream>>>(partial.data<double>(), n, n, out);
  FASTNN_CUDA_CHECK_LAUNCH();
}

// out[0] = the sum of all of x (n > 0): pass one per chunk of kSumChunk, pass two over the
// chunks' totals (scratch: a double per chunk, from the pool).
template <class T>
void full_sum(cudaStream_t stream, const T* x, int64_t n, T* out, Device device) {
  const int64_t chunks = (n + kSumChunk - 1) / kSumChunk;
  if (chunks == 1) {
    sum_chunks_kernel<T, T><<<1, kReduceThreads, 0, stream>>>(x, n, n, out);
    FASTNN_CUDA_CHECK_LAUNCH();
    return;
  }
  Tensor partial = Tensor::empty({chunks}, DType::Float64, device);
  sum_chunks_kernel<T, double><<<static_cast<unsigned>(chunks), kReduceThreads, 0, stream>>>(
      x, n, kSumChunk, partial.data<double>());
  FASTNN_CUDA_CHECK_LAUNCH();
  sum_partials(stream, partial, out);
}

// Column sums, x (N, C) -> sums (C): the bias gradient. Blocks of kColumnTile columns by
// kRowLanes row lanes; block (tile, chunk) adds rows [chunk * rows_per_chunk, ...) of its
// columns, lane ty taking rows ty, ty + kRowLanes, ... (coalesced: a warp reads 32
// adjacent columns of a row), then the lanes' totals in lane order. With one chunk the
// total goes to out (as T); with several, to partial[chunk * C + column], which a second
// pass (one thread per column) adds in chunk order.
constexpr int kColumnTile = 32, kRowLanes = 8;
constexpr int64_t kRowsPerChunk = 512;

template <class T>
__global__ void column_sums_kernel(const T* x, int64_t N, int64_t C, int64_t rows_per_chunk,
                                   double* partial, T* out) {
  __shared__ double lanes[kRowLanes][kColumnTile + 1];
  const int64_t column = blockIdx.x * int64_t(kColumnTile) + threadIdx.x;
  const int64_t chunk = blockIdx.y;
  const int64_t r0 = chunk * rows_per_chunk, r1 = min(N, r0 + rows_per_chunk);
  double s = 0;
  if (column < C)
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kRowLanes)
      s += static_cast<double>(x[r * C + column]);
  lanes[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && column < C) {
    double total = 0;
    for (int k = 0; k < kRowLanes; ++k) total += lanes[k][threadIdx.x];
    if (partial)
      partial[chunk * C + column] = total;
    else
      out[column] = static_cast<T>(total);
  }
}

template <class T>
void column_sums(cudaStream_t stream, const T* x, int64_t N, int64_t C, T* out, Device device) {
  // Enough rows per chunk that the chunks fit gridDim.y; fixed by N alone.
  const int64_t rows_per_chunk = std::max(kRowsPerChunk, (N + 65534) / 65535);
  const int64_t chunks = (N + rows_per_chunk - 1) / rows_per_chunk;
  const int64_t tiles = (C + kColumnTile - 1) / kColumnTile;
  FASTNN_CHECK(tiles <= INT32_MAX, Value, "sum: too many columns (", C, ")");
  const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(chunks));
  const dim3 block(kColumnTile, kRowLanes);
  if (chunks == 1) {
    column_sums_kernel<T><<<grid, block, 0, stream>>>(x, N, C, rows_per_chunk, nullptr, out);
    FASTNN_CUDA_CHECK_LAUNCH();
    return;
  }
  // Scratch: a double per (chunk, column), from the pool.
  Tensor partial = Tensor::empty({chunks, C}, DType::Float64, device);
  double* pp = partial.data<double>();
  column_sums_kernel<T><<<grid, block, 0, stream>>>(x, N, C, rows_per_chunk, pp, out);
  FASTNN_CUDA_CHECK_LAUNCH();
  for_each(stream, C, [=] __device__(int64_t c) {
    double total = 0;
    for (int64_t k = 0; k < chunks; ++k) total += pp[k * C + c];
    out[c] = static_cast<T>(total);
  });
}

// x's dims split into those sum_to keeps (out's size equals x's) and those it reduces (out
// has 1), in x's order, each class's adjacent dims merged (x is contiguous, so two adjacent
// dims of a class are one dim of their product with the inner one's stride). Size-1 dims of
// x are dropped. order: the classes of the merged dims from the first, 'k' or 'r'.
struct ReduceLayout {
  int64_t kept_shape[kMaxLayoutDims], kept_stride[kMaxLayoutDims];
  int64_t reduced_shape[kMaxLayoutDims], reduced_stride[kMaxLayoutDims];
  int kept = 0, reduced = 0;
  int64_t reduced_count = 1;  // elements summed into each output
  char order[2 * kMaxLayoutDims + 1] = {};
};

ReduceLayout reduce_layout(const Shape& x, const Shape& out) {
  ReduceLayout L;
  int64_t stride = 1;
  int64_t strides[64];
  FASTNN_CHECK(x.size() <= 64, Value, "sum: expected at most 64 dims, got ", x.size());
  for (size_t i = x.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= x[i];
  }
  int classes = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] == 1) continue;
    const bool reduce = out[i] == 1;
    const char cls = reduce ? 'r' : 'k';
    int64_t* shape = reduce ? L.reduced_shape : L.kept_shape;
    int64_t* strd = reduce ? L.reduced_stride : L.kept_stride;
    int& dims = reduce ? L.reduced : L.kept;
    if (reduce) L.reduced_count *= x[i];
    if (classes > 0 && L.order[classes - 1] == cls) {  // merge into the previous dim
      shape[dims - 1] *= x[i];
      strd[dims - 1] = strides[i];
      continue;
    }
    FASTNN_CHECK(dims < kMaxLayoutDims, Value, "sum: expected at most ", kMaxLayoutDims,
                 " separate kept or summed dims, got shapes ", shape_str(x), " and ",
                 shape_str(out));
    shape[dims] = x[i];
    strd[dims] = strides[i];
    ++dims;
    L.order[classes++] = cls;
  }
  return L;
}

// The offset in x of element j of a class's dims (row-major over them).
__device__ __forceinline__ int64_t offset_in(const int64_t* shape, const int64_t* stride, int dims,
                                             int64_t j) {
  int64_t offset = 0;
  for (int d = dims - 1; d > 0; --d) {
    const int64_t q = j / shape[d];
    offset += (j - q * shape[d]) * stride[d];
    j = q;
  }
  return dims > 0 ? offset + j * stride[0] : 0;
}

// The general sum_to: out (the kept dims' elements) = x summed over the reduced dims. One
// warp per output element; lane l adds reduced elements l, l + 32, ... in double, then the
// warp's shuffle tree. Rows sums (reduced dims last) read x coalesced.
template <class T>
__global__ void reduce_kernel(const T* x, ReduceLayout L, int64_t outputs, T* out) {
  const int64_t warps = blockDim.x / 32;
  const int lane = threadIdx.x % 32;
  for (int64_t j = blockIdx.x * warps + threadIdx.x / 32; j < outputs; j += gridDim.x * warps) {
    const T* base = x + offset_in(L.kept_shape, L.kept_stride, L.kept, j);
    double s = 0;
    for (int64_t r = lane; r < L.reduced_count; r += 32)
      s += static_cast<double>(base[offset_in(L.reduced_shape, L.reduced_stride, L.reduced, r)]);
    s = warp_sum(s);
    if (lane == 0) out[j] = static_cast<T>(s);
  }
}

// Whether out is x summed over all but its last axis (out's shape: ones, then x's last dim).
bool reduces_leading_dims_only(const Tensor& x, const Tensor& out) {
  if (x.dim() < 2 || out.dim() < 1 || out.shape().back() != x.shape().back()) return false;
  return out.numel() == x.shape().back();
}

template <class T>
void sum_to_typed(cudaStream_t stream, const Tensor& x, Tensor& out) {
  const T* xp = x.data<T>();
  T* op = out.data<T>();
  const int64_t n = x.numel(), outputs = out.numel();
  if (outputs == 0) return;
  if (n == 0) {  // an empty sum is 0
    for_each(stream, outputs, [=] __device__(int64_t i) { op[i] = T(0); });
    return;
  }
  if (outputs == 1) return full_sum(stream, xp, n, op, out.device());
  if (reduces_leading_dims_only(x, out)) {
    const int64_t C = x.shape().back();
    return column_sums(stream, xp, n / C, C, op, out.device());
  }
  FASTNN_CHECK(x.dim() == out.dim(), Value, "sum: expected shapes of equal rank, got ",
               shape_str(x.shape()), " and ", shape_str(out.shape()));
  const ReduceLayout L = reduce_layout(x.shape(), out.shape());
  if (L.reduced == 0) {  // nothing summed: x's values in out's order
    for_each(stream, n, [=] __device__(int64_t i) { op[i] = xp[i]; });
    return;
  }
  if (L.kept == 1 && L.reduced == 1 && L.order[0] == 'r') {  // leading dims summed: columns
    return column_sums(stream, xp, L.reduced_count, outputs, op, out.device());
  }
  const int warps_per_block = kReduceThreads / 32;
  reduce_kernel<T><<<cuda::blocks_for(outputs, warps_per_block), kReduceThreads, 0, stream>>>(
      xp, L, outputs, op);
  FASTNN_CUDA_CHECK_LAUNCH();
}

// --- queries and the penalty -------------------------------------------------------------

// Sets *flag when some element of x is NaN or infinite: its exponent bits all ones (the
// CPU's test). Threads that find one all store the same 1.
template <class T>
void flag_non_finite(cudaStream_t stream, const Tensor& x, int32_t* flag) {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  constexpr Bits exponent = sizeof(T) == 4 ? Bits(0x7f800000u) : Bits(0x7ff0000000000000ull);
  const Bits* p = reinterpret_cast<const Bits*>(x.data<T>());
  for_each(stream, x.numel(), [=] __device__(int64_t i) {
    if ((p[i] & exponent) == exponent) *flag = 1;
  });
}

template <class T>
void penalty_forward_typed(cudaStream_t stream, const Tensor& w, double l1, double l2,
                           Tensor& out) {
  const int64_t n = w.numel();
  const int64_t chunks = (n + kSumChunk - 1) / kSumChunk;
  if (chunks <= 1) {  // an empty w gives 0
    penalty_chunks_kernel<T, T>
        <<<1, kReduceThreads, 0, stream>>>(w.data<T>(), n, n, l1, l2, out.data<T>());
    FASTNN_CUDA_CHECK_LAUNCH();
    return;
  }
  // Scratch: a double per chunk, from the pool.
  Tensor partial = Tensor::empty({chunks}, DType::Float64, w.device());
  penalty_chunks_kernel<T, double><<<static_cast<unsigned>(chunks), kReduceThreads, 0, stream>>>(
      w.data<T>(), n, kSumChunk, l1, l2, partial.data<double>());
  FASTNN_CUDA_CHECK_LAUNCH();
  sum_partials(stream, partial, out.data<T>());
}

// gw = gout * (l1 * sign(w) + 2 * l2 * w), gout (one element) read on the device.
template <class T>
void penalty_backward_typed(cudaStream_t stream, const Tensor& w, double l1, double l2,
                            const Tensor& gout, Tensor& gw) {
  const T* wp = w.data<T>();
  const T* g = gout.data<T>();
  T* gp = gw.data<T>();
  const T a = static_cast<T>(l1), b = static_cast<T>(2 * l2);
  for_each(stream, w.numel(),
           [=] __device__(int64_t i) { gp[i] = math::penalty_grad(wp[i], g[0], a, b); });
}

}  // namespace

void CudaBackend::binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  if (out.numel() == 0) return;
  auto& dev = state(out.device());
  FASTNN_ANY_CALL(out.dtype(), binary_typed, dev.stream, op, a, b, out);
}

void CudaBackend::axpby(double alpha, const Tensor& x, double beta, Tensor& out) {
  auto& dev = state(out.device());
  FASTNN_FLOAT_CALL(out.dtype(), "axpby", axpby_typed, dev.stream, alpha, x, beta, out);
}

void CudaBackend::sum_to(const Tensor& x, Tensor& out) {
  auto& dev = state(out.device());
  FASTNN_FLOAT_CALL(x.dtype(), "sum", sum_to_typed, dev.stream, x, out);
}

void CudaBackend::broadcast_to(const Tensor& x, double alpha, Tensor& out) {
  if (out.numel() == 0) return;
  auto& dev = state(out.device());
  FASTNN_FLOAT_CALL(out.dtype(), "broadcast", broadcast_typed, dev.stream, x, alpha, out);
}

// A query: reduced on the device to one flag, which the host reads.
bool CudaBackend::all_finite(const Tensor& x) {
  count_host_read();
  auto& dev = state(x.device());
  Tensor flag = Tensor::zeros({1}, DType::Int32, x.device());
  FASTNN_FLOAT_CALL(x.dtype(), "isfinite", flag_non_finite, dev.stream, x, flag.data<int32_t>());
  int32_t bad = 0;
  copy_to_host(flag, &bad);
  return bad == 0;
}

void CudaBackend::penalty_forward(const Tensor& w, double l1, double l2, Tensor& out) {
  auto& dev = state(out.device());
  FASTNN_FLOAT_CALL(w.dtype(), "regularizer", penalty_forward_typed, dev.stream, w, l1, l2, out);
}

void CudaBackend::penalty_backward(const Tensor& w, double l1, double l2, const Tensor& gout,
                                   Tensor& gw) {
  auto& dev = state(gw.device());
  FASTNN_FLOAT_CALL(w.dtype(), "regularizer backward", penalty_backward_typed, dev.stream, w, l1,
                    l2, gout, gw);
}

}  // namespace fastnn
