#include "python/convert.h"

#include <cstdint>

#include "autograd/plan.h"

namespace fastnn::python {

namespace {

std::optional<DType> dtype_of(const py::dtype& d) {
  if (d.is(py::dtype::of<float>())) return DType::Float32;
  if (d.is(py::dtype::of<double>())) return DType::Float64;
  if (d.is(py::dtype::of<int32_t>())) return DType::Int32;
  if (d.is(py::dtype::of<int64_t>())) return DType::Int64;
  if (d.is(py::dtype::of<bool>())) return DType::Bool;
  return std::nullopt;
}

py::dtype numpy_dtype(DType t) {
  switch (t) {
    case DType::Float32:
      return py::dtype::of<float>();
    case DType::Float64:
      return py::dtype::of<double>();
    case DType::Int32:
      return py::dtype::of<int32_t>();
    case DType::Int64:
      return py::dtype::of<int64_t>();
    case DType::Bool:
      return py::dtype::of<bool>();
  }
  return py::dtype::of<float>();
}

DType default_dtype(const py::dtype& d) {
  if (auto t = dtype_of(d)) return *t;
  char kind = d.kind();
  if (kind == 'f') return DType::Float32;
  if (kind == 'b') return DType::Bool;
  if (kind == 'i' || kind == 'u') return DType::Int64;
  throw py::type_error("fastnn: cannot make a tensor from a numpy array of dtype " +
                       py::str(d).cast<std::string>() + "; expected numbers");
}

}  // namespace

DType parse_dtype(const py::object& dtype) {
  if (py::isinstance<py::str>(dtype)) return dtype_from_name(dtype.cast<std::string>());
  py::dtype d = py::dtype::from_args(dtype);
  if (auto t = dtype_of(d)) return *t;
  throw py::type_error("dtype: expected float32, float64, int32, int64 or bool, got " +
                       py::str(d).cast<std::string>());
}

// What numpy's unsafe cast below would turn into garbage without an error: complex numbers
// (the imaginary part dropped), strings (parsed as numbers), and values an integer dtype
// cannot hold (NaN becomes INT_MIN, 2^63 wraps to -2^63).
static void check_convertible(const py::array& a, std::optional<DType> dtype, const char* who) {
  const char kind = a.dtype().kind();
  const std::string kinds = "biufO";
  FASTNN_CHECK(kinds.find(kind) != std::string::npos, Type, who,
               ": expected an array of real numbers, got dtype ", py::str(a.dtype()).cast<std::string>());
  const size_t item = static_cast<size_t>(a.itemsize());
  DType target = DType::Int64;  // the default for integer arrays other than int32
  if (dtype) {
    target = *dtype;
  } else if (kind == 'f' || kind == 'O' || (kind == 'i' && item == 4)) {
    return;
  }
  if (is_floating(target) || target == DType::Bool || a.size() == 0 || kind == 'b' || kind == 'O')
    return;
  if ((kind == 'i' && item <= dtype_size(target)) || (kind == 'u' && item < dtype_size(target)))
    return;  // every value fits
  py::module_ np = py::module_::import("numpy");
  if (kind == 'f')
    FASTNN_CHECK(np.attr("isfinite")(a).attr("all")().cast<bool>(), Value, who,
                 ": expected values that fit ", dtype_name(target), ", got NaN or inf");
  py::int_ high = py::int_(1).attr("__lshift__")(8 * dtype_size(target) - 1);  // 2^31 or 2^63
  py::object low = high.attr("__neg__")(), lo = a.attr("min")(), hi = a.attr("max")();
  FASTNN_CHECK(lo >= low && hi < high, Value, who, ": expected values that fit ",
               dtype_name(target), ", got values in [", py::str(lo).cast<std::string>(), ", ",
               py::str(hi).cast<std::string>(), "]");
}

Tensor tensor_from_numpy(const py::array& array_in, std::optional<DType> dtype, const char* who) {
  check_convertible(array_in, dtype, who);
  if (Plan* plan = capturing_plan())
    plan->refuse("it makes a tensor from numpy data inside the step (fn.tensor, a numpy array "
                 "passed to a layer or an op, in call/forward or in the loss), which a replay "
                 "would keep constant");
  DType target = dtype ? *dtype : default_dtype(array_in.dtype());
  // np.require returns the array itself when it is already C-contiguous, aligned and of
  // the target (native-endian) dtype, and a converted copy otherwise.
  py::object np = py::module_::import("numpy");
  py::array source = array_in;
  if (target == DType::Bool && array_in.dtype().kind() == 'O') {
    // numpy makes any object a bool (None is False): objects go through float64 first, as
    // to a float tensor (numbers convert, None is NaN, so True; anything else raises).
    source = np.attr("asarray")(array_in, py::dtype::of<double>());
  }
  py::array array = np.attr("require")(source, numpy_dtype(target), "CA");
  Shape shape(array.shape(), array.shape() + array.ndim());
  auto* owner = new py::object(array);
  std::shared_ptr<void> keep(owner, [](py::object* o) {
    py::gil_scoped_acquire gil;
    delete o;
  });
  return Tensor::borrow(const_cast<void*>(array.data()), shape, target, std::move(keep));
}

void note_host_read() {
  count_host_read();
  if (Plan* plan = capturing_plan())
    plan->refuse("it reads a tensor's values on the host inside the step (.item(), float(), "
                 "np.asarray(), .numpy() or printing a tensor), which a replay cannot repeat");
}

py::array numpy_view(const Tensor& t) {
  if (t.device().kind != DeviceKind::CPU) return numpy_view(t.to(Device{}));  // a host copy
  note_host_read();
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  std::vector<py::ssize_t> strides(shape.size());
  py::ssize_t stride = static_cast<py::ssize_t>(dtype_size(t.dtype()));
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  // The capsule owns a handle to the tensor's storage, so the array outlives the tensor.
  auto* keep = new std::shared_ptr<Storage>(t.storage());
  py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<Storage>*>(p); });
  return py::array(numpy_dtype(t.dtype()), shape, strides, t.raw(), base);
}

py::object tensor_or_none(const Tensor& t) {
  return t.defined() ? py::cast(t) : py::none();
}

}  // namespace fastnn::python
