// Allocation, copies, casts and fills.
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <type_traits>
#include <unordered_map>
#include <vector>

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

namespace {
// Large blocks that tensors free are kept for the next allocation of the same size. An eager
// step (a PyTorch-style loop) allocates the same sizes at every step, and a block fresh from
// the OS costs a page fault per 4 KiB page on first touch: a CIFAR CNN step's im2col
// workspace and activations took 27k faults and ~55 ms of system time per step before this,
// a captured step (which allocates nothing) 2. Small blocks reuse malloc's own free lists.
class BlockCache {
 public:
#if defined(__SANITIZE_ADDRESS__)
  // Off under AddressSanitizer, which then sees every use after free.
  static constexpr size_t kMinBytes = std::numeric_limits<size_t>::max();
#else
  // glibc serves blocks from 128 KiB up by mmap (fresh pages) unless its threshold has grown.
  static constexpr size_t kMinBytes = size_t(128) << 10;
#endif
  static constexpr size_t kLimitBytes = size_t(1) << 31;  // cached at most, all sizes

  void* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.find(bytes);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    cached_ -= bytes;
    return p;
  }

  void give(void* p, size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_ + bytes <= kLimitBytes) {
        free_[bytes].push_back(p);
        cached_ += bytes;
        return;
      }
    }
    std::free(p);
  }

  // Frees every cached block (an allocation that failed tries again after this).
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [bytes, blocks] : free_)
      for (void* p : blocks) std::free(p);
    free_.clear();
    cached_ = 0;
  }

 private:
  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
};

// Never destroyed: tensors held by Python objects may be freed after static destructors.
BlockCache& block_cache() {
  static BlockCache* cache = new BlockCache;
  return *cache;
}

void* allocate_block(size_t rounded) {
  if (rounded >= BlockCache::kMinBytes) {
    if (void* p = block_cache().take(rounded)) return p;
  }
  void* p = std::aligned_alloc(64, rounded);
  if (p == nullptr && rounded >= BlockCache::kMinBytes) {
    block_cache().release();
    p = std::aligned_alloc(64, rounded);
  }
  return p;
}

void free_block(void* p, size_t rounded) {
  if (rounded >= BlockCache::kMinBytes)
    block_cache().give(p, rounded);
  else
    std::free(p);
}
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
  void* p = allocate_block(rounded);
  if (p == nullptr) out_of_memory(nbytes);
  try {
    // Owned first: shared_ptr's constructor frees p itself when it throws, and owner does
    // when make_shared does.
    std::shared_ptr<void> owner(p, [rounded](void* q) { free_block(q, rounded); });
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
