// Losses: per-sample values from the backend's loss kernel, then the reduction.
// pred (..., C); per-sample loss (...). Reduction mean averages over all samples (Keras's
// sum_over_batch_size), sum adds them, none returns them.
#include "ops/ops.h"
#include "core/launch.h"

namespace fastnn {

Reduction reduction_from_name(const std::string& name, const char* who) {
  if (name == "mean" || name == "sum_over_batch_size" || name == "auto") return Reduction::Mean;
  if (name == "sum") return Reduction::Sum;
  if (name == "none" || name.empty()) return Reduction::None;
  fail(ErrorKind::Value, who, ": unknown reduction '", name, "'; expected 'mean', 'sum' or 'none'");
}

LossKind loss_kind_from_name(const std::string& name, bool from_logits, const char* who) {
  if (name == "mean_squared_error" || name == "mse") return LossKind::MeanSquared;
  if (name == "mean_absolute_error" || name == "mae") return LossKind::MeanAbsolute;
  if (name == "binary_crossentropy")
    return from_logits ? LossKind::BinaryCrossentropyLogits : LossKind::BinaryCrossentropy;
  if (name == "categorical_crossentropy")
    return from_logits ? LossKind::CategoricalCrossentropyLogits
                       : LossKind::CategoricalCrossentropy;
  if (name == "sparse_categorical_crossentropy")
    return from_logits ? LossKind::SparseCategoricalCrossentropyLogits
                       : LossKind::SparseCategoricalCrossentropy;
  fail(ErrorKind::Value, who, ": unknown loss '", name,
       "'; expected mean_squared_error (mse), mean_absolute_error (mae), binary_crossentropy, "
       "categorical_crossentropy or sparse_categorical_crossentropy");
}

namespace {

bool is_sparse(LossKind k) {
  return k == LossKind::SparseCategoricalCrossentropy ||
         k == LossKind::SparseCategoricalCrossentropyLogits;
}
bool is_categorical(LossKind k) {
  return k == LossKind::CategoricalCrossentropy || k == LossKind::CategoricalCrossentropyLogits ||
         is_sparse(k);
}

// The target as the kernel expects it: pred's shape and dtype for elementwise and one-hot
// losses, pred's shape without the class axis for sparse labels.
Tensor checked_target(LossKind kind, const Tensor& pred, const Tensor& target, const char* who) {
  check_defined(target, who, "y_true");
  check_same_device(pred, target, who, "y_true");
  const Shape& ps = pred.shape();
  Shape rows(ps.begin(), ps.end() - 1);
  if (is_sparse(kind)) {
    Shape ts = target.shape();
    if (ts.size() == rows.size() + 1 && ts.back() == 1) ts.pop_back();
    FASTNN_CHECK(
        ts == rows, Value, who, ": expected integer labels y_true of shape ", shape_str(rows),
        " for predictions of shape ", shape_str(ps), ", got ", shape_str(target.shape()),
        ts.size() == ps.size() && ts == ps ? " (one-hot targets need CategoricalCrossentropy)"
                                           : "");
    int64_t C = ps.back();
    int64_t bad = backend_of(target).find_index_out_of_range(target, C);
    if (bad >= 0) {
      fail(ErrorKind::Index, who, ": labels must be integers in [0, ", C,
           ") for predictions with ", C, " classes; the label at position ", bad, " is ",
           element_text(target, bad));
    }
    return target.view(rows);
  }
  Shape ts = target.shape();
  // A (N,) target against (N, 1) predictions is the usual binary / regression layout.
  if (ts.size() + 1 == ps.size() && ps.back() == 1 && ts == rows) ts.push_back(1);
  FASTNN_CHECK(ts == ps, Value, who, ": expected y_true of shape ", shape_str(ps),
               " like the predictions, got ", shape_str(target.shape()),
               is_categorical(kind) && target.dim() + 1 == pred.dim()
                   ? " (integer labels need SparseCategoricalCrossentropy)"
                   : "");
  Tensor t = target.view(ps);
  return t.dtype() == pred.dtype() ? t : to_dtype(t.detach(), pred.dtype());
}

}  // namespace

Tensor loss(LossKind kind, const Tensor& pred_in, const Tensor& target_in, Reduction reduction,
            const char* who) {
  check_float(pred_in, who, "y_pred");
  check_nonempty(pred_in, who, "y_pred");
  // (N,) predictions are N samples of one output, as (N, 1).
  Tensor pred = pred_in.dim() == 1 ? reshape(pred_in, {pred_in.shape()[0], 1}) : pred_in;
  FASTNN_CHECK(pred_in.dim() >= 2 || !is_categorical(kind), Value, who,
               ": expected predictions of shape (batch, classes), got ",
               shape_str(pred_in.shape()));
  FASTNN_CHECK(pred.dim() >= 1, Value, who,
               ": expected predictions with a batch axis, got a scalar");
  Tensor target = checked_target(kind, pred, target_in, who);
  Backend& be = backend_of(pred);
  Shape rows(pred.shape().begin(), pred.shape().end() - 1);
  Tensor per_sample = Tensor::empty(rows, pred.dtype(), pred.device());
  FASTNN_LAUNCH(be, loss_forward, kind, pred, target, per_sample);

  Tensor out;
  double alpha = 1.0;
  if (reduction == Reduction::None) {
    out = per_sample;
  } else {
    out = Tensor::empty({}, pred.dtype(), pred.device());
    FASTNN_LAUNCH(be, sum_to, per_sample, out);
    if (reduction == Reduction::Mean) {
      alpha = 1.0 / static_cast<double>(per_sample.numel());
      FASTNN_LAUNCH(be, axpby, alpha, out, 0.0, out);
    }
  }
  // Non-finite predictions are refused even when clipping keeps the loss finite (an inf
  // probability): their gradient would not be.
  bool pred_ok = be.all_finite(pred);
  if (!pred_ok || !be.all_finite(out)) {
    fail(ErrorKind::Value, who, ": the loss is NaN or infinite because ",
         !pred_ok ? "the predictions y_pred contain NaN or inf"
                  : (is_floating(target.dtype()) && !be.all_finite(target)
                         ? "the targets y_true contain NaN or inf"
                         : "the predictions are out of the loss's range"),
         " (shape ", shape_str(pred_in.shape()), ")");
  }
  if (!needs_grad({&pred})) return out;
  record(who, out, {pred},
         [kind, reduction, alpha, p = pred.detach(), t = target.detach(), rows](
             const Tensor& gy, const std::vector<bool>&) {
           Backend& be = backend_of(gy);
           Tensor gloss = gy;
           if (reduction != Reduction::None) {
             gloss = Tensor::empty(rows, gy.dtype(), gy.device());
             Shape ones(rows.size(), 1);
             FASTNN_LAUNCH(be, broadcast_to, gy.view(ones), alpha, gloss);
           }
           Tensor gp = Tensor::empty(p.shape(), p.dtype(), p.device());
           FASTNN_LAUNCH(be, loss_backward, kind, p, t, gloss, gp);
           return std::vector<Tensor>{gp};
         });
  return out;
}

Tensor index_cross_entropy(const Tensor& x, const Tensor& target, const Tensor& weight,
                           int64_t ignore_index, double smoothing, Reduction reduction,
                           const char* who) {
  check_float(x, who, "input");
  FASTNN_CHECK(x.dim() == 2 && x.size(1) > 0, Value, who,
               ": expected logits of shape (rows, classes), got ", shape_str(x.shape()));
  check_defined(target, who, "target");
  check_same_device(x, target, who, "target");
  FASTNN_CHECK(target.dtype() == DType::Int64 || target.dtype() == DType::Int32, Type, who,
               ": expected class indices (int64) as target, got ", dtype_name(target.dtype()));
  FASTNN_CHECK(target.dim() == 1 && target.size(0) == x.size(0), Value, who,
               ": expected a target of shape (", x.size(0), ",) for input of shape ",
               shape_str(x.shape()), ", got ", shape_str(target.shape()));
  const int64_t C = x.size(1);
  if (weight.defined()) {
    check_float_like(weight, x, who, "weight");
    FASTNN_CHECK(weight.dim() == 1 && weight.size(0) == C, Value, who,
                 ": expected a weight of shape (", C, ",), one per class, got ",
                 shape_str(weight.shape()));
  }
  FASTNN_CHECK(smoothing >= 0 && smoothing <= 1, Value, who,
               ": expected label_smoothing in [0, 1], got ", smoothing);
  Backend& be = backend_of(x);
  // Labels in host memory are checked here (ignore_index aside). A device's, and a replay's,
  // are checked by the kernel, which reports them to check_kernel_errors: reading them here
  // would wait for the device at every step.
  if (target.device().kind == DeviceKind::CPU) {
    int64_t bad = -1;
    for (int64_t r = 0; r < target.numel() && bad < 0; ++r) {
      const int64_t y = target.dtype() == DType::Int64 ? target.data<int64_t>()[r]
                                                        : target.data<int32_t>()[r];
      if (y != ignore_index && (y < 0 || y >= C)) bad = r;
    }
    if (bad >= 0)
      fail(ErrorKind::Index, who, ": Target ", element_text(target, bad),
           " is out of bounds: expected class indices in [0, ", C, ") or ignore_index=",
           ignore_index, " (at position ", bad, ")");
  }
  const int64_t R = x.size(0);
  Tensor w = weight.defined() ? weight.detach() : Tensor();
  Tensor per_row = Tensor::empty({R}, x.dtype(), x.device());
  Tensor row_weight = Tensor::empty({R}, x.dtype(), x.device());
  FASTNN_LAUNCH(be, index_crossentropy_forward, x, target, w, ignore_index, smoothing, per_row,
                row_weight);
  if (needs_grad({&x})) {
    record(who, per_row, {x},
           [p = x.detach(), t = target.detach(), w, ignore_index, smoothing](
               const Tensor& gy, const std::vector<bool>&) {
             Tensor gx = Tensor::empty(p.shape(), p.dtype(), p.device());
             FASTNN_LAUNCH(backend_of(gy), index_crossentropy_backward, p, t, w, ignore_index,
                           smoothing, gy, gx);
             return std::vector<Tensor>{gx};
           });
  }
  switch (reduction) {
    case Reduction::None:
      return per_row;
    case Reduction::Sum:
      return sum(per_row, {}, false);
    case Reduction::Mean:
      break;
  }
  return binary(BinaryOp::Div, sum(per_row, {}, false), sum(row_weight, {}, false));
}

}  // namespace fastnn
