// Shapes given from Python. Sizes are Python ints of any size: one beyond int64 is an
// overflowing size like any other and raises ValueError here, where pybind11's own
// conversion to std::vector<int64_t> would raise a TypeError about the function signature.
#pragma once

#include <pybind11/pybind11.h>

#include "core/tensor.h"

namespace fastnn::python {

inline Shape shape_from_python(const pybind11::handle& sizes, const char* who) {
  namespace py = pybind11;
  FASTNN_CHECK(py::isinstance<py::sequence>(sizes) && !py::isinstance<py::str>(sizes), Type, who,
               ": expected the shape as a sequence of ints, got ",
               py::str(py::type::of(sizes).attr("__name__")).cast<std::string>());
  Shape shape;
  for (py::handle size : sizes) {
    FASTNN_CHECK(PyIndex_Check(size.ptr()) && !PyBool_Check(size.ptr()), Type, who,
                 ": expected the sizes to be ints, got ",
                 py::str(py::type::of(size).attr("__name__")).cast<std::string>());
    int overflow = 0;
    py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(size.ptr()));
    if (!index) throw py::error_already_set();
    long long value = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
    FASTNN_CHECK(overflow == 0, Value, who, ": expected sizes below 2^63, got ",
                 py::str(index).cast<std::string>());
    shape.push_back(static_cast<int64_t>(value));
  }
  return shape;
}

}  // namespace fastnn::python
