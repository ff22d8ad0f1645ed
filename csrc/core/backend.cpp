#include "core/backend.h"

#include <array>
#include <atomic>
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
    std::memset(t.raw(), 0, t.nbytes());
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
  int64_t* e = errors.data<int64_t>();
  if (e[0] == 0) return;
  int64_t row = e[1], value = e[2], limit = e[3], source = e[4];
  std::memset(e, 0, errors.nbytes());
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

Backend& backend_for(Device device) {
  Backend* b = registry()[static_cast<size_t>(device.kind)];
  FASTNN_CHECK(b != nullptr, Value, "device '", device.name(),
               "' is not available: this build of fastnn has no backend for it (see "
               "`python -m fastnn info`)");
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
