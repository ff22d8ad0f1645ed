// The backend's entry point, per-device state, allocation, copies, casts, fills and host
// transfers (csrc/cpu/memory.cpp's counterpart).
#include <dlfcn.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "cuda/common.cuh"

namespace fastnn {

namespace cuda {

namespace {
CudaBackend* instance = nullptr;
}

CudaBackend& backend() {
  return *instance;
}

void fail_cuda(cudaError_t error, const char* call, const char* file, int line) {
  if (error == cudaErrorMemoryAllocation)
    fail(ErrorKind::Memory, "CUDA out of memory: ", call, " (", file, ":", line, ")");
  fail(ErrorKind::Runtime, "CUDA error: ", cudaGetErrorName(error), ": ",
       cudaGetErrorString(error), " in ", call, " (", file, ":", line, ")");
}

void fail_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  fail(ErrorKind::Runtime, "cuBLAS error: ", cublasGetStatusName(status), ": ",
       cublasGetStatusString(status), " in ", call, " (", file, ":", line, ")");
}

}  // namespace cuda

using cuda::for_each;

CudaBackend::CudaBackend(int device_count) : device_count_(device_count) {
  states_.resize(static_cast<size_t>(device_count));
}

// Streams and handles die with the process: destroying them from a static destructor, after
// the driver may have shut down, would fail.
CudaBackend::~CudaBackend() = default;

std::string CudaBackend::device_name(int index) const {
  cudaDeviceProp properties{};
  FASTNN_CUDA_CHECK(cudaGetDeviceProperties(&properties, index));
  return properties.name;
}

CudaDeviceState& CudaBackend::state(Device device) {
  // The device current on this thread, remembered to skip the call when it does not change.
  thread_local int current = -1;
  const int index = device.index;
  if (index != current) {
    FASTNN_CUDA_CHECK(cudaSetDevice(index));
    current = index;
  }
  std::unique_ptr<CudaDeviceState>& slot = states_.at(static_cast<size_t>(index));
  if (slot) return *slot;
  std::lock_guard<std::mutex> lock(mutex_);
  if (slot) return *slot;
  auto s = std::make_unique<CudaDeviceState>();
  s->index = index;
  FASTNN_CUDA_CHECK(cudaGetDeviceProperties(&s->properties, index));
  FASTNN_CUDA_CHECK(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking));
  FASTNN_CUBLAS_CHECK(cublasCreate(&s->cublas));
  FASTNN_CUBLAS_CHECK(cublasSetStream(s->cublas, s->stream));
  // Without a workspace of its own, cuBLAS allocates one inside a graph capture, which fails.
  // 32 MiB: what cuBLAS asks for on Hopper (its docs' recommendation for sm_90).
  constexpr size_t kCublasWorkspace = size_t(32) << 20;
  FASTNN_CUDA_CHECK(cudaMalloc(&s->cublas_workspace, kCublasWorkspace));
  FASTNN_CUBLAS_CHECK(cublasSetWorkspace(s->cublas, s->cublas_workspace, kCublasWorkspace));
  // The pool keeps freed memory for the next allocation instead of returning it to the
  // driver at every synchronisation (as PyTorch's caching allocator does).
  cudaMemPool_t pool;
  FASTNN_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, index));
  uint64_t keep_all = std::numeric_limits<uint64_t>::max();
  FASTNN_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep_all));
  // Pinned staging: a machine that refuses page-locked memory still transfers, from
  // pageable memory.
  PinnedStaging& staging = s->staging;
  staging.usable = true;
  for (int b = 0; b < 2 && staging.usable; ++b) {
    staging.usable = cudaMallocHost(&staging.buffer[b], PinnedStaging::kBytes) == cudaSuccess &&
                     cudaEventCreateWithFlags(&staging.done[b], cudaEventDisableTiming) ==
                         cudaSuccess;
  }
  if (!staging.usable) (void)cudaGetLastError();
  slot = std::move(s);
  return *slot;
}

std::shared_ptr<Storage> CudaBackend::allocate(size_t nbytes, Device device) {
  const int index = device.index;
  CudaDeviceState& dev = state(device);
  void* p = nullptr;
  cudaError_t error = cudaMallocAsync(&p, std::max<size_t>(nbytes, 1), dev.stream);
  if (error != cudaSuccess) {
    (void)cudaGetLastError();  // clear it: the process goes on
    fail(ErrorKind::Memory, "allocate: CUDA out of memory: could not allocate ", nbytes,
         " bytes (", static_cast<double>(nbytes) / (1 << 30), " GiB) on cuda:", index, " (",
         cudaGetErrorString(error), ")");
  }
  cudaStream_t stream = dev.stream;
  std::shared_ptr<void> owner(p, [stream](void* q) { cudaFreeAsync(q, stream); });
  auto storage = std::make_shared<Storage>();
  storage->data = p;
  storage->nbytes = nbytes;
  storage->device = Device{DeviceKind::CUDA, index};
  storage->owner = std::move(owner);
  return storage;
}

void CudaBackend::copy(const Tensor& src, Tensor& dst) {
  if (src.raw() == dst.raw() || src.nbytes() == 0) return;
  auto& dev = state(dst.device());
  FASTNN_CUDA_CHECK(
      cudaMemcpyAsync(dst.raw(), src.raw(), src.nbytes(), cudaMemcpyDeviceToDevice, dev.stream));
}

// Uploads in chunks through the two pinned buffers: each chunk is copied into a buffer whose
// last transfer has finished and sent by DMA on the stream. Returns once src is staged (it may
// be reused); the stream's next kernels see the data.
void CudaBackend::copy_from_host(const void* src, Tensor& dst) {
  const size_t n = dst.nbytes();
  if (n == 0) return;
  auto& dev = state(dst.device());
  PinnedStaging& staging = dev.staging;
  if (!staging.usable) {  // the driver stages pageable memory itself; the call returns after
    FASTNN_CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src, n, cudaMemcpyHostToDevice, dev.stream));
    return;
  }
  std::lock_guard<std::mutex> lock(staging.mutex);
  for (size_t offset = 0; offset < n; offset += PinnedStaging::kBytes) {
    const size_t bytes = std::min(PinnedStaging::kBytes, n - offset);
    const int b = staging.next;
    staging.next ^= 1;
    FASTNN_CUDA_CHECK(cudaEventSynchronize(staging.done[b]));
    std::memcpy(staging.buffer[b], static_cast<const char*>(src) + offset, bytes);
    FASTNN_CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(dst.raw()) + offset, staging.buffer[b],
                                      bytes, cudaMemcpyHostToDevice, dev.stream));
    FASTNN_CUDA_CHECK(cudaEventRecord(staging.done[b], dev.stream));
  }
}

// Downloads in chunks through the pinned buffers: chunk i's DMA runs while chunk i - 1 is
// copied out to dst. Returns once dst holds the values every kernel launched before wrote.
void CudaBackend::copy_to_host(const Tensor& src, void* dst) {
  const size_t n = src.nbytes();
  if (n == 0) return;
  auto& dev = state(src.device());
  PinnedStaging& staging = dev.staging;
  if (!staging.usable) {
    FASTNN_CUDA_CHECK(cudaMemcpyAsync(dst, src.raw(), n, cudaMemcpyDeviceToHost, dev.stream));
    FASTNN_CUDA_CHECK(cudaStreamSynchronize(dev.stream));
    return;
  }
  std::lock_guard<std::mutex> lock(staging.mutex);
  int pending = -1;  // the buffer holding the previous chunk, not yet copied out
  size_t pending_offset = 0, pending_bytes = 0;
  auto copy_out = [&] {
    FASTNN_CUDA_CHECK(cudaEventSynchronize(staging.done[pending]));
    std::memcpy(static_cast<char*>(dst) + pending_offset, staging.buffer[pending], pending_bytes);
  };
  for (size_t offset = 0; offset < n; offset += PinnedStaging::kBytes) {
    const size_t bytes = std::min(PinnedStaging::kBytes, n - offset);
    const int b = staging.next;
    staging.next ^= 1;
    // The buffer's last use (an upload's DMA, earlier on this stream) is ordered before this
    // DMA by the stream; the host reads it only after its event.
    const char* from = static_cast<const char*>(src.raw()) + offset;
    FASTNN_CUDA_CHECK(
        cudaMemcpyAsync(staging.buffer[b], from, bytes, cudaMemcpyDeviceToHost, dev.stream));
    FASTNN_CUDA_CHECK(cudaEventRecord(staging.done[b], dev.stream));
    if (pending >= 0) copy_out();
    pending = b, pending_offset = offset, pending_bytes = bytes;
  }
  copy_out();
}

void CudaBackend::synchronize() {
  for (auto& s : states_)
    if (s) {
      FASTNN_CUDA_CHECK(cudaSetDevice(s->index));
      FASTNN_CUDA_CHECK(cudaStreamSynchronize(s->stream));
    }
}

namespace {

template <class T>
T* typed(const Tensor& t) {
  return static_cast<T*>(t.raw());
}

// Whether From values may not fit To (float to integer, int64 to int32): then the values
// are checked first, as the CPU backend does, instead of converting to garbage.
// (Bool takes any value: nonzero is true, NaN too, as torch.)
template <class From, class To>
constexpr bool narrowing = std::is_integral_v<To> && !std::is_same_v<To, bool> &&
                           (std::is_floating_point_v<From> || sizeof(To) < sizeof(From));

template <class From, class To>
void cast_values(cudaStream_t stream, const Tensor& src, const Tensor& dst) {
  const From* s = typed<From>(src);
  To* d = typed<To>(dst);
  const int64_t n = src.numel();
  if constexpr (narrowing<From, To>) {
    // The first position whose value does not fit, found on the device and read back: a
    // host read, but casts of floats to labels are data preparation, not steps.
    constexpr double low = static_cast<double>(std::numeric_limits<To>::min());
    Tensor first = Tensor::full({1}, static_cast<double>(n), DType::Int64, dst.device());
    auto* f = typed<unsigned long long>(first);
    for_each(stream, n, [=] __device__(int64_t i) {
      double v = static_cast<double>(s[i]);
      if (!(v >= low && v < -low)) atomicMin(f, static_cast<unsigned long long>(i));
    });
    int64_t at = 0;
    count_host_read();
    cuda::backend().copy_to_host(first, &at);
    if (at < n) {
      double v = 0;
      Tensor one = Tensor::empty({1}, src.dtype(), src.device());
      FASTNN_CUDA_CHECK(cudaMemcpyAsync(one.raw(), s + at, sizeof(From),
                                        cudaMemcpyDeviceToDevice, stream));
      From value{};
      cuda::backend().copy_to_host(one, &value);
      v = static_cast<double>(value);
      fail(ErrorKind::Value, "to: expected values that fit ", sizeof(To) == 4 ? "int32" : "int64",
           ", got ", v, " at position ", at);
    }
  }
  for_each(stream, n, [=] __device__(int64_t i) { d[i] = static_cast<To>(s[i]); });
}

template <class From>
void cast_from(cudaStream_t stream, const Tensor& src, const Tensor& dst) {
  switch (dst.dtype()) {
    case DType::Float32:
      return cast_values<From, float>(stream, src, dst);
    case DType::Float64:
      return cast_values<From, double>(stream, src, dst);
    case DType::Int32:
      return cast_values<From, int32_t>(stream, src, dst);
    case DType::Int64:
      return cast_values<From, int64_t>(stream, src, dst);
    case DType::Bool:
      return cast_values<From, bool>(stream, src, dst);
  }
}

template <class T>
void fill_values(cudaStream_t stream, const Tensor& out, double value) {
  T* p = typed<T>(out);
  const T v = std::is_same_v<T, bool> ? T(value != 0) : static_cast<T>(value);
  for_each(stream, out.numel(), [=] __device__(int64_t i) { p[i] = v; });
}

}  // namespace

void CudaBackend::cast(const Tensor& src, Tensor& dst) {
  cudaStream_t stream = state(dst.device()).stream;
  switch (src.dtype()) {
    case DType::Float32:
      return cast_from<float>(stream, src, dst);
    case DType::Float64:
      return cast_from<double>(stream, src, dst);
    case DType::Int32:
      return cast_from<int32_t>(stream, src, dst);
    case DType::Int64:
      return cast_from<int64_t>(stream, src, dst);
    case DType::Bool:
      return cast_from<bool>(stream, src, dst);
  }
}

void CudaBackend::fill(Tensor& out, double value) {
  cudaStream_t stream = state(out.device()).stream;
  switch (out.dtype()) {
    case DType::Float32:
      return fill_values<float>(stream, out, value);
    case DType::Float64:
      return fill_values<double>(stream, out, value);
    case DType::Int32:
      return fill_values<int32_t>(stream, out, value);
    case DType::Int64:
      return fill_values<int64_t>(stream, out, value);
    case DType::Bool:
      return fill_values<bool>(stream, out, value);
  }
}

}  // namespace fastnn

// Called by load_backend_library (core/backend.cpp) once, when fastnn/cuda.py loads this
// library: registers the backend when the driver works and sees a GPU, else says why not.
extern "C" __attribute__((visibility("default"))) const char* fastnn_backend_init() {
  static std::string why;
  // The runtime's own word for a machine without the driver is "driver version is
  // insufficient", which sends people looking for a newer driver instead of any driver.
  if (void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL)) {
    dlclose(driver);
  } else {
    why = "no NVIDIA driver is installed (libcuda.so.1 was not found): this machine has no "
          "usable GPU";
    return why.c_str();
  }
  int count = 0;
  cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess) {
    (void)cudaGetLastError();
    why = std::string("the CUDA runtime found no usable GPU (") + cudaGetErrorName(error) + ": " +
          cudaGetErrorString(error) + ")";
    return why.c_str();
  }
  if (count == 0) {
    why = "the CUDA runtime sees no GPU on this machine";
    return why.c_str();
  }
  static fastnn::CudaBackend backend(count);
  fastnn::cuda::instance = &backend;
  fastnn::register_backend(fastnn::DeviceKind::CUDA, &backend);
  return nullptr;
}
