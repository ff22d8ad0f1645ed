// Strided selections (permute, slices with steps, expand), views of contiguous ranges, and
// index reads and writes: what tensor indexing (python/fastnn/tensor_index.py) is made of.
// Every tensor is contiguous (core/tensor.h), so a selection that is not one contiguous
// range of memory is a copy; its gradient goes back to the selected positions.
#include <algorithm>

#include "core/launch.h"
#include "ops/tensor_ops.h"

namespace fastnn {

namespace {

// The selection stays inside x: its lowest and highest positions are elements of x.
void check_layout(const Tensor& x, const StridedLayout& L, const char* who) {
  FASTNN_CHECK(L.dims >= 0 && L.dims <= 16, Value, who, ": expected at most 16 dims, got ",
               L.dims);
  int64_t low = L.offset, high = L.offset;
  for (int d = 0; d < L.dims; ++d) {
    FASTNN_CHECK(L.shape[d] >= 0, Value, who, ": expected sizes >= 0, got ", L.shape[d]);
    if (L.shape[d] == 0) return;  // selects nothing
    const int64_t span = (L.shape[d] - 1) * L.stride[d];
    (span < 0 ? low : high) += span;
  }
  FASTNN_CHECK(low >= 0 && high < x.numel(), Index, who, ": the selection reaches elements [",
               low, ", ", high, "] of a tensor of ", x.numel(), " elements");
}

Shape contiguous_strides(const Shape& s) {
  Shape strides(s.size());
  int64_t stride = 1;
  for (size_t i = s.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= s[i];
  }
  return strides;
}

// The selection that reads a contiguous tensor of `shape` with its axes in the order of
// `dims` (a permutation).
StridedLayout permuted_layout(const Shape& shape, const std::vector<int64_t>& dims) {
  const Shape strides = contiguous_strides(shape);
  StridedLayout L;
  L.dims = static_cast<int>(dims.size());
  for (size_t d = 0; d < dims.size(); ++d) {
    L.shape[d] = shape[dims[d]];
    L.stride[d] = strides[dims[d]];
  }
  return L;
}

// Makes `view` a view of `base` starting `offset` elements in (tracked for in-place ops).
void mark_view(Tensor& view, const Tensor& base, int64_t offset) {
  TensorImpl* b = base.impl();
  view.impl()->view_base = b->view_base ? b->view_base : base.impl_ptr();
  view.impl()->view_offset = (b->view_base ? b->view_offset : 0) + offset;
}

}  // namespace

void mark_view_of(Tensor& view, const Tensor& base, int64_t offset) {
  mark_view(view, base, offset);
}

StridedLayout expand_layout(const Shape& from_in, const Shape& to) {
  FASTNN_CHECK(to.size() <= 16, Value, "expand: expected at most 16 dims, got ", to.size());
  const Shape from = pad_left(from_in, to.size());
  const Shape strides = contiguous_strides(from);
  StridedLayout L;
  L.dims = static_cast<int>(to.size());
  for (size_t d = 0; d < to.size(); ++d) {
    L.shape[d] = to[d];
    L.stride[d] = from[d] == 1 ? 0 : strides[d];
  }
  return L;
}

Tensor strided(const Tensor& x, const StridedLayout& L, const char* who) {
  check_defined(x, who, "input");
  check_layout(x, L, who);
  Tensor out = Tensor::empty(layout_shape(L), x.dtype(), x.device());
  FASTNN_LAUNCH(backend_of(x), strided_copy, x, L, out);
  if (!needs_grad({&x})) return out;
  record(who, out, {x}, [xshape = x.shape(), L](const Tensor& gy, const std::vector<bool>&) {
    // Positions repeat only along dims of stride 0 (expand): those sum first, then each
    // position gets its one gradient.
    Shape summed = layout_shape(L);
    StridedLayout once = L;
    bool repeats = false;
    for (int d = 0; d < L.dims; ++d) {
      if (L.stride[d] == 0 && L.shape[d] > 1) {
        summed[d] = 1;
        once.shape[d] = 1;
        repeats = true;
      }
    }
    Tensor g = gy;
    if (repeats) {
      g = Tensor::empty(summed, gy.dtype(), gy.device());
      FASTNN_LAUNCH(backend_of(gy), sum_to, gy, g);
    }
    Tensor gx = Tensor::zeros(xshape, gy.dtype(), gy.device());
    FASTNN_LAUNCH(backend_of(gy), strided_assign, g, once, gx);
    return std::vector<Tensor>{gx};
  });
  return out;
}

namespace {

// permute's dims, checked: a permutation of x's axes.
std::vector<int64_t> permutation(const Tensor& x, const std::vector<int64_t>& dims_in,
                                 const char* who) {
  check_defined(x, who, "input");
  const int64_t n = x.dim();
  FASTNN_CHECK(static_cast<int64_t>(dims_in.size()) == n, Value, who, ": expected ", n,
               " dims (a permutation of the input's), got ", dims_in.size());
  return normalize_axes(dims_in, n, who);  // in range, no repeats
}

bool is_identity(const std::vector<int64_t>& dims) {
  for (size_t d = 0; d < dims.size(); ++d)
    if (dims[d] != static_cast<int64_t>(d)) return false;
  return true;
}

// A permute moves each element once: its gradient is the inverse permute of gy (no zero
// fill and scatter, as a general strided selection needs).
void record_permute(Tensor& out, const Tensor& x, const std::vector<int64_t>& dims) {
  std::vector<int64_t> inverse(dims.size());
  for (size_t d = 0; d < dims.size(); ++d) inverse[dims[d]] = static_cast<int64_t>(d);
  record("permute", out, {x}, [inverse](const Tensor& gy, const std::vector<bool>&) {
    const StridedLayout back = permuted_layout(gy.shape(), inverse);
    Tensor gx = Tensor::empty(layout_shape(back), gy.dtype(), gy.device());
    FASTNN_LAUNCH(backend_of(gy), strided_copy, gy, back, gx);
    return std::vector<Tensor>{gx};
  });
}

}  // namespace

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims_in) {
  const std::vector<int64_t> dims = permutation(x, dims_in, "permute");
  if (is_identity(dims)) return x;
  FASTNN_CHECK(x.dim() <= 16, Value, "permute: expected at most 16 dims, got ", x.dim());
  const StridedLayout L = permuted_layout(x.shape(), dims);
  Tensor out = Tensor::empty(layout_shape(L), x.dtype(), x.device());
  FASTNN_LAUNCH(backend_of(x), strided_copy, x, L, out);
  if (needs_grad({&x})) record_permute(out, x, dims);
  return out;
}

Tensor permute_deferred(const Tensor& x, const std::vector<int64_t>& dims_in) {
  const std::vector<int64_t> dims = permutation(x, dims_in, "permute");
  if (is_identity(dims) || x.dim() > 16) return permute(x, dims);
  auto pending = std::make_shared<PendingPermute>();
  pending->source = x;
  pending->source_version = x.version();
  pending->dims = dims;
  pending->layout = permuted_layout(x.shape(), dims);
  Tensor out = Tensor::deferred(pending);
  if (Recorder* recorder = active_recorder()) {  // see Recorder::note_deferred
    pending->recorder = recorder;
    recorder->note_deferred(out.storage());
  }
  if (needs_grad({&x})) {
    record_permute(out, x, dims);
    auto from = std::make_shared<PermutedFrom>();
    if (x.grad_fn()) {
      from->source_node = x.grad_fn();
      from->source_output = x.output_nr();
    } else {
      from->source_leaf = x.impl_ptr();
    }
    from->layout = pending->layout;
    from->permute_node = out.grad_fn();
    out.impl()->permuted_from = std::move(from);
  }
  return out;
}

Tensor pending_permute_source(const Tensor& x, std::vector<int64_t>* dims) {
  if (!x.defined()) return Tensor();
  const std::shared_ptr<PendingPermute>& p = x.storage()->pending;
  // Only the whole deferred tensor, not a view of part of it or under another shape.
  if (!p || x.impl()->offset != 0 || x.shape() != layout_shape(p->layout)) return Tensor();
  Tensor source;
  if (!x.requires_grad()) {
    source = p->source.detach();  // x is detached (or made without grad): so is its source
  } else {
    // The gradient must still reach x's graph through the source: x is the permute's own
    // output (not a leaf made from it with requires_grad_, not rewired by an in-place op).
    if (live_permuted_from(x) == nullptr) return Tensor();
    source = p->source;
  }
  if (dims) *dims = p->dims;
  return source;
}

Tensor permute_source(const Tensor& x, const std::vector<int64_t>& dims_in) {
  std::vector<int64_t> pending_dims;
  Tensor source = pending_permute_source(x, &pending_dims);
  if (!source.defined()) return source;
  const std::vector<int64_t> dims = permutation(x, dims_in, "permute");
  for (size_t d = 0; d < dims.size(); ++d)  // x.permute(dims) reads source axis p[dims[d]]
    if (pending_dims[dims[d]] != static_cast<int64_t>(d)) return Tensor();
  return source;
}

Tensor expand(const Tensor& x, const Shape& shape_in) {
  const char* who = "expand";
  check_defined(x, who, "input");
  FASTNN_CHECK(shape_in.size() >= static_cast<size_t>(x.dim()), Value, who,
               ": the number of sizes (", shape_in.size(),
               ") must be at least the tensor's dimensions (", x.dim(), ")");
  const Shape from = pad_left(x.shape(), shape_in.size());
  Shape shape = shape_in;
  const size_t lead = shape_in.size() - x.dim();
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == -1) {
      FASTNN_CHECK(d >= lead, Value, who, ": -1 is not allowed for a new leading dim");
      shape[d] = from[d];
    }
    FASTNN_CHECK(shape[d] >= 0 && (from[d] == shape[d] || from[d] == 1), Value, who,
                 ": cannot expand a tensor of shape ", shape_str(x.shape()), " to ",
                 shape_str(shape_in), " (a dim of size other than 1 must keep its size)");
  }
  if (shape == x.shape()) return x;
  return strided(x, expand_layout(x.shape(), shape), who);
}

Tensor view_range(const Tensor& x, int64_t offset, const Shape& shape) {
  const char* who = "view";
  check_defined(x, who, "input");
  const int64_t n = shape_numel(shape);
  FASTNN_CHECK(offset >= 0 && offset + n <= x.numel(), Index, who, ": elements [", offset, ", ",
               offset + n, ") are out of range for a tensor of ", x.numel(), " elements");
  Tensor y = x.view({x.numel()}).rows(offset, offset + n).view(shape);
  mark_view(y, x, offset);
  if (!needs_grad({&x})) return y;
  record(who, y, {x}, [xshape = x.shape(), offset, n](const Tensor& gy, const std::vector<bool>&) {
    Tensor gx = Tensor::zeros(xshape, gy.dtype(), gy.device());
    Tensor dst = gx.view({gx.numel()}).rows(offset, offset + n);
    FASTNN_LAUNCH(backend_of(gy), copy, gy, dst);
    return std::vector<Tensor>{gx};
  });
  return y;
}

namespace {

void check_flat_index(const Tensor& x, const Tensor& index, const char* who) {
  check_defined(index, who, "index");
  FASTNN_CHECK(index.dtype() == DType::Int64, Type, who, ": expected an int64 index, got ",
               dtype_name(index.dtype()));
  check_same_device(x, index, who, "index");
  const int64_t bad = backend_of(index).find_index_out_of_range(index, x.numel());
  FASTNN_CHECK(bad < 0, Index, who, ": position ", element_text(index, bad),
               " is out of range for a tensor of ", x.numel(), " elements");
}

void check_values(const Tensor& x, const Tensor& values, const Shape& shape, const char* who) {
  check_defined(values, who, "values");
  check_same_dtype(x, values, who, "values");
  check_same_device(x, values, who, "values");
  FASTNN_CHECK(values.shape() == shape, Value, who, ": expected values of shape ",
               shape_str(shape), ", got ", shape_str(values.shape()));
}

}  // namespace

Tensor take_flat(const Tensor& x, const Tensor& index) {
  const char* who = "index";
  check_defined(x, who, "input");
  check_flat_index(x, index, who);
  const int64_t k = index.numel();
  Tensor out = Tensor::empty({k, 1}, x.dtype(), x.device());
  FASTNN_LAUNCH(backend_of(x), take_rows, x.view({x.numel(), 1}), index.view({k}), out);
  out = out.view(index.shape());
  if (!needs_grad({&x})) return out;
  record(who, out, {x}, [xshape = x.shape(), index = index.view({k})](
                            const Tensor& gy, const std::vector<bool>&) {
    Tensor gx = Tensor::zeros({shape_numel(xshape), 1}, gy.dtype(), gy.device());
    FASTNN_LAUNCH(backend_of(gy), scatter_add_rows, gy.view({gy.numel(), 1}), index, gx);
    return std::vector<Tensor>{gx.view(xshape)};
  });
  mark_saved(out, {index});
  return out;
}

Tensor strided_put(const Tensor& x, const StridedLayout& L, const Tensor& values) {
  const char* who = "setitem";
  check_defined(x, who, "input");
  check_layout(x, L, who);
  check_values(x, values, layout_shape(L), who);
  Tensor out = x.clone();
  FASTNN_LAUNCH(backend_of(x), strided_assign, values, L, out);
  if (!needs_grad({&x, &values})) return out;
  record(who, out, {x, values}, [L](const Tensor& gy, const std::vector<bool>& needs) {
    std::vector<Tensor> grads(2);
    Backend& be = backend_of(gy);
    if (needs[0]) {  // the overwritten positions get nothing
      grads[0] = gy.clone();
      Tensor zeros = Tensor::zeros(layout_shape(L), gy.dtype(), gy.device());
      FASTNN_LAUNCH(be, strided_assign, zeros, L, grads[0]);
    }
    if (needs[1]) {
      grads[1] = Tensor::empty(layout_shape(L), gy.dtype(), gy.device());
      FASTNN_LAUNCH(be, strided_copy, gy, L, grads[1]);
    }
    return grads;
  });
  return out;
}

Tensor index_put_flat(const Tensor& x, const Tensor& index, const Tensor& values) {
  const char* who = "setitem";
  check_defined(x, who, "input");
  check_flat_index(x, index, who);
  check_values(x, values, index.shape(), who);
  const int64_t k = index.numel();
  Tensor out = x.clone();
  Tensor out_rows = out.view({out.numel(), 1});
  FASTNN_LAUNCH(backend_of(x), index_assign_rows, values.view({k, 1}), index.view({k}), out_rows);
  if (!needs_grad({&x, &values})) return out;
  record(who, out, {x, values},
         [index = index.view({k}), vshape = values.shape()](const Tensor& gy,
                                                           const std::vector<bool>& needs) {
           std::vector<Tensor> grads(2);
           Backend& be = backend_of(gy);
           const int64_t k = index.numel();
           if (needs[0]) {
             grads[0] = gy.clone();
             Tensor rows = grads[0].view({gy.numel(), 1});
             Tensor zeros = Tensor::zeros({k, 1}, gy.dtype(), gy.device());
             FASTNN_LAUNCH(be, index_assign_rows, zeros, index, rows);
           }
           if (needs[1]) {
             Tensor g = Tensor::empty({k, 1}, gy.dtype(), gy.device());
             FASTNN_LAUNCH(be, take_rows, gy.view({gy.numel(), 1}), index, g);
             grads[1] = g.view(vshape);
           }
           return grads;
         });
  mark_saved(out, {index});
  return out;
}

void strided_write_(Tensor& x, const StridedLayout& L, const Tensor& values) {
  const char* who = "setitem";
  check_defined(x, who, "input");
  check_layout(x, L, who);
  check_values(x, values, layout_shape(L), who);
  FASTNN_LAUNCH(backend_of(x), strided_assign, values, L, x);
  inplace_mark(x);
}

void index_write_flat_(Tensor& x, const Tensor& index, const Tensor& values) {
  const char* who = "setitem";
  check_defined(x, who, "input");
  check_flat_index(x, index, who);
  check_values(x, values, index.shape(), who);
  const int64_t k = index.numel();
  Tensor rows = x.view({x.numel(), 1});
  FASTNN_LAUNCH(backend_of(x), index_assign_rows, values.view({k, 1}), index.view({k}), rows);
  inplace_mark(x);
}

Tensor arange(int64_t n, double start, double step, DType dtype, Device device) {
  FASTNN_CHECK(n >= 0, Value, "arange: expected a non-negative length, got ", n);
  Tensor out = Tensor::empty({n}, dtype, device);
  FASTNN_LAUNCH(backend_for(device), arange_fill, out, start, step);
  return out;
}

}  // namespace fastnn
