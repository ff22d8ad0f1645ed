// The tensor API's ops (ops/tensor_ops.h): names to enums, Python shapes to layouts, and
// forwarding. python/fastnn/tensor_ops.py and tensor_index.py build PyTorch's methods on
// these.
#include <pybind11/stl.h>

#include <limits>
#include <optional>

#include "autograd/plan.h"
#include "ops/tensor_ops.h"
#include "python/convert.h"
#include "python/shape_arg.h"

namespace fastnn::python {

namespace {

BinaryOp binary_op_from_name(const std::string& name) {
  static const std::pair<const char*, BinaryOp> names[] = {
      {"add", BinaryOp::Add},          {"sub", BinaryOp::Sub},
      {"mul", BinaryOp::Mul},          {"div", BinaryOp::Div},
      {"pow", BinaryOp::Pow},          {"maximum", BinaryOp::Maximum},
      {"minimum", BinaryOp::Minimum},  {"floor_divide", BinaryOp::FloorDivide},
      {"remainder", BinaryOp::Remainder}, {"bitwise_and", BinaryOp::BitAnd},
      {"bitwise_or", BinaryOp::BitOr}, {"bitwise_xor", BinaryOp::BitXor}};
  for (const auto& [n, op] : names)
    if (name == n) return op;
  fail(ErrorKind::Value, "binary: unknown op '", name, "'");
}

CompareOp compare_op_from_name(const std::string& name) {
  static const std::pair<const char*, CompareOp> names[] = {
      {"eq", CompareOp::Eq}, {"ne", CompareOp::Ne}, {"lt", CompareOp::Lt},
      {"le", CompareOp::Le}, {"gt", CompareOp::Gt}, {"ge", CompareOp::Ge}};
  for (const auto& [n, op] : names)
    if (name == n) return op;
  fail(ErrorKind::Value, "compare: unknown op '", name, "'");
}

UnaryOp unary_op_from_name(const std::string& name) {
  for (int i = 0; i <= static_cast<int>(UnaryOp::Square); ++i) {
    UnaryOp op = static_cast<UnaryOp>(i);
    if (name == unary_name(op)) return op;
  }
  fail(ErrorKind::Value, "unary: unknown op '", name, "'");
}

StridedLayout layout_from(const py::object& shape, const py::object& strides, int64_t offset,
                          const char* who) {
  Shape s = shape_from_python(shape, who);
  std::vector<int64_t> st = py::cast<std::vector<int64_t>>(strides);
  FASTNN_CHECK(s.size() == st.size() && s.size() <= 16, Value, who,
               ": expected as many strides as sizes (at most 16), got ", s.size(), " and ",
               st.size());
  StridedLayout L;
  L.dims = static_cast<int>(s.size());
  for (size_t d = 0; d < s.size(); ++d) {
    L.shape[d] = s[d];
    L.stride[d] = st[d];
  }
  L.offset = offset;
  return L;
}

double bound(const std::optional<double>& b, double none) {
  return b ? *b : none;
}

}  // namespace

void bind_tensor_ops(py::module_& m) {
  m.def(
      "binary",
      [](const std::string& op, const Tensor& a, const Tensor& b) {
        return binary(binary_op_from_name(op), a, b);
      },
      py::arg("op"), py::arg("a"), py::arg("b"),
      "a op b with broadcasting (a and b of one dtype): add, sub, mul, div, pow, maximum, "
      "minimum, floor_divide, remainder, bitwise_and/or/xor.");
  // The fast paths of the operators: a tensor and a Python number, which becomes a 0-d
  // tensor of the tensor's dtype (a constant of a captured step, as _C.full's).
  m.def(
      "binary_scalar",
      [](const std::string& op, const Tensor& a, double value, bool reverse) {
        Tensor s;
        {
          CaptureSuspend unrecorded;
          s = Tensor::full({}, value, a.dtype(), a.device());
        }
        BinaryOp o = binary_op_from_name(op);
        return reverse ? binary(o, s, a) : binary(o, a, s);
      },
      py::arg("op"), py::arg("a"), py::arg("value"), py::arg("reverse") = false);
  m.def(
      "compare_scalar",
      [](const std::string& op, const Tensor& a, double value, bool reverse) {
        Tensor s;
        {
          CaptureSuspend unrecorded;
          s = Tensor::full({}, value, a.dtype(), a.device());
        }
        CompareOp o = compare_op_from_name(op);
        return reverse ? compare(o, s, a) : compare(o, a, s);
      },
      py::arg("op"), py::arg("a"), py::arg("value"), py::arg("reverse") = false);
  m.def(
      "select",
      [](const Tensor& x, int64_t index) {
        FASTNN_CHECK(x.dim() >= 1, Index,
                     "invalid index of a 0-d tensor; use .item() to read its value");
        const int64_t n = x.shape()[0];
        FASTNN_CHECK(index >= -n && index < n, Index, "index ", index,
                     " is out of range for dim 0 of size ", n);
        if (index < 0) index += n;
        Shape rest(x.shape().begin() + 1, x.shape().end());
        return view_range(x, index * shape_numel(rest), rest);
      },
      py::arg("x"), py::arg("index"), "x[index] along the first axis: a view.");
  m.def(
      "compare",
      [](const std::string& op, const Tensor& a, const Tensor& b) {
        return compare(compare_op_from_name(op), a, b);
      },
      py::arg("op"), py::arg("a"), py::arg("b"), "A bool tensor: a op b (eq, ne, lt, le, gt, ge).");
  m.def(
      "unary",
      [](const std::string& op, const Tensor& x) { return unary(unary_op_from_name(op), x); },
      py::arg("op"), py::arg("x"));
  m.def(
      "clamp",
      [](const Tensor& x, std::optional<double> low, std::optional<double> high) {
        const double inf = std::numeric_limits<double>::infinity();
        return clamp(x, bound(low, -inf), bound(high, inf));
      },
      py::arg("x"), py::arg("min") = py::none(), py::arg("max") = py::none());
  m.def("bmm", &bmm, py::arg("input"), py::arg("mat2"));
  m.def("where", &where, py::arg("condition"), py::arg("input"), py::arg("other"));

  m.def(
      "max_dim",
      [](const Tensor& x, int64_t dim, bool keepdim, bool is_max) {
        ValuesIndices r = max_min_dim(is_max, x, dim, keepdim);
        return py::make_tuple(r.values, r.indices);
      },
      py::arg("x"), py::arg("dim"), py::arg("keepdim") = false, py::arg("is_max") = true,
      "(values, indices) of the max (or min) along dim.");
  m.def("max_all", [](const Tensor& x, bool is_max) { return max_min_all(is_max, x); },
        py::arg("x"), py::arg("is_max") = true);
  m.def(
      "argmax",
      [](const Tensor& x, std::optional<int64_t> dim, bool keepdim, bool is_max) {
        return arg_max_min(is_max, x, dim.value_or(0), !dim.has_value(), keepdim);
      },
      py::arg("x"), py::arg("dim") = py::none(), py::arg("keepdim") = false,
      py::arg("is_max") = true);
  m.def("var", &variance, py::arg("x"), py::arg("dims") = std::vector<int64_t>{},
        py::arg("correction") = 1.0, py::arg("keepdim") = false);
  m.def(
      "prod",
      [](const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
        return prod(x, dim.value_or(0), !dim.has_value(), keepdim);
      },
      py::arg("x"), py::arg("dim") = py::none(), py::arg("keepdim") = false);
  m.def("gather", &gather, py::arg("x"), py::arg("dim"), py::arg("index"));
  m.def("scatter_add", &scatter_add, py::arg("x"), py::arg("dim"), py::arg("index"),
        py::arg("src"));

  m.def(
      "strided",
      [](const Tensor& x, const py::object& shape, const py::object& strides, int64_t offset) {
        return strided(x, layout_from(shape, strides, offset, "index"), "index");
      },
      py::arg("x"), py::arg("shape"), py::arg("strides"), py::arg("offset"),
      "A copy of the elements at offset + sum(i_d * strides[d]) (element units), shaped `shape`.");
  m.def("permute", &permute, py::arg("x"), py::arg("dims"));
  m.def("permute_deferred", &permute_deferred, py::arg("x"), py::arg("dims"));
  m.def(
      "permute_source",
      [](const Tensor& x, const std::vector<int64_t>& dims) {
        return tensor_or_none(permute_source(x, dims));
      },
      py::arg("x"), py::arg("dims"));
  m.def("is_deferred", [](const Tensor& x) { return x.storage()->pending != nullptr; },
        py::arg("x"));
  m.def(
      "expand",
      [](const Tensor& x, const py::object& shape) {
        return expand(x, shape_from_python(shape, "expand"));
      },
      py::arg("x"), py::arg("shape"));
  m.def(
      "view_range",
      [](const Tensor& x, int64_t offset, const py::object& shape) {
        return view_range(x, offset, shape_from_python(shape, "view"));
      },
      py::arg("x"), py::arg("offset"), py::arg("shape"));
  m.def("take_flat", &take_flat, py::arg("x"), py::arg("index"));
  m.def(
      "strided_put",
      [](const Tensor& x, const py::object& shape, const py::object& strides, int64_t offset,
         const Tensor& values) {
        return strided_put(x, layout_from(shape, strides, offset, "setitem"), values);
      },
      py::arg("x"), py::arg("shape"), py::arg("strides"), py::arg("offset"), py::arg("values"));
  m.def("index_put_flat", &index_put_flat, py::arg("x"), py::arg("index"), py::arg("values"));
  m.def(
      "strided_write_",
      [](Tensor& x, const py::object& shape, const py::object& strides, int64_t offset,
         const Tensor& values) {
        strided_write_(x, layout_from(shape, strides, offset, "setitem"), values);
      },
      py::arg("x"), py::arg("shape"), py::arg("strides"), py::arg("offset"), py::arg("values"));
  m.def("index_write_flat_", &index_write_flat_, py::arg("x"), py::arg("index"),
        py::arg("values"));
  m.def(
      "arange",
      [](int64_t n, double start, double step, const py::object& dtype, const std::string& device) {
        return arange(n, start, step, parse_dtype(dtype), device_from_name(device));
      },
      py::arg("n"), py::arg("start"), py::arg("step"), py::arg("dtype"),
      py::arg("device") = "cpu");

  m.def(
      "binary_",
      [](const std::string& op, Tensor& self, const py::object& other) {
        BinaryOp o = binary_op_from_name(op);
        if (py::isinstance<Tensor>(other)) return binary_inplace(o, self, other.cast<Tensor>());
        Tensor s;  // a Python number, as a 0-d tensor of self's dtype
        {
          CaptureSuspend unrecorded;
          s = Tensor::full({}, other.cast<double>(), self.dtype(), self.device());
        }
        return binary_inplace(o, self, s);
      },
      py::arg("op"), py::arg("self"), py::arg("other"),
      "self op= other in place when nothing is recorded (see ops/tensor_ops.h); False when "
      "the general path must run.");
  m.def(
      "inplace_begin",
      [](const Tensor& self, const std::vector<Tensor>& others, const std::string& who) {
        return inplace_begin(self, others, who.c_str());
      },
      py::arg("self"), py::arg("others"), py::arg("who"));
  m.def(
      "inplace_commit",
      [](Tensor& self, const Tensor& old, const Tensor& result, const std::string& who,
         bool overwrite) { inplace_commit(self, old, result, who.c_str(), overwrite); },
      py::arg("self"), py::arg("old"), py::arg("result"), py::arg("who"),
      py::arg("overwrite") = false);
}

}  // namespace fastnn::python
