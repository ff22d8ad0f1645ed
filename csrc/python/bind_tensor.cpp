// fastnn._C.Tensor: storage, shape, dtype and autograd fields. Operators and indexing are
// added in Python (python/fastnn/tensor.py) on top of these.
#include <pybind11/stl.h>

#include "autograd/node.h"
#include "autograd/plan.h"
#include "core/backend.h"
#include "python/convert.h"
#include "python/shape_arg.h"
#include "ops/tensor_ops.h"

namespace fastnn::python {

static py::tuple shape_tuple(const Shape& s) {
  py::tuple t(s.size());
  for (size_t i = 0; i < s.size(); ++i) t[i] = s[i];
  return t;
}

void bind_tensor(py::module_& m) {
  py::class_<Tensor>(m, "Tensor", py::buffer_protocol(), py::dynamic_attr(),
                     "A contiguous n-d array of float32/float64 (or int32/int64 labels) with "
                     "PyTorch-style autograd fields.")
      .def(py::init([](const py::array& data, const py::object& dtype, bool requires_grad) {
             std::optional<DType> dt;
             if (!dtype.is_none()) dt = parse_dtype(dtype);
             Tensor source = tensor_from_numpy(data, dt, "tensor");
             CaptureSuspend unrecorded;  // the copy belongs to the capture, not to replays
             Tensor t = source.clone();
             if (requires_grad) t.set_requires_grad(true);
             return t;
           }),
           py::arg("data"), py::arg("dtype") = py::none(), py::arg("requires_grad") = false,
           "Copies `data` into a new tensor.")
      .def_buffer([](Tensor& t) {
        // A device tensor has no host memory to share: np.asarray(t) must not read device
        // pointers. PyTorch's answer, in PyTorch's words.
        FASTNN_CHECK(t.device().kind == DeviceKind::CPU, Type, "can't convert ",
                     t.device().name(), " tensor to numpy: use .numpy() or .cpu(), which copy "
                     "it to host memory first");
        note_host_read();
        std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end()), strides(shape.size());
        py::ssize_t stride = static_cast<py::ssize_t>(dtype_size(t.dtype()));
        for (size_t i = shape.size(); i-- > 0;) {
          strides[i] = stride;
          stride *= shape[i];
        }
        std::string format = t.dtype() == DType::Float32   ? py::format_descriptor<float>::format()
                             : t.dtype() == DType::Float64 ? py::format_descriptor<double>::format()
                             : t.dtype() == DType::Int32   ? py::format_descriptor<int32_t>::format()
                             : t.dtype() == DType::Bool    ? py::format_descriptor<bool>::format()
                                                           : py::format_descriptor<int64_t>::format();
        return py::buffer_info(t.raw(), dtype_size(t.dtype()), format, t.dim(), shape, strides);
      })
      .def_property_readonly("shape", [](const Tensor& t) { return shape_tuple(t.shape()); })
      .def_property_readonly("ndim", &Tensor::dim)
      .def_property_readonly("dtype", [](const Tensor& t) { return dtype_name(t.dtype()); })
      .def_property_readonly("device", [](const Tensor& t) { return t.device().name(); })
      .def("numel", &Tensor::numel)
      .def("numpy", &numpy_view,
           "A numpy array of this tensor's values: sharing its memory on the CPU, a copy "
           "from a device.")
      .def(
          "to_device",
          [](const Tensor& t, const std::string& device) { return t.to(device_from_name(device)); },
          py::arg("device"),
          "The same values on `device` (this tensor when already there); not differentiable.")
      .def(
          "_move_to_",
          [](Tensor& t, const std::string& device) { t.move_to(device_from_name(device)); },
          py::arg("device"), "Moves the values to `device` in place (model.to).")
      .def_property("requires_grad", &Tensor::requires_grad, &Tensor::set_requires_grad)
      .def_property(
          "grad",
          [](const Tensor& t) { return tensor_or_none(t.grad()); },
          [](Tensor& t, const py::object& g) {
            t.set_grad(g.is_none() ? Tensor() : g.cast<Tensor>());
          })
      .def_property_readonly("grad_fn",
                             [](const Tensor& t) -> py::object {
                               if (!t.grad_fn()) return py::none();
                               return py::str(t.grad_fn()->name());
                             })
      .def_property_readonly("is_leaf", &Tensor::is_leaf)
      .def_property("name", &Tensor::name, &Tensor::set_name)
      .def("detach", &Tensor::detach, "Same data, cut from the graph.")
      .def_property(
          "data", &Tensor::alias,
          [](Tensor& t, const Tensor& other) { set_data(t, other); },
          "The same memory with no autograd history and a version counter of its own "
          "(PyTorch's .data); assigning replaces this tensor's data with another's.")
      .def_property_readonly("_version", &Tensor::version,
                             "How many in-place modifications the storage has seen.")
      .def("clone_data", &Tensor::clone, "A copy of the data with no autograd history.")
      .def(
          "backward",
          [](const Tensor& t, const py::object& gradient, bool retain_graph) {
            Tensor g;
            if (!gradient.is_none()) g = gradient.cast<Tensor>();
            // No Python runs in the backward pass: other Python threads may run meanwhile.
            py::gil_scoped_release release;
            backward(t, g, retain_graph);
          },
          py::arg("gradient") = py::none(), py::arg("retain_graph") = false,
          "Accumulates d(self)/d(leaf) into .grad of every leaf that requires grad.")
      .def("_same_storage", &Tensor::same_storage);

  m.def(
      "from_numpy",
      [](const py::array& a, const py::object& dtype) {
        std::optional<DType> dt;
        if (!dtype.is_none()) dt = parse_dtype(dtype);
        return tensor_from_numpy(a, dt, "from_numpy");
      },
      py::arg("array"), py::arg("dtype") = py::none(),
      "A tensor over the array's memory where the layout allows, else over a converted copy.");
  m.def(
      "all_finite",
      [](const Tensor& t) {
        check_float(t, "all_finite", "tensor");
        return backend_of(t).all_finite(t);
      },
      py::arg("tensor"),
      "Whether every element of a float tensor is finite (no NaN, no inf).");
  m.def(
      "empty",
      [](const py::object& shape, const py::object& dtype, const std::string& device) {
        return Tensor::empty(shape_from_python(shape, "empty"), parse_dtype(dtype),
                             device_from_name(device));
      },
      py::arg("shape"), py::arg("dtype") = "float32", py::arg("device") = "cpu",
      "An uninitialised tensor (for buffers that are filled at once).");
  m.def(
      "full",
      [](const py::object& shape, double value, const py::object& dtype,
         const std::string& device) {
        CaptureSuspend unrecorded;
        return Tensor::full(shape_from_python(shape, "full"), value, parse_dtype(dtype),
                            device_from_name(device));
      },
      py::arg("shape"), py::arg("value"), py::arg("dtype") = "float32",
      py::arg("device") = "cpu");
}

}  // namespace fastnn::python
