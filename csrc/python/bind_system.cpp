// Seeds, threads, grad mode, random fills and build information.
#include <pybind11/stl.h>

#include "autograd/node.h"
#include "autograd/plan.h"
#include "core/backend.h"
#include "core/launch.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "cpu/backend_cpu.h"
#include "cpu/blas.h"
#include "python/convert.h"
#include "python/shape_arg.h"

#ifndef FASTNN_VERSION
#define FASTNN_VERSION "0.0.0"
#endif

namespace fastnn::python {

// A random op: inside a captured step the draw is recorded and every replay draws the next
// numbers from the generator, as the eager step would.
static Tensor random_tensor(const py::object& shape, const py::object& dtype, bool normal,
                            double a, double b, const std::string& device) {
  Tensor t = Tensor::empty(shape_from_python(shape, normal ? "normal" : "uniform"),
                           parse_dtype(dtype), device_from_name(device));
  Tensor& generator = generator_state(t.device());
  if (normal)
    FASTNN_LAUNCH(backend_of(t), random_normal, t, a, b, generator);
  else
    FASTNN_LAUNCH(backend_of(t), random_uniform, t, a, b, generator);
  return t;
}

void bind_system(py::module_& m) {
  m.def("manual_seed", &manual_seed, py::arg("seed"),
        "Seeds fastnn's generator: the same seed gives the same numbers on any thread count.");
  m.def("initial_seed", &initial_seed);
  m.def(
      "generator_state", []() { return generator_state(); },
      "The global generator as the kernels read it: an int64 tensor {seed, offset} (a "
      "handle: writing its values moves the generator).");
  m.def("set_num_threads", &set_num_threads, py::arg("n"),
        "Threads of the pool that runs every CPU kernel (n <= 0: one per allowed core).");
  m.def("get_num_threads", &get_num_threads);
  m.def("set_grad_enabled", &set_grad_enabled, py::arg("enabled"));
  m.def("is_grad_enabled", &grad_enabled);
  m.def(
      "uniform",
      [](const py::object& shape, double low, double high, const py::object& dtype,
         const std::string& device) { return random_tensor(shape, dtype, false, low, high, device); },
      py::arg("shape"), py::arg("low") = 0.0, py::arg("high") = 1.0, py::arg("dtype") = "float32",
      py::arg("device") = "cpu");
  m.def(
      "permutation",
      [](int64_t n) {
        FASTNN_CHECK(n >= 0, Value, "permutation: expected n >= 0, got ", n);
        py::array_t<int64_t> out(n);
        random_permutation(n, out.mutable_data());
        return out;
      },
      py::arg("n"), "A random permutation of range(n) from fastnn's seeded generator.");
  m.def(
      "normal",
      [](const py::object& shape, double mean, double std, const py::object& dtype,
         const std::string& device) { return random_tensor(shape, dtype, true, mean, std, device); },
      py::arg("shape"), py::arg("mean") = 0.0, py::arg("std") = 1.0, py::arg("dtype") = "float32",
      py::arg("device") = "cpu");
  m.def(
      "grad",
      [](const Tensor& root, const std::vector<Tensor>& inputs, const py::object& gradient,
         bool retain_graph) {
        Tensor g = gradient.is_none() ? Tensor() : gradient.cast<Tensor>();
        std::vector<Tensor> out = grad(root, inputs, g, retain_graph);
        py::list result;
        for (const Tensor& t : out) result.append(t.defined() ? py::cast(t) : py::none());
        return result;
      },
      py::arg("root"), py::arg("inputs"), py::arg("gradient") = py::none(),
      py::arg("retain_graph") = false,
      "d root / d inputs without touching any .grad (None where root does not depend on one).");
  m.def("set_float32_matmul_precision", &set_float32_matmul_precision, py::arg("precision"));
  m.def("get_float32_matmul_precision", &float32_matmul_precision);
  m.def("set_conv_algorithm", &set_conv_algorithm, py::arg("algorithm"));
  m.def("get_conv_algorithm", &get_conv_algorithm);
  m.def("has_cuda_backend", [] { return has_backend(DeviceKind::CUDA); });
  m.def(
      "load_cuda_backend",
      [](const std::string& path) { return load_backend_library(DeviceKind::CUDA, path); },
      py::arg("path"),
      "Loads libfastnn_cuda and registers the CUDA backend; returns '' or why it is unusable.");
  m.def("emulate_cuda_on_host", &register_emulated_cuda, py::arg("devices") = 2,
        "Registers host-emulated CUDA devices (testing the device paths without a GPU; see "
        "cpu/emulated_device.cpp); False when a CUDA backend is already registered.");
  m.def("cuda_unavailable_reason", [] { return backend_unavailable_reason(DeviceKind::CUDA); });
  m.def("cuda_device_count", [] {
    return has_backend(DeviceKind::CUDA) ? backend_for(Device{DeviceKind::CUDA, 0}).device_count()
                                         : 0;
  });
  m.def(
      "cuda_device_name",
      [](int index) {
        return backend_for(Device{DeviceKind::CUDA, index}).device_name(index);
      },
      py::arg("index") = 0);
  m.def(
      "synchronize", [](const std::string& device) { backend_for(device_from_name(device)).synchronize(); },
      py::arg("device") = "cuda",
      "Waits until every kernel launched on the device has finished.");
  m.def("host_read_count", &host_read_count,
        "Reads of device data by the host so far (a debug counter: numpy views, .item(), "
        "queries, error checks).");
  m.def(
      "check_kernel_errors",
      [](const char* who, const std::string& device) {
        check_kernel_errors(device_from_name(device), who);
      },
      py::arg("who"), py::arg("device") = "cpu",
      "Raises IndexError for a bad label a kernel of `device` found since the last check.");
  m.def("build_info", [] {
    py::dict info;
    info["version"] = FASTNN_VERSION;
    info["blas"] = blas_config();
    info["blas_core"] = blas_corename();
    info["threads"] = get_num_threads();
    info["blas_threads"] = blas_get_num_threads();
#ifdef FASTNN_WITH_CUDA
    info["cuda"] = true;
#else
    info["cuda"] = false;
#endif
#ifdef FASTNN_NATIVE_BUILD
    info["native"] = true;  // kernels compiled for the building machine's CPU
#else
    info["native"] = false;
#endif
    info["compiler"] = __VERSION__;
    return info;
  });
}

}  // namespace fastnn::python
