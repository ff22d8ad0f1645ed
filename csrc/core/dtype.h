// Element types and devices.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"

namespace fastnn {

// Float types are what ops compute in; integer types hold labels and indices; Bool (one
// byte, 0 or 1, numpy's and torch's layout) is what comparisons give.
enum class DType : uint8_t { Float32, Float64, Int32, Int64, Bool };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32:
      return 4;
    case DType::Float64:
      return 8;
    case DType::Int32:
      return 4;
    case DType::Int64:
      return 8;
    case DType::Bool:
      return 1;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32:
      return "float32";
    case DType::Float64:
      return "float64";
    case DType::Int32:
      return "int32";
    case DType::Int64:
      return "int64";
    case DType::Bool:
      return "bool";
  }
  return "?";
}

inline bool is_floating(DType t) {
  return t == DType::Float32 || t == DType::Float64;
}

inline bool is_integral(DType t) {
  return t == DType::Int32 || t == DType::Int64;
}

inline DType dtype_from_name(const std::string& name) {
  if (name == "float32" || name == "float") return DType::Float32;
  if (name == "float64" || name == "double") return DType::Float64;
  if (name == "int32") return DType::Int32;
  if (name == "int64" || name == "long") return DType::Int64;
  if (name == "int") return DType::Int32;
  if (name == "bool") return DType::Bool;
  fail(ErrorKind::Type, "dtype: expected one of float32, float64, int32, int64, bool, got '", name,
       "'");
}

enum class DeviceKind : uint8_t { CPU, CUDA };

struct Device {
  DeviceKind kind = DeviceKind::CPU;
  int index = 0;
  bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string name() const {
    return kind == DeviceKind::CPU ? "cpu" : "cuda:" + std::to_string(index);
  }
};

Device device_from_name(const std::string& name);

// Calls f with a value of the C++ type of a float dtype: dispatch_float(t, [&](auto zero) {
// using T = decltype(zero); ... }).
template <class F>
decltype(auto) dispatch_float(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32:
      return f(float{});
    case DType::Float64:
      return f(double{});
    default:
      fail(ErrorKind::Type, op, ": expected a float32 or float64 tensor, got ", dtype_name(t));
  }
}

}  // namespace fastnn
