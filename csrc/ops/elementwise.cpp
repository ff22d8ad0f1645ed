// Broadcasting arithmetic and reductions.
#include <algorithm>

#include "ops/ops.h"
#include "ops/tensor_ops.h"
#include "core/launch.h"

namespace fastnn {

namespace {

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add:
      return "add";
    case BinaryOp::Sub:
      return "sub";
    case BinaryOp::Mul:
      return "mul";
    case BinaryOp::Div:
      return "div";
    case BinaryOp::Pow:
      return "pow";
    case BinaryOp::Maximum:
      return "maximum";
    case BinaryOp::Minimum:
      return "minimum";
    case BinaryOp::FloorDivide:
      return "floor_divide";
    case BinaryOp::Remainder:
      return "remainder";
    case BinaryOp::BitAnd:
      return "bitwise_and";
    case BinaryOp::BitOr:
      return "bitwise_or";
    case BinaryOp::BitXor:
      return "bitwise_xor";
  }
  return "?";
}


}  // namespace

bool binary_takes(BinaryOp op, DType t) {
  switch (op) {
    case BinaryOp::Add:
    case BinaryOp::Mul:
    case BinaryOp::Maximum:
    case BinaryOp::Minimum:
      return true;
    case BinaryOp::Sub:
    case BinaryOp::Pow:
    case BinaryOp::FloorDivide:
    case BinaryOp::Remainder:
      return t != DType::Bool;
    case BinaryOp::Div:
      return is_floating(t);
    case BinaryOp::BitAnd:
    case BinaryOp::BitOr:
    case BinaryOp::BitXor:
      return !is_floating(t);
  }
  return false;
}

Shape pad_left(const Shape& s, size_t n) {
  Shape out(n - s.size(), 1);
  out.insert(out.end(), s.begin(), s.end());
  return out;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* who) {
  size_t n = std::max(a.size(), b.size());
  Shape pa = pad_left(a, n), pb = pad_left(b, n), out(n);
  for (size_t i = 0; i < n; ++i) {
    FASTNN_CHECK(pa[i] == pb[i] || pa[i] == 1 || pb[i] == 1, Value, who, ": shapes ", shape_str(a),
                 " and ", shape_str(b), " cannot be broadcast together");
    out[i] = pa[i] == 1 ? pb[i] : pa[i];
  }
  return out;
}

// Sums g (of the broadcast shape) back to `shape`, the shape of an operand.
Tensor reduce_to_shape(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  Shape padded = pad_left(shape, g.shape().size());
  Tensor out = Tensor::empty(padded, g.dtype(), g.device());
  FASTNN_LAUNCH(backend_of(g), sum_to, g, out);
  return out.view(shape);
}

namespace {

Tensor binary_raw(BinaryOp op, const Tensor& a, const Tensor& b, const Shape& out_shape) {
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  size_t n = out_shape.size();
  FASTNN_LAUNCH(backend_of(a), binary_forward, op, a.view(pad_left(a.shape(), n)), b.view(pad_left(b.shape(), n)),
                               out);
  return out;
}

}  // namespace

std::vector<int64_t> normalize_axes(const std::vector<int64_t>& axes, int64_t dim,
                                    const char* who) {
  std::vector<int64_t> out;
  if (axes.empty()) {
    for (int64_t i = 0; i < dim; ++i) out.push_back(i);
    return out;
  }
  for (int64_t a : axes) {
    int64_t k = a < 0 ? a + dim : a;
    FASTNN_CHECK(k >= 0 && k < dim, Index, who, ": axis ", a, " is out of range for a tensor with ",
                 dim, " dimensions");
    FASTNN_CHECK(std::find(out.begin(), out.end(), k) == out.end(), Value, who, ": axis ", a,
                 " is repeated");
    out.push_back(k);
  }
  return out;
}

namespace {

// Sum (scaled by `alpha`) over `axes`; backward broadcasts the gradient back, times alpha.
Tensor reduce_sum(const Tensor& x, const std::vector<int64_t>& axes_in, bool keepdims, bool average,
                  const char* who) {
  check_defined(x, who, "x");
  if (!is_floating(x.dtype()) && !average) {
    // Integer and bool sums are exact int64 sums (as torch's), one axis at a time.
    std::vector<int64_t> axes = normalize_axes(axes_in, x.dim(), who);
    std::sort(axes.rbegin(), axes.rend());
    Tensor total = x.dim() == 0 ? x.view({1}) : x;
    if (x.dim() == 0) axes = {0};
    for (int64_t a : axes) {
      Shape kept = total.shape();
      kept[a] = 1;
      Tensor next = Tensor::empty(kept, DType::Int64, x.device());
      FASTNN_LAUNCH(backend_of(x), int_sum_axis, total, a, next);
      total = next;
    }
    if (total.dtype() != DType::Int64) {  // no axes to sum over (x with no dims)
      Tensor copy = Tensor::empty(total.shape(), DType::Int64, x.device());
      FASTNN_LAUNCH(backend_of(x), cast, total, copy);
      total = copy;
    }
    Shape out_shape;
    for (int64_t d = 0; d < x.dim(); ++d) {
      if (std::find(axes.begin(), axes.end(), d) == axes.end())
        out_shape.push_back(x.shape()[d]);
      else if (keepdims)
        out_shape.push_back(1);
    }
    return total.view(out_shape);
  }
  FASTNN_CHECK(is_floating(x.dtype()), Type, who, ": could not infer the output dtype: expected a "
               "float32 or float64 tensor, got ", dtype_name(x.dtype()), " (convert with .float())");
  std::vector<int64_t> axes = normalize_axes(axes_in, x.dim(), who);
  Shape kept = x.shape(), squeezed;
  int64_t count = 1;
  for (int64_t a : axes) {
    count *= kept[a];
    kept[a] = 1;
  }
  for (int64_t i = 0; i < x.dim(); ++i)
    if (std::find(axes.begin(), axes.end(), i) == axes.end()) squeezed.push_back(x.shape()[i]);
  if (average)
    FASTNN_CHECK(count > 0, Value, who, ": mean over an empty axis of shape ",
                 shape_str(x.shape()));
  double alpha = average ? 1.0 / static_cast<double>(count) : 1.0;
  Backend& be = backend_of(x);
  Tensor out = Tensor::empty(kept, x.dtype(), x.device());
  if (x.numel() == 0) {
    FASTNN_LAUNCH(be, fill, out, 0.0);
  } else {
    FASTNN_LAUNCH(be, sum_to, x.view(x.dim() == 0 ? Shape{1} : x.shape()), out);
  }
  if (average) FASTNN_LAUNCH(be, axpby, alpha, out, 0.0, out);
  out = out.view(keepdims ? kept : squeezed);
  if (!needs_grad({&x})) return out;
  record(who, out, {x},
         [xshape = x.shape(), kept, alpha](const Tensor& gy, const std::vector<bool>&) {
           Tensor gx = Tensor::empty(xshape, gy.dtype(), gy.device());
           if (gx.numel() > 0) FASTNN_LAUNCH(backend_of(gy), broadcast_to, gy.view(kept), alpha, gx);
           return std::vector<Tensor>{gx};
         });
  return out;
}

}  // namespace

// out = a op b.   add: ga = gy, gb = gy;   sub: gb = -gy;   mul: ga = gy*b, gb = gy*a;
// div: ga = gy/b, gb = -gy*out/b;  pow, maximum, minimum: the binary_backward kernel;
// remainder: ga = gy, gb = -gy*floor_divide(a, b); each then summed back over the broadcast
// axes. floor_divide and the bit ops have no gradient (torch's: not differentiable).
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* who = binary_name(op);
  check_defined(a, who, "a");
  check_defined(b, who, "b");
  check_same_dtype(a, b, who, "b");
  check_same_device(a, b, who, "b");
  FASTNN_CHECK(binary_takes(op, a.dtype()), Type, who, ": not supported for ",
               dtype_name(a.dtype()), " tensors",
               op == BinaryOp::Div ? " (true division gives floats: convert with .float())" : "");
  Shape out_shape = broadcast_shapes(a.shape(), b.shape(), who);
  Tensor out = binary_raw(op, a, b, out_shape);
  if (!needs_grad({&a, &b})) return out;
  if (op == BinaryOp::FloorDivide) {
    // As torch: the result is part of the graph, and a backward through it raises.
    record(who, out, {a, b}, [](const Tensor&, const std::vector<bool>&) -> std::vector<Tensor> {
      fail(ErrorKind::Runtime, "backward: the derivative for 'floor_divide' is not implemented "
           "(detach() its inputs)");
    });
    return out;
  }
  const bool keeps_out = op == BinaryOp::Div || op == BinaryOp::Pow;
  Tensor saved_out = keeps_out ? out.detach() : Tensor();
  record(who, out, {a, b},
         [op, a = a.detach(), b = b.detach(), saved_out](const Tensor& gy,
                                                         const std::vector<bool>& needs) {
           std::vector<Tensor> grads(2);
           const Shape& s = gy.shape();
           switch (op) {
             case BinaryOp::Add:
               if (needs[0]) grads[0] = reduce_to_shape(gy, a.shape());
               if (needs[1]) grads[1] = reduce_to_shape(gy, b.shape());
               break;
             case BinaryOp::Sub:
               if (needs[0]) grads[0] = reduce_to_shape(gy, a.shape());
               if (needs[1]) grads[1] = reduce_to_shape(scale(gy, -1.0), b.shape());
               break;
             case BinaryOp::Mul:
               if (needs[0])
                 grads[0] = reduce_to_shape(binary_raw(BinaryOp::Mul, gy, b, s), a.shape());
               if (needs[1])
                 grads[1] = reduce_to_shape(binary_raw(BinaryOp::Mul, gy, a, s), b.shape());
               break;
             case BinaryOp::Div:
               if (needs[0])
                 grads[0] = reduce_to_shape(binary_raw(BinaryOp::Div, gy, b, s), a.shape());
               if (needs[1]) {
                 Tensor t = binary_raw(BinaryOp::Mul, gy, saved_out, s);
                 t = binary_raw(BinaryOp::Div, t, b, s);
                 grads[1] = reduce_to_shape(scale(t, -1.0), b.shape());
               }
               break;
             case BinaryOp::Remainder:
               if (needs[0]) grads[0] = reduce_to_shape(gy, a.shape());
               if (needs[1]) {
                 Tensor q = binary_raw(BinaryOp::FloorDivide, a, b, s);
                 grads[1] = reduce_to_shape(scale(binary_raw(BinaryOp::Mul, gy, q, s), -1.0),
                                            b.shape());
               }
               break;
             default: {  // Pow, Maximum, Minimum
               Tensor ga = needs[0] ? Tensor::empty(s, gy.dtype(), gy.device()) : Tensor();
               Tensor gb = needs[1] ? Tensor::empty(s, gy.dtype(), gy.device()) : Tensor();
               size_t n = s.size();
               FASTNN_LAUNCH(backend_of(gy), binary_backward, op, a.view(pad_left(a.shape(), n)),
                             b.view(pad_left(b.shape(), n)), saved_out.defined() ? saved_out : gy,
                             gy, ga, gb);
               if (needs[0]) grads[0] = reduce_to_shape(ga, a.shape());
               if (needs[1]) grads[1] = reduce_to_shape(gb, b.shape());
               break;
             }
           }
           return grads;
         });
  // What the backward reads, for the in-place checks: the operands of mul/pow/max/min/
  // remainder, the divisor and the quotient of div.
  if (op == BinaryOp::Div) {
    mark_saved(out, {b, out});
  } else if (op != BinaryOp::Add && op != BinaryOp::Sub) {
    mark_saved(out, {a, b});
  }
  return out;
}

Tensor scale(const Tensor& x, double alpha) {
  check_float(x, "scale", "x");
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  FASTNN_LAUNCH(backend_of(x), axpby, alpha, x, 0.0, out);
  if (!needs_grad({&x})) return out;
  record("scale", out, {x}, [alpha](const Tensor& gy, const std::vector<bool>&) {
    return std::vector<Tensor>{scale(gy, alpha)};
  });
  return out;
}

Tensor sum(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  return reduce_sum(x, axes, keepdims, false, "sum");
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  return reduce_sum(x, axes, keepdims, true, "mean");
}

Tensor weight_penalty(const Tensor& w, double l1, double l2) {
  const char* who = "regularizer";
  check_float(w, who, "weight");
  FASTNN_CHECK(l1 >= 0 && l2 >= 0, Value, who, ": expected l1 >= 0 and l2 >= 0, got l1=", l1,
               " l2=", l2);
  Tensor out = Tensor::empty({}, w.dtype(), w.device());
  FASTNN_LAUNCH(backend_of(w), penalty_forward, w, l1, l2, out);
  if (!needs_grad({&w})) return out;
  record(who, out, {w}, [w = w.detach(), l1, l2](const Tensor& gy, const std::vector<bool>&) {
    Tensor gw = Tensor::empty(w.shape(), w.dtype(), w.device());
    FASTNN_LAUNCH(backend_of(w), penalty_backward, w, l1, l2, gy, gw);
    return std::vector<Tensor>{gw};
  });
  return out;
}

}  // namespace fastnn
