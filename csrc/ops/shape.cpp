// Shape ops: reshape and flatten are views; concat, row slicing and row gathers move data.
#include "ops/ops.h"
#include "ops/tensor_ops.h"

#include <algorithm>

#include <sstream>

#include "core/launch.h"

namespace fastnn {

Tensor reshape(const Tensor& x, Shape shape) {
  check_defined(x, "reshape", "x");
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      FASTNN_CHECK(infer < 0, Value, "reshape: only one dimension can be -1, got ",
                   shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else {
      FASTNN_CHECK(shape[i] >= 0, Value, "reshape: expected sizes >= 0 or one -1, got ",
                   shape_str(shape));
      FASTNN_CHECK(!__builtin_mul_overflow(known, shape[i], &known), Value,
                   "reshape: cannot reshape ", shape_str(x.shape()), " into ", shape_str(shape),
                   ", whose size overflows int64");
    }
  }
  if (infer >= 0) {
    FASTNN_CHECK(known > 0 && x.numel() % known == 0, Value, "reshape: cannot reshape ",
                 shape_str(x.shape()), " (", x.numel(), " elements) into ", shape_str(shape));
    shape[infer] = x.numel() / known;
  }
  Tensor y = x.view(shape);  // raises on an element-count mismatch
  mark_view_of(y, x, 0);
  if (!needs_grad({&x})) return y;
  record("reshape", y, {x}, [xshape = x.shape()](const Tensor& gy, const std::vector<bool>&) {
    return std::vector<Tensor>{gy.view(xshape)};
  });
  return y;
}

Tensor flatten(const Tensor& x) {
  check_defined(x, "Flatten", "inputs");
  FASTNN_CHECK(x.dim() >= 1, Value, "Flatten: expected inputs with a batch axis, got a scalar");
  // The product of the trailing sizes, not numel / n: an empty batch keeps its row size.
  return reshape(x, {x.shape()[0], shape_numel(Shape(x.shape().begin() + 1, x.shape().end()))});
}

Tensor concat(const std::vector<Tensor>& inputs, int64_t axis) {
  const char* who = "concat";
  FASTNN_CHECK(!inputs.empty(), Value, who, ": expected at least one tensor, got none");
  const Tensor& first = inputs[0];
  check_defined(first, who, "tensors[0]");
  int64_t dim = first.dim();
  int64_t ax = axis < 0 ? axis + dim : axis;
  FASTNN_CHECK(dim >= 1 && ax >= 0 && ax < dim, Index, who, ": axis ", axis,
               " is out of range for tensors with ", dim, " dimensions");
  Shape out_shape = first.shape();
  out_shape[ax] = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    std::string arg = "tensors[" + std::to_string(i) + "]";
    check_defined(t, who, arg.c_str());
    check_same_dtype(first, t, who, arg.c_str());
    check_same_device(first, t, who, arg.c_str());
    bool ok = t.dim() == dim;
    for (int64_t d = 0; ok && d < dim; ++d) ok = d == ax || t.shape()[d] == first.shape()[d];
    FASTNN_CHECK(ok, Value, who, ": expected ", arg, " to match ", shape_str(first.shape()),
                 " except on axis ", ax, ", got ", shape_str(t.shape()));
    out_shape[ax] += t.shape()[ax];
  }
  Tensor out = Tensor::empty(out_shape, first.dtype(), first.device());
  FASTNN_LAUNCH(backend_of(first), concat, inputs, ax, out);
  if (!needs_grad(inputs)) return out;
  std::vector<Shape> shapes;
  for (const Tensor& t : inputs) shapes.push_back(t.shape());
  record(who, out, inputs, [shapes, ax](const Tensor& gy, const std::vector<bool>& needs) {
    std::vector<Tensor> grads(shapes.size());
    int64_t at = 0;
    for (size_t i = 0; i < shapes.size(); ++i) {
      if (needs[i]) {
        grads[i] = Tensor::empty(shapes[i], gy.dtype(), gy.device());
        FASTNN_LAUNCH(backend_of(gy), slice_axis, gy, ax, at, grads[i]);
      }
      at += shapes[i][ax];
    }
    return grads;
  });
  return out;
}

Tensor slice_rows(const Tensor& x, int64_t begin, int64_t end) {
  check_defined(x, "slice", "x");
  Tensor y = x.rows(begin, end);
  mark_view_of(y, x, x.dim() ? begin * (x.numel() / std::max<int64_t>(x.shape()[0], 1)) : 0);
  if (!needs_grad({&x})) return y;
  record("slice", y, {x},
         [xshape = x.shape(), begin, end](const Tensor& gy, const std::vector<bool>&) {
           Tensor gx = Tensor::zeros(xshape, gy.dtype(), gy.device());
           Tensor dst = gx.rows(begin, end);
           FASTNN_LAUNCH(backend_of(gy), copy, gy, dst);
           return std::vector<Tensor>{gx};
         });
  return y;
}

Tensor take_rows(const Tensor& x, const Tensor& index) {
  const char* who = "take_rows";
  check_defined(x, who, "x");
  check_defined(index, who, "index");
  FASTNN_CHECK(x.dim() >= 1, Index, who, ": cannot index a 0-d tensor");
  FASTNN_CHECK(index.dtype() == DType::Int32 || index.dtype() == DType::Int64, Type, who,
               ": expected an int32 or int64 index, got ", dtype_name(index.dtype()));
  check_same_device(x, index, who, "index");
  int64_t bad = backend_of(index).find_index_out_of_range(index, x.shape()[0]);
  FASTNN_CHECK(bad < 0, Index, who, ": index at position ", bad,
               " is out of range for a first axis of size ", x.shape()[0]);
  Shape out_shape = index.shape();
  out_shape.insert(out_shape.end(), x.shape().begin() + 1, x.shape().end());
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  FASTNN_LAUNCH(backend_of(x), take_rows, x, index, out);
  if (!needs_grad({&x})) return out;
  record(who, out, {x}, [xshape = x.shape(), index](const Tensor& gy, const std::vector<bool>&) {
    Tensor gx = Tensor::zeros(xshape, gy.dtype(), gy.device());
    FASTNN_LAUNCH(backend_of(gy), scatter_add_rows, gy, index, gx);
    return std::vector<Tensor>{gx};
  });
  return out;
}

namespace {
// "[n, t]" for a position in ids of `shape`, as numpy would index it.
std::string position_in(int64_t flat, const Shape& shape) {
  std::string out;
  for (size_t a = shape.size(); a-- > 0;) {
    int64_t size = std::max<int64_t>(shape[a], 1);
    out = std::to_string(flat % size) + (out.empty() ? "" : ", ") + out;
    flat /= size;
  }
  return "[" + out + "]";
}

// Runs `launches` with kernel errors attributed to `source` (error_source_id): the fill
// launches are recorded too, so a replayed gather names the layer as well.
template <class F>
void reporting_as(int64_t source, Device device, F&& launches) {
  Tensor& current = kernel_error_source(device);
  FASTNN_LAUNCH(backend_for(device), fill, current, static_cast<double>(source));
  launches();
  FASTNN_LAUNCH(backend_for(device), fill, current, 0.0);
}
}  // namespace

std::string element_text(const Tensor& t, int64_t i) {
  // Copied to the host through a cast; integers stay integers (as a double, 1234567 would
  // print as 1.23457e+06).
  const bool integral = !is_floating(t.dtype());
  Tensor value = Tensor::empty({1}, integral ? DType::Int64 : DType::Float64);
  FASTNN_LAUNCH(backend_of(t), cast, t.view({t.numel()}).rows(i, i + 1), value);
  if (integral) return std::to_string(value.data<int64_t>()[0]);
  std::ostringstream text;
  text << value.data<double>()[0];
  return text.str();
}

Tensor embedding(const Tensor& weights, const Tensor& ids, const std::string& who_name) {
  const char* who = who_name.c_str();
  check_defined(weights, who, "embeddings");
  check_defined(ids, who, "ids");
  FASTNN_CHECK(weights.dim() == 2 && is_floating(weights.dtype()), Value, who,
               ": expected float embeddings of shape (input_dim, output_dim), got ",
               dtype_name(weights.dtype()), " of shape ", shape_str(weights.shape()));
  check_same_device(weights, ids, who, "ids");
  const int64_t limit = weights.size(0);
  int64_t bad = backend_of(ids).find_index_out_of_range(ids, limit);
  if (bad >= 0) {
    fail(ErrorKind::Index, who, ": id ", element_text(ids, bad), " at ids",
         position_in(bad, ids.shape()),
         " is not an integer in [0, ", limit, ") (input_dim ", limit, ")");
  }
  Tensor index = ids;
  if (is_floating(ids.dtype()) || ids.dtype() == DType::Bool) {  // Keras casts integral float ids
    index = Tensor::empty(ids.shape(), DType::Int64, ids.device());
    FASTNN_LAUNCH(backend_of(ids), cast, ids, index);
  }
  Shape out_shape = ids.shape();
  out_shape.push_back(weights.size(1));
  Tensor out = Tensor::empty(out_shape, weights.dtype(), weights.device());
  const int64_t source = error_source_id(who_name);
  reporting_as(source, weights.device(),
               [&] { FASTNN_LAUNCH(backend_of(weights), take_rows, weights, index, out); });
  if (!needs_grad({&weights})) return out;
  record("embedding", out, {weights},
         [wshape = weights.shape(), index, source](const Tensor& gy, const std::vector<bool>&) {
           Tensor gw = Tensor::zeros(wshape, gy.dtype(), gy.device());
           // Serial in id order (the kernel's contract): repeated ids add up the same way
           // every time.
           reporting_as(source, gy.device(), [&] {
             FASTNN_LAUNCH(backend_of(gy), scatter_add_rows, gy, index, gw);
           });
           return std::vector<Tensor>{gw};
         });
  return out;
}

Tensor to_dtype(const Tensor& x, DType dtype) {
  check_defined(x, "to", "x");
  if (x.dtype() == dtype) return x;
  Tensor y = Tensor::empty(x.shape(), dtype, x.device());
  FASTNN_LAUNCH(backend_of(x), cast, x, y);
  if (!needs_grad({&x}) || !is_floating(dtype)) return y;
  record("to", y, {x}, [from = x.dtype()](const Tensor& gy, const std::vector<bool>&) {
    return std::vector<Tensor>{to_dtype(gy, from)};
  });
  return y;
}

}  // namespace fastnn
