// Tensor: a contiguous, row-major block of one dtype on one device, plus the autograd
// fields PyTorch users know (requires_grad, grad, grad_fn). Tensors are handles: copying a
// Tensor shares its storage. Every tensor is contiguous; a slice along the first axis is a
// view (an offset into the same storage), anything else that would be strided is copied.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"

namespace fastnn {

using Shape = std::vector<int64_t>;

// Every shape a tensor takes passes through these, so they are where sizes are validated:
// a negative size, or a size whose elements (shape_numel) or bytes (shape_nbytes) overflow
// int64, raises ValueError. A shape that fits but cannot be allocated raises MemoryError
// (the backend's allocate).
int64_t shape_numel(const Shape& s);
size_t shape_nbytes(const Shape& s, DType dtype);
std::string shape_str(const Shape& s);

// Memory that a tensor points into. `owner` frees it (a backend allocation, or a reference
// to a numpy array the tensor borrows). `version` counts in-place modifications through any
// tensor on this storage (PyTorch's version counter, shared by views and detach()): a
// backward that saved a tensor checks it is still at the version it saved.
//
// `pending` is set while the storage's values are a permute that has not been copied yet
// (ops::permute_deferred): data is null until the first read allocates and fills it.
struct PendingPermute;
struct PermutedFrom;
struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  Device device;
  std::shared_ptr<void> owner;
  uint64_t version = 0;
  std::shared_ptr<PendingPermute> pending;
};

class Node;
struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Uninitialised (empty) and filled tensors, allocated by the device's backend.
  static Tensor empty(const Shape& shape, DType dtype, Device device = {});
  static Tensor zeros(const Shape& shape, DType dtype, Device device = {});
  static Tensor full(const Shape& shape, double value, DType dtype, Device device = {});
  // A tensor over memory someone else owns; `owner` keeps it alive.
  static Tensor borrow(void* data, const Shape& shape, DType dtype, std::shared_ptr<void> owner,
                       Device device = {});

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t axis) const;
  int64_t numel() const;
  DType dtype() const;
  Device device() const;
  size_t nbytes() const { return numel() * dtype_size(dtype()); }

  // The tensor's memory; a pending permute (Storage::pending) is copied in first.
  void* raw() const;
  // Runs this tensor's pending permute, if its storage has one (kernel launches call it for
  // every tensor argument, so a kernel never sees an unfilled storage).
  void materialize() const;
  // A tensor holding `pending->layout` of `pending->source`, copied when first read
  // (ops::permute_deferred makes these).
  static Tensor deferred(std::shared_ptr<PendingPermute> pending);
  template <class T>
  T* data() const {
    return static_cast<T*>(raw());
  }

  // Same storage, new shape (numel must match): reshape without a copy.
  Tensor view(const Shape& shape) const;
  // Rows [begin, end) of the first axis, sharing storage.
  Tensor rows(int64_t begin, int64_t end) const;
  // A new tensor with the same values.
  Tensor clone() const;
  // The same values on `device` (this tensor itself when already there), with no autograd
  // history: a transfer, never recorded in a plan.
  Tensor to(Device device) const;
  // Moves this tensor's values to `device` in place (model.to): every handle to it, a layer's
  // weight or an optimizer's parameter list, sees the new storage; its gradient moves too.
  // Only for tensors that own their storage and are not produced by an op.
  void move_to(Device device);
  // Same storage, no autograd history, requires_grad false.
  Tensor detach() const;
  // Same memory, no autograd history, and a version counter of its own (PyTorch's `.data`:
  // changes made through it are not seen by autograd's checks).
  Tensor alias() const;
  // The storage's version counter (see Storage); in-place ops bump it.
  uint64_t version() const;
  void bump_version() const;

  // --- autograd ---
  bool requires_grad() const;
  void set_requires_grad(bool value);
  bool is_leaf() const;
  Tensor grad() const;
  void set_grad(const Tensor& grad);
  const std::shared_ptr<Node>& grad_fn() const;
  // Which output of grad_fn this tensor is (0 for single-output ops).
  int output_nr() const;
  void set_grad_fn(std::shared_ptr<Node> node, int output_nr = 0);
  const std::string& name() const;
  void set_name(const std::string& name);

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  const std::shared_ptr<Storage>& storage() const;
  bool same_storage(const Tensor& other) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  size_t offset = 0;  // bytes into storage
  Shape shape;
  DType dtype = DType::Float32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<Node> grad_fn;
  int output_nr = 0;
  std::string name;
  // For a view made by a user-facing op (reshape, row slicing): the tensor it views (the
  // first non-view one) and where its elements start in it. An in-place op on the view
  // updates that base's place in the graph too (ops/inplace.cpp).
  std::shared_ptr<TensorImpl> view_base;
  int64_t view_offset = 0;  // elements
  // For the output of a deferred permute (ops::permute_deferred): the tensor it permutes,
  // whose own consumers are this tensor's consumers too (autograd::grad reads its gradient
  // there). Kept after the copy runs.
  std::shared_ptr<const PermutedFrom> permuted_from;
};

// Runs a storage's pending permute (Storage::pending), if it has one: allocates its memory
// and copies the source in (Tensor::materialize for a tensor on it).
void materialize_storage(const std::shared_ptr<Storage>& storage);

// Argument checks shared by ops: `who` is the op or layer, `arg` the argument's name.
void check_defined(const Tensor& t, const char* who, const char* arg);
void check_float(const Tensor& t, const char* who, const char* arg);
void check_same_dtype(const Tensor& a, const Tensor& b, const char* who, const char* arg);
void check_same_device(const Tensor& a, const Tensor& b, const char* who, const char* arg);
// t is a float tensor of like's dtype on like's device (an operand beside the input `like`).
void check_float_like(const Tensor& t, const Tensor& like, const char* who, const char* arg);
void check_dim(const Tensor& t, int64_t dim, const char* who, const char* arg);
void check_nonempty(const Tensor& t, const char* who, const char* arg);

}  // namespace fastnn
