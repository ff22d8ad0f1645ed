#include "core/tensor.h"
#include "core/launch.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "core/backend.h"

namespace fastnn {

namespace {

// The product of the non-zero sizes of s: the elements the shape would hold without its
// empty axes. Like numpy, a shape is refused when this overflows even if a zero makes the
// tensor empty, because strides (and kernels' row offsets) are products of these sizes.
int64_t checked_extent(const Shape& s, int64_t item_bytes) {
  int64_t extent = item_bytes;
  for (int64_t d : s) {
    FASTNN_CHECK(d >= 0, Value, "tensor shape: expected sizes >= 0, got ", shape_str(s));
    if (d != 0 && __builtin_mul_overflow(extent, d, &extent))
      fail(ErrorKind::Value, "tensor shape: expected at most 2^63-1 ",
           item_bytes == 1 ? "elements" : "bytes", ", got ", shape_str(s),
           item_bytes == 1 ? "" : str(" of ", item_bytes, "-byte elements"), ", which overflows");
  }
  return extent;
}

}  // namespace

int64_t shape_numel(const Shape& s) {
  int64_t extent = checked_extent(s, 1);
  return std::find(s.begin(), s.end(), 0) == s.end() ? extent : 0;
}

size_t shape_nbytes(const Shape& s, DType dtype) {
  int64_t item = static_cast<int64_t>(dtype_size(dtype));
  // Byte counts stay below 2^63 so that byte offsets computed in int64 cannot overflow.
  uint64_t extent_bytes = static_cast<uint64_t>(checked_extent(s, item));
  FASTNN_CHECK(extent_bytes <= std::numeric_limits<size_t>::max(), Value,
               "tensor shape: expected at most ", std::numeric_limits<size_t>::max(),
               " bytes, got ", shape_str(s), " of ", item, "-byte elements");
  return static_cast<size_t>(shape_numel(s)) * static_cast<size_t>(item);
}

std::string shape_str(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) {
    out += std::to_string(s[i]);
    if (s.size() == 1 || i + 1 < s.size()) out += ",";
    if (i + 1 < s.size()) out += " ";
  }
  return out + ")";
}

Device device_from_name(const std::string& name) {
  if (name == "cpu") return {DeviceKind::CPU, 0};
  if (name == "cuda") return {DeviceKind::CUDA, 0};
  if (name.rfind("cuda:", 0) == 0) {
    try {
      return {DeviceKind::CUDA, std::stoi(name.substr(5))};
    } catch (const std::exception&) {
    }
  }
  fail(ErrorKind::Value, "device: expected 'cpu', 'cuda' or 'cuda:N', got '", name, "'");
}

static std::shared_ptr<TensorImpl> make_impl(std::shared_ptr<Storage> storage, size_t offset,
                                             const Shape& shape, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->offset = offset;
  impl->shape = shape;
  impl->dtype = dtype;
  return impl;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  size_t nbytes = shape_nbytes(shape, dtype);
  return Tensor(make_impl(backend_for(device).allocate(nbytes, device), 0, shape, dtype));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  if (is_integral(dtype)) {
    // Converting NaN, inf or an out-of-range double to an integer is undefined behaviour.
    double low = dtype == DType::Int32 ? -2147483648.0 : -9223372036854775808.0;
    FASTNN_CHECK(value >= low && value < -low, Value, "full: expected a fill value that fits ",
                 dtype_name(dtype), ", got ", value);
  }
  Tensor t = empty(shape, dtype, device);
  FASTNN_LAUNCH(backend_for(device), fill, t, value);
  return t;
}

Tensor Tensor::borrow(void* data, const Shape& shape, DType dtype, std::shared_ptr<void> owner,
                      Device device) {
  auto storage = std::make_shared<Storage>();
  storage->data = data;
  storage->nbytes = shape_nbytes(shape, dtype);
  storage->device = device;
  storage->owner = std::move(owner);
  return Tensor(make_impl(std::move(storage), 0, shape, dtype));
}

const Shape& Tensor::shape() const {
  return impl_->shape;
}
int64_t Tensor::numel() const {
  return shape_numel(impl_->shape);
}
DType Tensor::dtype() const {
  return impl_->dtype;
}
Device Tensor::device() const {
  return impl_->storage->device;
}
const std::shared_ptr<Storage>& Tensor::storage() const {
  return impl_->storage;
}
bool Tensor::same_storage(const Tensor& o) const {
  return defined() && o.defined() && impl_->storage == o.impl_->storage;
}

int64_t Tensor::size(int64_t axis) const {
  int64_t n = dim();
  if (axis < 0) axis += n;
  FASTNN_CHECK(axis >= 0 && axis < n, Index, "size: axis out of range for a tensor of shape ",
               shape_str(shape()));
  return impl_->shape[axis];
}

void* Tensor::raw() const {
  if (impl_->storage->pending) materialize();
  return static_cast<char*>(impl_->storage->data) + impl_->offset;
}

Tensor Tensor::deferred(std::shared_ptr<PendingPermute> pending) {
  const Tensor& source = pending->source;
  const Shape shape = layout_shape(pending->layout);
  auto storage = std::make_shared<Storage>();
  storage->nbytes = shape_nbytes(shape, source.dtype());
  storage->device = source.device();
  storage->pending = std::move(pending);
  return Tensor(make_impl(std::move(storage), 0, shape, source.dtype()));
}

void Tensor::materialize() const {
  if (impl_->storage->pending) materialize_storage(impl_->storage);
}

namespace {
// The whole of a deferred permute's storage as the tensor its copy writes.
Tensor copy_target(const std::shared_ptr<Storage>& storage, const PendingPermute& pending) {
  return Tensor(make_impl(storage, 0, layout_shape(pending.layout), pending.source.dtype()));
}
}  // namespace

void materialize_storage(const std::shared_ptr<Storage>& storage) {
  if (!storage->pending) return;
  const PendingPermute& p = *storage->pending;
  FASTNN_CHECK(p.source.version() == p.source_version, Runtime,
               "internal error: the source of a deferred permute (shape ",
               shape_str(p.source.shape()), ") was modified in place before the copy ran");
  std::shared_ptr<Storage> memory = backend_for(storage->device).allocate(storage->nbytes,
                                                                          storage->device);
  std::shared_ptr<PendingPermute> pending = std::move(storage->pending);
  storage->data = memory->data;
  storage->owner = std::move(memory);
  const StridedLayout& L = pending->layout;
  Tensor out = copy_target(storage, *pending);
  // Made in a capture that is still recording: the copy goes into that plan (its source is
  // one of the plan's buffers), even if it runs where recording is suspended.
  if (pending->recorder != nullptr) {
    struct Restore {
      Recorder* previous = active_recorder();
      ~Restore() { set_active_recorder(previous); }
    } restore;
    set_active_recorder(pending->recorder);
    FASTNN_LAUNCH(backend_of(pending->source), strided_copy, pending->source, L, out);
    return;
  }
  // Not a launch: made outside a capture, the source never changes, so the copy's result is
  // the same whenever it runs and a plan that reads the tensor may keep it as a constant.
  backend_of(pending->source).strided_copy(pending->source, L, out);
}

void Recorder::resolve_deferred(bool refresh_when_read) {
  for (const std::weak_ptr<Storage>& weak : deferred_) {
    std::shared_ptr<Storage> storage = weak.lock();
    if (!storage || !storage->pending || storage->pending->recorder != this) continue;
    if (!refresh_when_read) {
      materialize_storage(storage);
      continue;
    }
    // A read after the capture copies the source, one of the plan's buffers: the latest
    // replay's values. The step keeps them current from then on; it holds the storage
    // weakly, so the plan does not keep the tensor alive.
    std::shared_ptr<PendingPermute> pending = storage->pending;
    pending->recorder = nullptr;
    record("strided_copy", [weak, pending] {
      std::shared_ptr<Storage> target = weak.lock();
      if (!target || target->pending) return;  // gone, or not read yet
      Tensor out = copy_target(target, *pending);
      backend_of(pending->source).strided_copy(pending->source, pending->layout, out);
    });
  }
  deferred_.clear();
}

void Recorder::forget_deferred() {
  for (const std::weak_ptr<Storage>& weak : deferred_) {
    std::shared_ptr<Storage> storage = weak.lock();
    if (storage && storage->pending && storage->pending->recorder == this)
      storage->pending->recorder = nullptr;
  }
  deferred_.clear();
}

Tensor Tensor::view(const Shape& shape) const {
  shape_nbytes(shape, dtype());  // sizes >= 0, no overflow
  FASTNN_CHECK(shape_numel(shape) == numel(), Value, "reshape: cannot view a tensor of shape ",
               shape_str(this->shape()), " (", numel(), " elements) as ", shape_str(shape));
  return Tensor(make_impl(impl_->storage, impl_->offset, shape, impl_->dtype));
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
  FASTNN_CHECK(dim() >= 1, Index, "slice: cannot slice a 0-d tensor");
  FASTNN_CHECK(0 <= begin && begin <= end && end <= shape()[0], Index, "slice: rows [", begin, ", ",
               end, ") out of range for a first axis of size ", shape()[0]);
  Shape s = shape();
  s[0] = end - begin;
  int64_t row_elems = 1;
  for (size_t i = 1; i < s.size(); ++i) row_elems *= s[i];
  size_t row_bytes = static_cast<size_t>(row_elems) * dtype_size(dtype());
  return Tensor(make_impl(impl_->storage, impl_->offset + begin * row_bytes, s, impl_->dtype));
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  FASTNN_LAUNCH(backend_of(*this), copy, *this, out);
  return out;
}

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  Tensor out = empty(shape(), dtype(), target);
  if (device().kind == DeviceKind::CPU) {
    backend_for(target).copy_from_host(raw(), out);
  } else if (target.kind == DeviceKind::CPU) {
    count_host_read();
    backend_of(*this).copy_to_host(*this, out.raw());
  } else {  // between two devices: through host memory (rare; not a hot path)
    count_host_read();
    std::vector<unsigned char> host(nbytes());
    backend_of(*this).copy_to_host(*this, host.data());
    backend_for(target).copy_from_host(host.data(), out);
  }
  return out;
}

void Tensor::move_to(Device target) {
  if (target == device()) return;
  FASTNN_CHECK(grad_fn() == nullptr, Value, "to: cannot move '", name(),
               "' in place: it is the output of an op (move the leaves it came from)");
  Tensor moved = to(target);
  impl_->storage = moved.impl_->storage;
  impl_->offset = 0;
  if (impl_->grad) {
    Tensor g(impl_->grad);
    g.move_to(target);
  }
}

Tensor Tensor::detach() const {
  return Tensor(make_impl(impl_->storage, impl_->offset, impl_->shape, impl_->dtype));
}

Tensor Tensor::alias() const {
  materialize();  // the alias copies the data pointer
  auto storage = std::make_shared<Storage>();
  storage->data = impl_->storage->data;
  storage->nbytes = impl_->storage->nbytes;
  storage->device = impl_->storage->device;
  storage->owner = impl_->storage;  // keeps the original (and its owner) alive
  return Tensor(make_impl(std::move(storage), impl_->offset, impl_->shape, impl_->dtype));
}

uint64_t Tensor::version() const {
  return impl_->storage->version;
}

void Tensor::bump_version() const {
  ++impl_->storage->version;
}

bool Tensor::requires_grad() const {
  return impl_->requires_grad;
}
void Tensor::set_requires_grad(bool value) {
  FASTNN_CHECK(!value || is_floating(dtype()), Type,
               "requires_grad: only float tensors can require gradients, got ",
               dtype_name(dtype()));
  FASTNN_CHECK(value || is_leaf(), Runtime,
               "requires_grad: cannot turn off gradients of a non-leaf tensor; use detach()");
  impl_->requires_grad = value;
}
bool Tensor::is_leaf() const {
  return impl_->grad_fn == nullptr;
}
Tensor Tensor::grad() const {
  return Tensor(impl_->grad);
}
void Tensor::set_grad(const Tensor& grad) {
  if (grad.defined()) {
    FASTNN_CHECK(grad.shape() == shape(), Value, "grad: expected shape ", shape_str(shape()),
                 ", got ", shape_str(grad.shape()));
    FASTNN_CHECK(grad.dtype() == dtype(), Type, "grad: expected dtype ", dtype_name(dtype()),
                 ", got ", dtype_name(grad.dtype()));
  }
  impl_->grad = grad.impl_ptr();
}
const std::shared_ptr<Node>& Tensor::grad_fn() const {
  return impl_->grad_fn;
}
int Tensor::output_nr() const {
  return impl_->output_nr;
}
void Tensor::set_grad_fn(std::shared_ptr<Node> node, int output_nr) {
  impl_->grad_fn = std::move(node);
  impl_->output_nr = output_nr;
}
const std::string& Tensor::name() const {
  return impl_->name;
}
void Tensor::set_name(const std::string& name) {
  impl_->name = name;
}

void check_defined(const Tensor& t, const char* who, const char* arg) {
  FASTNN_CHECK(t.defined(), Value, who, ": argument '", arg, "' is missing (got None)");
}

void check_float(const Tensor& t, const char* who, const char* arg) {
  check_defined(t, who, arg);
  FASTNN_CHECK(is_floating(t.dtype()), Type, who, ": expected '", arg,
               "' to be float32 or float64, got ", dtype_name(t.dtype()));
}

void check_same_dtype(const Tensor& a, const Tensor& b, const char* who, const char* arg) {
  FASTNN_CHECK(a.dtype() == b.dtype(), Type, who, ": expected '", arg, "' to be ",
               dtype_name(a.dtype()), " like the input, got ", dtype_name(b.dtype()));
}

void check_same_device(const Tensor& a, const Tensor& b, const char* who, const char* arg) {
  FASTNN_CHECK(a.device() == b.device(), Value, who, ": expected '", arg, "' on ",
               a.device().name(), " like the input, got ", b.device().name());
}

void check_float_like(const Tensor& t, const Tensor& like, const char* who, const char* arg) {
  check_float(t, who, arg);
  check_same_dtype(like, t, who, arg);
  check_same_device(like, t, who, arg);
}

void check_dim(const Tensor& t, int64_t dim, const char* who, const char* arg) {
  FASTNN_CHECK(t.dim() == dim, Value, who, ": expected '", arg, "' with ", dim,
               " dimensions, got shape ", shape_str(t.shape()));
}

void check_nonempty(const Tensor& t, const char* who, const char* arg) {
  FASTNN_CHECK(t.numel() > 0, Value, who, ": expected a non-empty '", arg, "', got shape ",
               shape_str(t.shape()));
}

}  // namespace fastnn
