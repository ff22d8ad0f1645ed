// Comparisons, unary math, clamp and where (torch's semantics and gradients).
#include <cmath>
#include <limits>

#include "core/launch.h"
#include "ops/tensor_ops.h"

namespace fastnn {

const char* compare_name(CompareOp op) {
  switch (op) {
    case CompareOp::Eq:
      return "eq";
    case CompareOp::Ne:
      return "ne";
    case CompareOp::Lt:
      return "lt";
    case CompareOp::Le:
      return "le";
    case CompareOp::Gt:
      return "gt";
    case CompareOp::Ge:
      return "ge";
  }
  return "?";
}

const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg:
      return "neg";
    case UnaryOp::Abs:
      return "abs";
    case UnaryOp::Sign:
      return "sign";
    case UnaryOp::Floor:
      return "floor";
    case UnaryOp::Ceil:
      return "ceil";
    case UnaryOp::Round:
      return "round";
    case UnaryOp::Trunc:
      return "trunc";
    case UnaryOp::BitNot:
      return "bitwise_not";
    case UnaryOp::Exp:
      return "exp";
    case UnaryOp::Log:
      return "log";
    case UnaryOp::Log2:
      return "log2";
    case UnaryOp::Log10:
      return "log10";
    case UnaryOp::Log1p:
      return "log1p";
    case UnaryOp::Expm1:
      return "expm1";
    case UnaryOp::Sqrt:
      return "sqrt";
    case UnaryOp::Rsqrt:
      return "rsqrt";
    case UnaryOp::Reciprocal:
      return "reciprocal";
    case UnaryOp::Sin:
      return "sin";
    case UnaryOp::Cos:
      return "cos";
    case UnaryOp::Square:
      return "square";
  }
  return "?";
}

Tensor compare(CompareOp op, const Tensor& a, const Tensor& b) {
  const char* who = compare_name(op);
  check_defined(a, who, "a");
  check_defined(b, who, "b");
  check_same_dtype(a, b, who, "other");
  check_same_device(a, b, who, "other");
  Shape out_shape = broadcast_shapes(a.shape(), b.shape(), who);
  Tensor out = Tensor::empty(out_shape, DType::Bool, a.device());
  const size_t n = out_shape.size();
  FASTNN_LAUNCH(backend_of(a), compare, op, a.view(pad_left(a.shape(), n)),
                b.view(pad_left(b.shape(), n)), out);
  return out;  // not differentiable (torch's comparisons give no gradient)
}

namespace {

// Which operand the derivative of op reads: the output, the input, or neither.
enum class Reads { Output, Input, Nothing };
Reads grad_reads(UnaryOp op) {
  switch (op) {
    case UnaryOp::Exp:
    case UnaryOp::Expm1:
    case UnaryOp::Sqrt:
    case UnaryOp::Rsqrt:
    case UnaryOp::Reciprocal:
      return Reads::Output;
    case UnaryOp::Abs:
    case UnaryOp::Log:
    case UnaryOp::Log2:
    case UnaryOp::Log10:
    case UnaryOp::Log1p:
    case UnaryOp::Sin:
    case UnaryOp::Cos:
    case UnaryOp::Square:
      return Reads::Input;
    default:
      return Reads::Nothing;
  }
}

}  // namespace

Tensor unary(UnaryOp op, const Tensor& x) {
  const char* who = unary_name(op);
  check_defined(x, who, "input");
  const bool any_dtype = op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Sign ||
                         op == UnaryOp::Floor || op == UnaryOp::Ceil || op == UnaryOp::Round ||
                         op == UnaryOp::Trunc;
  if (op == UnaryOp::BitNot) {
    FASTNN_CHECK(!is_floating(x.dtype()), Type, who, ": expected an integer or bool tensor, got ",
                 dtype_name(x.dtype()));
  } else if (!any_dtype) {
    FASTNN_CHECK(is_floating(x.dtype()), Type, who, ": expected a float32 or float64 tensor, got ",
                 dtype_name(x.dtype()));
  }
  FASTNN_CHECK(!(op == UnaryOp::Neg && x.dtype() == DType::Bool), Type, who,
               ": negation of a bool tensor is not supported; use ~ or logical_not()");
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  FASTNN_LAUNCH(backend_of(x), unary_forward, op, x, out);
  if (!needs_grad({&x})) return out;
  const Reads reads = grad_reads(op);
  Tensor saved_x = reads == Reads::Input ? x.detach() : Tensor();
  Tensor saved_y = reads == Reads::Output ? out.detach() : Tensor();
  record(who, out, {x}, [op, saved_x, saved_y](const Tensor& gy, const std::vector<bool>&) {
    Tensor gx = Tensor::empty(gy.shape(), gy.dtype(), gy.device());
    if (op == UnaryOp::Neg) {
      FASTNN_LAUNCH(backend_of(gy), axpby, -1.0, gy, 0.0, gx);
    } else {
      FASTNN_LAUNCH(backend_of(gy), unary_backward, op, saved_x, saved_y, gy, gx);
    }
    return std::vector<Tensor>{gx};
  });
  if (reads == Reads::Input) mark_saved(out, {x});
  if (reads == Reads::Output) mark_saved(out, {out});
  return out;
}

Tensor clamp(const Tensor& x, double low, double high) {
  const char* who = "clamp";
  check_defined(x, who, "input");
  FASTNN_CHECK(x.dtype() != DType::Bool, Type, who, ": not supported for bool tensors");
  FASTNN_CHECK(!std::isnan(low) && !std::isnan(high), Value, who,
               ": expected bounds that are numbers, got NaN");
  if (is_integral(x.dtype())) {
    for (double bound : {low, high})
      FASTNN_CHECK(std::isinf(bound) || bound == std::floor(bound), Type, who,
                   ": an integer tensor takes integer bounds, got ", bound,
                   " (convert the tensor with .float())");
  }
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  FASTNN_LAUNCH(backend_of(x), clamp_forward, x, low, high, out);
  if (!needs_grad({&x})) return out;
  record(who, out, {x}, [x = x.detach(), low, high](const Tensor& gy, const std::vector<bool>&) {
    Tensor gx = Tensor::empty(gy.shape(), gy.dtype(), gy.device());
    FASTNN_LAUNCH(backend_of(gy), clamp_backward, x, low, high, gy, gx);
    return std::vector<Tensor>{gx};
  });
  mark_saved(out, {x});
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  const char* who = "where";
  check_defined(cond, who, "condition");
  check_defined(a, who, "input");
  check_defined(b, who, "other");
  FASTNN_CHECK(cond.dtype() == DType::Bool, Type, who, ": expected a bool condition, got ",
               dtype_name(cond.dtype()));
  check_same_dtype(a, b, who, "other");
  check_same_device(a, b, who, "other");
  check_same_device(a, cond, who, "condition");
  Shape out_shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), who), b.shape(), who);
  const size_t n = out_shape.size();
  Backend& be = backend_of(a);
  // The kernel reads the condition at out's own positions: broadcast it first (one byte
  // per element) unless it already has out's shape.
  Tensor full_cond = cond;
  if (cond.shape() != out_shape) {
    full_cond = Tensor::empty(out_shape, DType::Bool, a.device());
    FASTNN_LAUNCH(be, strided_copy, cond, expand_layout(cond.shape(), out_shape), full_cond);
  }
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  FASTNN_LAUNCH(be, where, full_cond, a.view(pad_left(a.shape(), n)),
                b.view(pad_left(b.shape(), n)), out);
  if (!needs_grad({&a, &b})) return out;
  record(who, out, {Tensor(), a, b},
         [full_cond, ashape = a.shape(), bshape = b.shape()](const Tensor& gy,
                                                              const std::vector<bool>& needs) {
           std::vector<Tensor> grads(3);
           Backend& be = backend_of(gy);
           const Tensor zero = Tensor::zeros(Shape(gy.dim(), 1), gy.dtype(), gy.device());
           if (needs[1]) {
             Tensor g = Tensor::empty(gy.shape(), gy.dtype(), gy.device());
             FASTNN_LAUNCH(be, where, full_cond, gy, zero, g);
             grads[1] = reduce_to_shape(g, ashape);
           }
           if (needs[2]) {
             Tensor g = Tensor::empty(gy.shape(), gy.dtype(), gy.device());
             FASTNN_LAUNCH(be, where, full_cond, zero, gy, g);
             grads[2] = reduce_to_shape(g, bshape);
           }
           return grads;
         });
  mark_saved(out, {cond});
  return out;
}

}  // namespace fastnn
