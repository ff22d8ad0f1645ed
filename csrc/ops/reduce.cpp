// Reductions of the tensor API: max/min with and without a dim, argmax/argmin, variance,
// products, and torch.gather / scatter_add (the gradient of max along a dim is a scatter).
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/launch.h"
#include "ops/tensor_ops.h"

namespace fastnn {
namespace {

// Shape with `axis` set to 1 (kept) and without it (squeezed).
struct ReducedShapes {
  Shape kept, squeezed;
};
ReducedShapes reduced_shapes(const Shape& s, int64_t axis) {
  ReducedShapes r{s, {}};
  r.kept[axis] = 1;
  for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d)
    if (d != axis) r.squeezed.push_back(s[d]);
  return r;
}

int64_t normalize_axis(int64_t axis, int64_t dim, const char* who) {
  // A 0-d tensor takes dim 0 or -1, as in torch.
  const int64_t n = std::max<int64_t>(dim, 1);
  FASTNN_CHECK(axis >= -n && axis < n, Index, who, ": dim ", axis,
               " is out of range for a tensor with ", dim, " dimensions (expected in [", -n, ", ",
               n - 1, "])");
  return axis < 0 ? axis + n : axis;
}

Tensor int64_index(const Tensor& index, const char* who) {
  check_defined(index, who, "index");
  FASTNN_CHECK(index.dtype() == DType::Int64 || index.dtype() == DType::Int32, Type, who,
               ": expected an int64 index, got ", dtype_name(index.dtype()));
  if (index.dtype() == DType::Int64) return index;
  Tensor out = Tensor::empty(index.shape(), DType::Int64, index.device());
  FASTNN_LAUNCH(backend_of(index), cast, index, out);
  return out;
}

}  // namespace

ValuesIndices max_min_dim(bool is_max, const Tensor& x_in, int64_t axis_in, bool keepdim) {
  const char* who = is_max ? "max" : "min";
  check_defined(x_in, who, "input");
  FASTNN_CHECK(x_in.dtype() != DType::Bool, Type, who, ": not supported for bool tensors");
  const int64_t axis = normalize_axis(axis_in, x_in.dim(), who);
  const Tensor x = x_in.dim() == 0 ? x_in.view({1}) : x_in;
  FASTNN_CHECK(x.shape()[axis] > 0, Index, who, ": expected reduction dim ", axis,
               " to have non-zero size, got shape ", shape_str(x.shape()));
  ReducedShapes shapes = reduced_shapes(x.shape(), axis);
  Tensor values = Tensor::empty(shapes.kept, x.dtype(), x.device());
  Tensor indices = Tensor::empty(shapes.kept, DType::Int64, x.device());
  FASTNN_LAUNCH(backend_of(x), arg_reduce, is_max, x, axis, values, indices);
  const Shape& out_shape = x_in.dim() == 0 ? Shape{} : (keepdim ? shapes.kept : shapes.squeezed);
  ValuesIndices out{values.view(out_shape), indices.view(out_shape)};
  if (!needs_grad({&x_in})) return out;
  record(who, out.values, {x_in},
         [xshape = x.shape(), in_shape = x_in.shape(), kept = shapes.kept, axis,
          index = indices](const Tensor& gy, const std::vector<bool>&) {
           Tensor gx = Tensor::zeros(xshape, gy.dtype(), gy.device());
           FASTNN_LAUNCH(backend_of(gy), scatter_add_axis, gy.view(kept), index, axis, gx);
           return std::vector<Tensor>{gx.view(in_shape)};
         });
  return out;
}

Tensor max_min_all(bool is_max, const Tensor& x) {
  const char* who = is_max ? "max" : "min";
  check_defined(x, who, "input");
  FASTNN_CHECK(x.dtype() != DType::Bool, Type, who, ": not supported for bool tensors");
  FASTNN_CHECK(x.numel() > 0, Runtime, who, "(): expected a non-empty tensor (there is no ", who,
               " of no elements), got shape ", shape_str(x.shape()), "; pass dim= for a "
               "reduction along one axis");
  Tensor flat = x.view({x.numel()});
  Tensor value = Tensor::empty({1}, x.dtype(), x.device());
  Tensor index = Tensor::empty({1}, DType::Int64, x.device());
  FASTNN_LAUNCH(backend_of(x), arg_reduce, is_max, flat, int64_t(0), value, index);
  Tensor out = value.view({});
  if (!needs_grad({&x})) return out;
  // torch's evenly_distribute_backward: every element equal to the result (NaN matching
  // NaN) gets gy / count.
  record(who, out, {x}, [x = x.detach(), value = value.view(Shape(x.dim(), 1))](
                            const Tensor& gy, const std::vector<bool>&) {
    Tensor mask = compare(CompareOp::Eq, x, value);
    Tensor x_nan = compare(CompareOp::Ne, x, x);
    Tensor value_nan = compare(CompareOp::Ne, value, value);
    mask = binary(BinaryOp::BitOr, mask, binary(BinaryOp::BitAnd, x_nan, value_nan));
    Tensor weights = to_dtype(mask, gy.dtype());
    Tensor count = sum(weights, {}, false);
    Tensor share = binary(BinaryOp::Div, gy, count);
    return std::vector<Tensor>{binary(BinaryOp::Mul, weights, share)};
  });
  mark_saved(out, {x});
  return out;
}

Tensor arg_max_min(bool is_max, const Tensor& x_in, int64_t axis_in, bool flat, bool keepdim) {
  const char* who = is_max ? "argmax" : "argmin";
  check_defined(x_in, who, "input");
  FASTNN_CHECK(x_in.dtype() != DType::Bool, Type, who, ": not supported for bool tensors");
  if (flat) {
    FASTNN_CHECK(x_in.numel() > 0, Runtime, who, "(): expected a non-empty tensor, got shape ",
                 shape_str(x_in.shape()));
    Tensor index = Tensor::empty({1}, DType::Int64, x_in.device()), no_values;
    FASTNN_LAUNCH(backend_of(x_in), arg_reduce, is_max, x_in.view({x_in.numel()}), int64_t(0),
                  no_values, index);
    return keepdim ? index.view(Shape(x_in.dim(), 1)) : index.view({});
  }
  const int64_t axis = normalize_axis(axis_in, x_in.dim(), who);
  const Tensor x = x_in.dim() == 0 ? x_in.view({1}) : x_in;
  FASTNN_CHECK(x.shape()[axis] > 0, Index, who, ": expected reduction dim ", axis,
               " to have non-zero size, got shape ", shape_str(x.shape()));
  ReducedShapes shapes = reduced_shapes(x.shape(), axis);
  Tensor indices = Tensor::empty(shapes.kept, DType::Int64, x.device()), no_values;
  FASTNN_LAUNCH(backend_of(x), arg_reduce, is_max, x, axis, no_values, indices);
  return indices.view(x_in.dim() == 0 ? Shape{} : (keepdim ? shapes.kept : shapes.squeezed));
}

Tensor variance(const Tensor& x, const std::vector<int64_t>& axes_in, double correction,
                bool keepdim) {
  const char* who = "var";
  check_defined(x, who, "input");
  FASTNN_CHECK(is_floating(x.dtype()), Type, who,
               ": expected a float32 or float64 tensor, got ", dtype_name(x.dtype()));
  std::vector<int64_t> axes = normalize_axes(axes_in, x.dim(), who);
  int64_t count = 1;
  for (int64_t a : axes) count *= x.shape()[a];
  // Composed of recorded ops, so the gradient (2 (x - mean) / (N - correction)) is theirs.
  Tensor centered = binary(BinaryOp::Sub, x, mean(x, axes, true));
  Tensor squares = binary(BinaryOp::Mul, centered, centered);
  const double dof = std::max(0.0, static_cast<double>(count) - correction);
  // With no degrees of freedom torch gives inf or NaN (x / 0), and so does this.
  const double alpha = dof > 0 ? 1.0 / dof : std::numeric_limits<double>::infinity();
  return scale(sum(squares, axes, keepdim), alpha);
}

Tensor prod(const Tensor& x_in, int64_t axis_in, bool flat, bool keepdim) {
  const char* who = "prod";
  check_defined(x_in, who, "input");
  Tensor x = x_in;
  if (!is_floating(x.dtype()) && x.dtype() != DType::Int64) {  // int32, bool: int64, as torch
    x = Tensor::empty(x_in.shape(), DType::Int64, x_in.device());
    FASTNN_LAUNCH(backend_of(x_in), cast, x_in, x);
  }
  int64_t axis = 0;
  Tensor source = x;
  if (flat) {
    source = x.view({x.numel()});
  } else {
    axis = normalize_axis(axis_in, x.dim(), who);
    if (x.dim() == 0) source = x.view({1});
  }
  ReducedShapes shapes = reduced_shapes(source.shape(), axis);
  Tensor out = Tensor::empty(shapes.kept, x.dtype(), x.device());
  FASTNN_LAUNCH(backend_of(x), prod_axis, source, axis, out);
  Shape out_shape;
  if (flat) {
    out_shape = keepdim ? Shape(x.dim(), 1) : Shape{};
  } else if (x.dim() > 0) {
    out_shape = keepdim ? shapes.kept : shapes.squeezed;
  }
  out = out.view(out_shape);
  if (!needs_grad({&x_in})) return out;
  record(who, out, {x_in},
         [source = source.detach(), kept = shapes.kept, axis, in_shape = x_in.shape()](
             const Tensor& gy, const std::vector<bool>&) {
           Tensor gx = Tensor::empty(source.shape(), gy.dtype(), gy.device());
           FASTNN_LAUNCH(backend_of(gy), prod_backward_axis, source, gy.view(kept), axis, gx);
           return std::vector<Tensor>{gx.view(in_shape)};
         });
  mark_saved(out, {x_in});
  return out;
}

namespace {

// Checks the index of gather/scatter_add against x (the tensor indexed along axis).
void check_axis_index(const Tensor& x, int64_t axis, const Tensor& index, const Shape& like,
                      const char* who, const char* like_name) {
  check_same_device(x, index, who, "index");
  FASTNN_CHECK(index.dim() == x.dim(), Value, who, ": expected an index with ", x.dim(),
               " dimensions like the input, got shape ", shape_str(index.shape()));
  for (int64_t d = 0; d < x.dim(); ++d)
    FASTNN_CHECK(d == axis || index.shape()[d] == like[d], Value, who, ": expected the index (",
                 shape_str(index.shape()), ") to match ", like_name, " (", shape_str(like),
                 ") in every dim but ", axis);
  const int64_t limit = x.dim() ? x.shape()[axis] : 1;
  int64_t bad = backend_of(index).find_index_out_of_range(index, limit);
  FASTNN_CHECK(bad < 0, Index, who, ": index ", element_text(index, bad), " at position ", bad,
               " is out of range for dim ", axis, " of size ", limit);
}

}  // namespace

Tensor gather(const Tensor& x_in, int64_t axis_in, const Tensor& index_in) {
  const char* who = "gather";
  check_defined(x_in, who, "input");
  Tensor index = int64_index(index_in, who);
  const int64_t axis = normalize_axis(axis_in, x_in.dim(), who);
  const Tensor x = x_in.dim() == 0 ? x_in.view({1}) : x_in;
  const Tensor idx = index.dim() == 0 ? index.view({1}) : index;
  check_axis_index(x, axis, idx, x.shape(), who, "the input");
  Tensor out = Tensor::empty(idx.shape(), x.dtype(), x.device());
  FASTNN_LAUNCH(backend_of(x), gather_axis, x, idx, axis, out);
  out = out.view(index.shape());
  if (!needs_grad({&x_in})) return out;
  record(who, out, {x_in},
         [xshape = x.shape(), in_shape = x_in.shape(), idx, axis](const Tensor& gy,
                                                                  const std::vector<bool>&) {
           Tensor gx = Tensor::zeros(xshape, gy.dtype(), gy.device());
           FASTNN_LAUNCH(backend_of(gy), scatter_add_axis, gy.view(idx.shape()), idx, axis, gx);
           return std::vector<Tensor>{gx.view(in_shape)};
         });
  mark_saved(out, {index});
  return out;
}

Tensor scatter_add(const Tensor& x, int64_t axis_in, const Tensor& index_in, const Tensor& src) {
  const char* who = "scatter_add";
  check_defined(x, who, "input");
  check_defined(src, who, "src");
  check_same_dtype(x, src, who, "src");
  check_same_device(x, src, who, "src");
  FASTNN_CHECK(x.dim() >= 1, Value, who, ": expected an input with at least one dimension");
  Tensor index = int64_index(index_in, who);
  const int64_t axis = normalize_axis(axis_in, x.dim(), who);
  FASTNN_CHECK(src.shape() == index.shape(), Value, who, ": expected src of the index's shape ",
               shape_str(index.shape()), ", got ", shape_str(src.shape()));
  check_axis_index(x, axis, index, x.shape(), who, "the input");
  Tensor out = x.clone();
  FASTNN_LAUNCH(backend_of(x), scatter_add_axis, src, index, axis, out);
  if (!needs_grad({&x, &src})) return out;
  record(who, out, {x, src}, [index, axis](const Tensor& gy, const std::vector<bool>& needs) {
    std::vector<Tensor> grads(2);
    if (needs[0]) grads[0] = gy;
    if (needs[1]) {
      grads[1] = Tensor::empty(index.shape(), gy.dtype(), gy.device());
      FASTNN_LAUNCH(backend_of(gy), gather_axis, gy, index, axis, grads[1]);
    }
    return grads;
  });
  mark_saved(out, {index});
  return out;
}

}  // namespace fastnn
