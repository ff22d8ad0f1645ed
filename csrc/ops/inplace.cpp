// In-place ops with PyTorch's autograd rules. An in-place op computes its result out of
// place from `old` (inplace_begin), then inplace_commit writes it into self's memory and
// makes self the op's output in the graph:
//  - with grad mode on, a leaf that requires grad (or a view of one) cannot be modified;
//  - each write bumps the storage's version counter, so a backward that saved the old
//    values raises instead of using the new ones (Node::add_saved);
//  - when self views another tensor (reshape, x[i], x[a:b]), that base tensor's place in the
//    graph is updated as torch's CopySlices does: its gradient outside the view passes
//    through, inside it goes to the op's result; self becomes a view of the updated base.
#include "autograd/node.h"
#include "core/launch.h"
#include "ops/tensor_ops.h"

namespace fastnn {

namespace {

// A tensor of self's values (a copy when `copy`) that takes self's place in the graph.
Tensor stand_in(const Tensor& self, bool copy) {
  Tensor t = copy ? self.clone() : self.detach();
  TensorImpl* impl = t.impl();
  impl->requires_grad = self.requires_grad();
  impl->grad_fn = self.grad_fn();
  impl->output_nr = self.output_nr();
  if (self.is_leaf() && self.requires_grad()) {
    // Stands for a leaf only in errors checked before; never recorded as one.
    impl->requires_grad = false;
  }
  return t;
}

// The tensor self views (tracked by mark_view_of), or undefined.
Tensor base_of(const Tensor& self) {
  return Tensor(self.impl()->view_base);
}

int rank(DType t) {  // torch's category order: bool < integers < floats
  return t == DType::Bool ? 0 : is_floating(t) ? 2 : 1;
}

}  // namespace

Tensor inplace_begin(const Tensor& self, const std::vector<Tensor>& others, const char* who) {
  check_defined(self, who, "self");
  Tensor base = base_of(self);
  if (grad_enabled()) {
    FASTNN_CHECK(!(self.is_leaf() && self.requires_grad()), Runtime, who,
                 ": a leaf Variable that requires grad is being used in an in-place operation "
                 "(wrap it in `with fn.no_grad():`, or modify `.data`)");
    FASTNN_CHECK(!(base.defined() && base.is_leaf() && base.requires_grad()), Runtime, who,
                 ": a view of a leaf Variable that requires grad is being used in an in-place "
                 "operation (wrap it in `with fn.no_grad():`)");
  }
  bool recorded = grad_enabled() && (self.requires_grad() ||
                                     (base.defined() && base.requires_grad()) ||
                                     needs_grad(others));
  // The op's backward may read self's values from before the write: a copy keeps them.
  return recorded ? stand_in(self, true) : self;
}

void inplace_mark(const Tensor& self) {
  self.bump_version();
}

void inplace_commit(Tensor& self, const Tensor& old, const Tensor& result_in, const char* who,
                    bool overwrite) {
  check_defined(result_in, who, "result");
  FASTNN_CHECK(result_in.shape() == self.shape(), Runtime, who, ": output with shape ",
               shape_str(self.shape()), " doesn't match the broadcast shape ",
               shape_str(result_in.shape()));
  FASTNN_CHECK(rank(result_in.dtype()) <= rank(self.dtype()), Runtime, who, ": result type ",
               dtype_name(result_in.dtype()), " can't be cast to the desired output type ",
               dtype_name(self.dtype()));
  check_same_device(self, result_in, who, "result");
  Tensor result = to_dtype(result_in, self.dtype());
  Tensor base = base_of(self);
  const bool recording = grad_enabled() && (result.requires_grad() || self.requires_grad() ||
                                            (base.defined() && base.requires_grad()));
  if (recording && (overwrite || !result.requires_grad())) {
    // The result does not depend on the old values (fill_, zero_, copy_, or a constant):
    // they get a zero gradient, as torch's, and the result's own inputs theirs.
    Tensor written = result.detach();
    record(who, written, {old, result}, [](const Tensor& gy, const std::vector<bool>& needs) {
      std::vector<Tensor> grads(2);
      if (needs[0]) grads[0] = Tensor::zeros(gy.shape(), gy.dtype(), gy.device());
      if (needs[1]) grads[1] = gy;
      return grads;
    });
    result = written;
  }
  FASTNN_LAUNCH(backend_of(self), copy, result, self);
  self.bump_version();
  if (!recording) return;
  if (!base.defined()) {
    self.impl()->requires_grad = true;
    self.set_grad_fn(result.grad_fn(), result.output_nr());
    return;
  }
  // self views base's elements [offset, offset + n): base becomes "base with that range
  // replaced by result", and self a view of it.
  const int64_t offset = self.impl()->view_offset, n = self.numel();
  Tensor base_old = stand_in(base, false);
  Tensor base_handle = base;  // the same impl: record() updates base itself
  record("copy_slices", base_handle, {base_old, result},
         [offset, n, rshape = result.shape()](const Tensor& gy, const std::vector<bool>& needs) {
           std::vector<Tensor> grads(2);
           Tensor flat = gy.view({gy.numel()});
           if (needs[0]) {
             grads[0] = gy.clone();
             Tensor range = grads[0].view({gy.numel()}).rows(offset, offset + n);
             FASTNN_LAUNCH(backend_of(gy), fill, range, 0.0);
           }
           if (needs[1]) grads[1] = flat.rows(offset, offset + n).clone().view(rshape);
           return grads;
         });
  record("view", self, {base_handle},
         [bshape = base.shape(), offset, n](const Tensor& gy, const std::vector<bool>&) {
           Tensor gb = Tensor::zeros(bshape, gy.dtype(), gy.device());
           Tensor dst = gb.view({gb.numel()}).rows(offset, offset + n);
           FASTNN_LAUNCH(backend_of(gy), copy, gy, dst);
           return std::vector<Tensor>{gb};
         });
}

bool binary_inplace(BinaryOp op, Tensor& self, const Tensor& other) {
  if (!self.defined() || !other.defined() || self.dtype() != other.dtype() ||
      self.device() != other.device() || other.same_storage(self) ||
      !binary_takes(op, self.dtype()))
    return false;
  Tensor base = base_of(self);
  if (grad_enabled() &&
      (self.requires_grad() || other.requires_grad() || (base.defined() && base.requires_grad())))
    return false;  // recorded (or refused): the general path
  if (other.dim() > self.dim()) return false;
  for (int64_t i = 1; i <= other.dim(); ++i) {
    const int64_t o = other.shape()[other.dim() - i], s = self.shape()[self.dim() - i];
    if (o != s && o != 1) return false;  // does not broadcast to self: the general path says so
  }
  // Elementwise with out == a: each element is read before it is written.
  FASTNN_LAUNCH(backend_of(self), binary_forward, op, self,
                other.view(pad_left(other.shape(), self.dim())), self);
  self.bump_version();
  return true;
}

void set_data(Tensor& self, const Tensor& other) {
  check_defined(self, "data", "self");
  check_defined(other, "data", "value");
  TensorImpl* impl = self.impl();
  FASTNN_CHECK(!impl->requires_grad || is_floating(other.dtype()), Type,
               "data: a tensor that requires grad takes float data, got ",
               dtype_name(other.dtype()));
  impl->storage = other.impl()->storage;
  impl->offset = other.impl()->offset;
  impl->shape = other.shape();
  impl->dtype = other.dtype();
  impl->view_base = nullptr;
  impl->view_offset = 0;
}

}  // namespace fastnn
