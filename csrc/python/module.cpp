// fastnn._C: the compiled module. Each bind_* file converts arguments and forwards to the
// core; the Keras- and PyTorch-style APIs are Python (python/fastnn).
#include "core/error.h"
#include "python/convert.h"

namespace fastnn::python {
void bind_tensor(py::module_& m);
void bind_ops(py::module_& m);
void bind_tensor_ops(py::module_& m);
void bind_optim(py::module_& m);
void bind_system(py::module_& m);
void bind_plan(py::module_& m);
}  // namespace fastnn::python

namespace py = pybind11;

PYBIND11_MODULE(_C, m) {
  using namespace fastnn;
  m.doc() = "fastnn's C++ core";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      PyObject* type = PyExc_RuntimeError;
      switch (e.kind()) {
        case ErrorKind::Value:
          type = PyExc_ValueError;
          break;
        case ErrorKind::Type:
          type = PyExc_TypeError;
          break;
        case ErrorKind::Index:
          type = PyExc_IndexError;
          break;
        case ErrorKind::Memory:
          type = PyExc_MemoryError;
          break;
        case ErrorKind::Runtime:
          type = PyExc_RuntimeError;
          break;
      }
      PyErr_SetString(type, e.what());
    } catch (const std::bad_alloc&) {
      PyErr_SetString(PyExc_MemoryError, "out of memory");
    }
  });
  python::bind_tensor(m);
  python::bind_ops(m);
  python::bind_tensor_ops(m);
  python::bind_optim(m);
  python::bind_system(m);
  python::bind_plan(m);
}
