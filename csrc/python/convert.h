// Conversions between numpy arrays and fastnn tensors, shared by the binding files.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <optional>

#include "core/tensor.h"

namespace fastnn::python {

namespace py = pybind11;

// A tensor over the array's memory when it is C-contiguous, aligned, native-endian and
// already of `dtype` (default: the array's own, with other float types as float32 and other
// integer types as int64); otherwise over a converted copy. The tensor keeps the array alive.
// Raises TypeError/ValueError naming `who` for arrays that would not convert faithfully
// (complex, strings, values an integer dtype cannot hold).
Tensor tensor_from_numpy(const py::array& array, std::optional<DType> dtype,
                         const char* who = "tensor");

// A numpy array that views the tensor's memory and keeps it alive (a host read).
py::array numpy_view(const Tensor& t);
// t as a Python object, None when undefined (an optional result: a grad, a state).
py::object tensor_or_none(const Tensor& t);
// Counts a host read of tensor data; inside a capture it makes the plan unreplayable.
void note_host_read();

DType parse_dtype(const py::object& dtype);  // "float32", np.float32, np.dtype(...)

}  // namespace fastnn::python
