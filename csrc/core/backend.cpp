#include "core/backend.h"

#include <array>
#include <mutex>

namespace fastnn {

Backend* make_cpu_backend();  // csrc/cpu/backend_cpu.cpp

namespace {
std::array<Backend*, 2>& registry() {
  static std::array<Backend*, 2> backends = {make_cpu_backend(), nullptr};
  return backends;
}
thread_local Backend* recording = nullptr;
thread_local DeviceKind recording_kind = DeviceKind::CPU;
}  // namespace

void set_recording_backend(DeviceKind kind, Backend* backend) {
  recording_kind = kind;
  recording = backend;
}

Backend* recording_backend() {
  return recording;
}
DeviceKind recording_device_kind() {
  return recording_kind;
}

void register_backend(DeviceKind kind, Backend* backend) {
  registry()[static_cast<size_t>(kind)] = backend;
}

bool has_backend(DeviceKind kind) {
  return registry()[static_cast<size_t>(kind)] != nullptr;
}

Backend& backend_for(Device device) {
  if (recording && device.kind == recording_kind) return *recording;
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
