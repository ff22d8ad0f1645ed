#include "core/backend.h"

#include <dlfcn.h>

#include <array>
#include <atomic>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "core/launch.h"

namespace fastnn {

namespace {
// Filled by each backend library as it loads (the CPU backend: csrc/cpu/memory.cpp).
std::array<Backend*, 2>& registry() {
  static std::array<Backend*, 2> backends = {nullptr, nullptr};
  return backends;
}
thread_local Recorder* recorder = nullptr;
std::atomic<int64_t> host_reads{0};
}  // namespace

Recorder* active_recorder() {
  return recorder;
}
void set_active_recorder(Recorder* r) {
  recorder = r;
}

namespace {
// The index of `name` among a setting's three names; else a ValueError listing them.
int setting_index(const std::string& name, const char* const (&names)[3], const char* who) {
  for (int i = 0; i < 3; ++i)
    if (name == names[i]) return i;
  fail(ErrorKind::Value, who, ": expected '", names[0], "', '", names[1], "' or '", names[2],
       "', got '", name, "'");
}

std::atomic<int> matmul_precision{0};  // 0 highest, 1 high, 2 medium
constexpr const char* kPrecisions[] = {"highest", "high", "medium"};
std::atomic<int> conv_algorithm{0};  // ConvAlgorithm's values, in kConvAlgorithms' order
constexpr const char* kConvAlgorithms[] = {"auto", "gemm", "winograd"};
}  // namespace

void set_float32_matmul_precision(const std::string& precision) {
  matmul_precision.store(setting_index(precision, kPrecisions, "set_float32_matmul_precision"));
}

std::string float32_matmul_precision() {
  return kPrecisions[matmul_precision.load()];
}

bool float32_matmul_allows_tf32() {
  return matmul_precision.load() > 0;
}

void set_conv_algorithm(const std::string& algorithm) {
  conv_algorithm.store(setting_index(algorithm, kConvAlgorithms, "set_conv_algorithm"));
}

std::string get_conv_algorithm() {
  return kConvAlgorithms[conv_algorithm.load()];
}

ConvAlgorithm conv_algorithm_setting() {
  return static_cast<ConvAlgorithm>(conv_algorithm.load());
}

void count_host_read() {
  host_reads.fetch_add(1, std::memory_order_relaxed);
}
int64_t host_read_count() {
  return host_reads.load(std::memory_order_relaxed);
}

namespace {
// A zeroed int64 tensor per device kind, made on first use. Created outside any capture's
// sight: an allocation is never recorded. (A device backend will zero its copy with a
// kernel; the CPU one is host memory.)
Tensor& zeroed_per_device(std::array<Tensor, 2>& tensors, Device device, int64_t size) {
  Tensor& t = tensors[static_cast<size_t>(device.kind)];
  if (!t.defined()) {
    t = Tensor::empty({size}, DType::Int64, device);
    backend_for(device).fill(t, 0.0);
  }
  return t;
}
}  // namespace

Tensor& kernel_errors(Device device) {
  static std::array<Tensor, 2> errors;
  return zeroed_per_device(errors, device, 5);
}

Tensor& kernel_error_source(Device device) {
  static std::array<Tensor, 2> sources;
  return zeroed_per_device(sources, device, 1);
}

namespace {
// One entry per distinct name (layer names: as many as layers made in the process).
std::mutex source_names_mutex;
std::vector<std::string>& source_names() {
  static std::vector<std::string> names;
  return names;
}
std::unordered_map<std::string, int64_t>& source_ids() {
  static std::unordered_map<std::string, int64_t> ids;
  return ids;
}
}  // namespace

int64_t error_source_id(const std::string& who) {
  std::lock_guard<std::mutex> lock(source_names_mutex);
  auto [it, added] = source_ids().try_emplace(who, 0);
  if (added) {
    source_names().push_back(who);
    it->second = static_cast<int64_t>(source_names().size());
  }
  return it->second;
}

void report_out_of_range(Device device, int64_t row, int64_t value, int64_t limit) {
  int64_t* e = kernel_errors(device).data<int64_t>();
  if (__atomic_fetch_add(&e[0], 1, __ATOMIC_ACQ_REL) == 0) {
    e[1] = row;
    e[2] = value;
    e[3] = limit;
    e[4] = kernel_error_source(device).data<int64_t>()[0];
  }
}

void check_kernel_errors(Device device, const char* who) {
  Tensor& errors = kernel_errors(device);
  count_host_read();
  int64_t e[5];
  backend_for(device).copy_to_host(errors, e);
  if (e[0] == 0) return;
  int64_t row = e[1], value = e[2], limit = e[3], source = e[4];
  backend_for(device).fill(errors, 0.0);
  if (source > 0) {
    std::string name;
    {
      std::lock_guard<std::mutex> lock(source_names_mutex);
      name = source_names().at(static_cast<size_t>(source - 1));
    }
    fail(ErrorKind::Index, name, ": id ", value, " at position ", row,
         " of a batch's ids (flattened) is not an integer in [0, ", limit, ") (input_dim ",
         limit, ")");
  }
  fail(ErrorKind::Index, who, ": label or index ", value, " at position ", row,
       " of a batch is out of range (expected an integer in [0, ", limit, "))");
}

void register_backend(DeviceKind kind, Backend* backend) {
  registry()[static_cast<size_t>(kind)] = backend;
}

bool has_backend(DeviceKind kind) {
  return registry()[static_cast<size_t>(kind)] != nullptr;
}

namespace {
struct LoadedLibrary {
  bool tried = false;
  std::string reason;  // "" once loaded and registered
};
std::mutex loading_mutex;
std::array<LoadedLibrary, 2>& loaded_libraries() {
  static std::array<LoadedLibrary, 2> libraries;
  return libraries;
}
}  // namespace

std::string load_backend_library(DeviceKind kind, const std::string& path) {
  std::lock_guard<std::mutex> lock(loading_mutex);
  LoadedLibrary& lib = loaded_libraries()[static_cast<size_t>(kind)];
  if (lib.tried) return lib.reason;
  lib.tried = true;
  // Local symbols: the library finds libfastnn's through its own dependency on it.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    lib.reason = std::string("its library could not be loaded (") + (why ? why : path) + ")";
    return lib.reason;
  }
  using Init = const char* (*)();
  auto init = reinterpret_cast<Init>(dlsym(handle, "fastnn_backend_init"));
  if (init == nullptr) {
    lib.reason = "its library " + path + " has no fastnn_backend_init";
    return lib.reason;
  }
  const char* why = init();  // registers the backend, or says why it did not
  lib.reason = why ? why : "";
  if (lib.reason.empty() && !has_backend(kind)) lib.reason = "its library did not register it";
  return lib.reason;
}

std::string backend_unavailable_reason(DeviceKind kind) {
  if (has_backend(kind)) return "";
  std::lock_guard<std::mutex> lock(loading_mutex);
  const LoadedLibrary& lib = loaded_libraries()[static_cast<size_t>(kind)];
  if (lib.tried && !lib.reason.empty()) return lib.reason;
  return "this build of fastnn has no backend for it (it was built without CUDA)";
}

Backend& backend_for(Device device) {
  Backend* b = registry()[static_cast<size_t>(device.kind)];
  if (b == nullptr)
    fail(ErrorKind::Value, "device '", device.name(), "' is not available: ",
         backend_unavailable_reason(device.kind));
  FASTNN_CHECK(device.index >= 0 && device.index < b->device_count(), Value, "device '",
               device.name(), "' is not available: this machine has ", b->device_count(), " ",
               b->name(), " device", b->device_count() == 1 ? "" : "s");
  return *b;
}

Activation activation_from_name(const std::string& name, const char* who) {
  if (name.empty() || name == "linear" || name == "none") return Activation::Linear;
  if (name == "relu") return Activation::ReLU;
  if (name == "leaky_relu") return Activation::LeakyReLU;
  if (name == "sigmoid") return Activation::Sigmoid;
  if (name == "tanh") return Activation::Tanh;
  if (name == "gelu") return Activation::GELU;
  fail(ErrorKind::Value, who, ": unknown activation '", name,
       "'; expected one of linear, relu, leaky_relu, sigmoid, tanh, gelu");
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::Linear:
      return "linear";
    case Activation::ReLU:
      return "relu";
    case Activation::LeakyReLU:
      return "leaky_relu";
    case Activation::Sigmoid:
      return "sigmoid";
    case Activation::Tanh:
      return "tanh";
    case Activation::GELU:
      return "gelu";
  }
  return "?";
}

void Backend::optimizer_update(OptimizerKind kind, const Tensor& config, Tensor& steps,
                               const std::vector<ParamUpdate>& params) {
  for (const ParamUpdate& u : params) {
    Tensor param = u.param, s0 = u.state[0], s1 = u.state[1], s2 = u.state[2];
    switch (kind) {
      case OptimizerKind::SGD:
        sgd_update(config, steps, u.index, param, u.grad, s0);
        break;
      case OptimizerKind::Adam:
        adam_update(config, steps, u.index, param, u.grad, s0, s1, s2);
        break;
      case OptimizerKind::RMSprop:
        rmsprop_update(config, steps, u.index, param, u.grad, s0, s1, s2);
        break;
      case OptimizerKind::Adagrad:
        adagrad_update(config, steps, u.index, param, u.grad, s0);
        break;
    }
  }
}

void Backend::winograd_kernel_transform(const Tensor&, bool, Tensor&) {
  fail(ErrorKind::Runtime, name(), " backend: no Winograd convolutions");
}
void Backend::conv2d_winograd_forward(const Tensor&, const Tensor&, const ConvGeometry&, Tensor&) {
  fail(ErrorKind::Runtime, name(), " backend: no Winograd convolutions");
}
void Backend::conv2d_winograd_backward_kernel(const Tensor&, const Tensor&, const ConvGeometry&,
                                              Tensor&) {
  fail(ErrorKind::Runtime, name(), " backend: no Winograd convolutions");
}

AccuracyKind accuracy_kind_from_name(const std::string& name) {
  if (name == "sparse_categorical_accuracy") return AccuracyKind::SparseCategorical;
  if (name == "categorical_accuracy") return AccuracyKind::Categorical;
  if (name == "binary_accuracy") return AccuracyKind::Binary;
  fail(ErrorKind::Value, "accuracy: unknown metric '", name,
       "'; expected sparse_categorical_accuracy, categorical_accuracy or binary_accuracy");
}

bool activation_grad_from_output(Activation a) {
  return a != Activation::GELU;
}

}  // namespace fastnn
