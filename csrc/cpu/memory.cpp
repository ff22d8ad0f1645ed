// Allocation, copies, casts and fills.
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>

#include "core/parallel.h"
#include "cpu/blas.h"
#include "cpu/backend_cpu.h"

namespace fastnn {

namespace {
// The CPU backend registers itself as the library loads, as a device backend does. OpenBLAS
// runs single-threaded inside our pool's chunks (cpu/gemm.cpp): its own threads would compete
// with the pool's polling workers for the cores.
[[maybe_unused]] const bool registered = [] {
  static CpuBackend backend;
  blas_set_num_threads(1);
  register_backend(DeviceKind::CPU, &backend);
  return true;
}();
}  // namespace

[[noreturn]] static void out_of_memory(size_t nbytes) {
  fail(ErrorKind::Memory, "allocate: out of memory: could not allocate ", nbytes, " bytes (",
       static_cast<double>(nbytes) / (1 << 30), " GiB) on the CPU");
}

// 64-byte aligned so every row of a float tensor can start on a cache line and SIMD loads
// never split one. Failures are MemoryError with the byte count: a null from aligned_alloc,
// or std::bad_alloc from the bookkeeping (Tensor::empty has already refused sizes that
// overflow, as ValueError).
std::shared_ptr<Storage> CpuBackend::allocate(size_t nbytes, Device) {
  if (nbytes > std::numeric_limits<size_t>::max() - 64) out_of_memory(nbytes);  // rounding wraps
  size_t rounded = (std::max<size_t>(nbytes, 1) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (p == nullptr) out_of_memory(nbytes);
  try {
    // Owned first: shared_ptr's constructor frees p itself when it throws, and owner does
    // when make_shared does.
    std::shared_ptr<void> owner(p, [](void* q) { std::free(q); });
    auto storage = std::make_shared<Storage>();
    storage->data = p;
    storage->nbytes = nbytes;
    storage->device = Device{DeviceKind::CPU, 0};
    storage->owner = std::move(owner);
    return storage;
  } catch (const std::bad_alloc&) {
    out_of_memory(nbytes);
  }
}

void CpuBackend::copy(const Tensor& src, Tensor& dst) {
  if (src.raw() != dst.raw()) std::memcpy(dst.raw(), src.raw(), src.nbytes());
}

void CpuBackend::copy_from_host(const void* src, Tensor& dst) {
  if (src != dst.raw()) std::memcpy(dst.raw(), src, dst.nbytes());
}

void CpuBackend::copy_to_host(const Tensor& src, void* dst) {
  if (src.raw() != dst) std::memcpy(dst, src.raw(), src.nbytes());
}

template <class From, class To>
static void cast_loop(const From* s, To* d, int64_t n) {
  // Converting NaN, inf or an out-of-range float to an integer is undefined behaviour (x86
  // gives INT_MIN), and narrowing int64 to int32 wraps: both would be silent garbage, so
  // such values are refused before anything is written.
  // Bool takes any value (nonzero is true, NaN too, as torch).
  if constexpr (std::is_integral_v<To> && !std::is_same_v<To, bool> &&
                (std::is_floating_point_v<From> || sizeof(To) < sizeof(From))) {
    constexpr double low = static_cast<double>(std::numeric_limits<To>::min());  // exact: -2^k
    for (int64_t i = 0; i < n; ++i) {
      double v = static_cast<double>(s[i]);
      FASTNN_CHECK(v >= low && v < -low, Value, "to: expected values that fit ",
                   sizeof(To) == 4 ? "int32" : "int64", ", got ", v, " at position ", i);
    }
  }
  for (int64_t i = 0; i < n; ++i) d[i] = static_cast<To>(s[i]);
}

template <class From>
static void cast_from(const From* s, const Tensor& dst, int64_t n) {
  switch (dst.dtype()) {
    case DType::Float32:
      cast_loop(s, dst.data<float>(), n);
      break;
    case DType::Float64:
      cast_loop(s, dst.data<double>(), n);
      break;
    case DType::Int32:
      cast_loop(s, dst.data<int32_t>(), n);
      break;
    case DType::Int64:
      cast_loop(s, dst.data<int64_t>(), n);
      break;
    case DType::Bool:
      cast_loop(s, dst.data<bool>(), n);
      break;
  }
}

void CpuBackend::cast(const Tensor& src, Tensor& dst) {
  int64_t n = src.numel();
  switch (src.dtype()) {
    case DType::Float32:
      cast_from(src.data<float>(), dst, n);
      break;
    case DType::Float64:
      cast_from(src.data<double>(), dst, n);
      break;
    case DType::Int32:
      cast_from(src.data<int32_t>(), dst, n);
      break;
    case DType::Int64:
      cast_from(src.data<int64_t>(), dst, n);
      break;
    case DType::Bool:
      cast_from(src.data<bool>(), dst, n);
      break;
  }
}

void CpuBackend::fill(Tensor& out, double value) {
  int64_t n = out.numel();
  auto fill_as = [&](auto* p) {
    using T = std::remove_pointer_t<decltype(p)>;
    T v = std::is_same_v<T, bool> ? T(value != 0) : static_cast<T>(value);
    for (int64_t i = 0; i < n; ++i) p[i] = v;
  };
  switch (out.dtype()) {
    case DType::Float32:
      fill_as(out.data<float>());
      break;
    case DType::Float64:
      fill_as(out.data<double>());
      break;
    case DType::Int32:
      fill_as(out.data<int32_t>());
      break;
    case DType::Int64:
      fill_as(out.data<int64_t>());
      break;
    case DType::Bool:
      fill_as(out.data<bool>());
      break;
  }
}

}  // namespace fastnn
