// The tensor API's ops (PyTorch's names and semantics): comparisons, unary math, clamp,
// where, reductions along dims with their indices, strided selections (permute, slices
// with steps, expand), index reads and writes, and the machinery of in-place ops. Each
// validates, allocates, launches the backend's kernels and records its backward, as the
// ops in ops.h do. Operands of binary ops come with one dtype: the Python layer applies
// torch's type promotion first.
#pragma once

#include <utility>
#include <vector>

#include "ops/ops.h"

namespace fastnn {

// --- elementwise.cpp (helpers shared with these ops) ---
Shape pad_left(const Shape& s, size_t n);  // s with 1s in front, to rank n
// Whether binary op `op` takes operands of dtype t (the Python layer promotes mixed
// operands first): floats all but the bit ops, integers all but div, bool not sub, pow,
// floor_divide or remainder.
bool binary_takes(BinaryOp op, DType t);
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* who);
// g (a broadcast result's shape) summed back to `shape`, an operand's.
Tensor reduce_to_shape(const Tensor& g, const Shape& shape);
// Axes made non-negative, checked and not repeated; {} = all of them.
std::vector<int64_t> normalize_axes(const std::vector<int64_t>& axes, int64_t dim,
                                    const char* who);

// --- math_ops.cpp ---
const char* compare_name(CompareOp op);
const char* unary_name(UnaryOp op);
Tensor compare(CompareOp op, const Tensor& a, const Tensor& b);  // bool, broadcast
Tensor unary(UnaryOp op, const Tensor& x);
// min(max(x, low), high); a bound of -inf / +inf is none.
Tensor clamp(const Tensor& x, double low, double high);
// cond (bool) ? a : b, the three broadcast together; a and b of one dtype.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// --- reduce.cpp ---
struct ValuesIndices {
  Tensor values, indices;
};
// max/min along `axis`: values (differentiable: the gradient goes to the index) and int64
// indices; keepdim keeps the axis with size 1.
ValuesIndices max_min_dim(bool is_max, const Tensor& x, int64_t axis, bool keepdim);
// The max/min of all elements, a 0-d tensor; the gradient is shared evenly by the ties.
Tensor max_min_all(bool is_max, const Tensor& x);
// argmax/argmin along `axis`, or of the flattened tensor when axis is none (flat = true).
Tensor arg_max_min(bool is_max, const Tensor& x, int64_t axis, bool flat, bool keepdim);
// Variance over `axes` ({} = all) with torch's `correction` (1: unbiased); std is its sqrt.
Tensor variance(const Tensor& x, const std::vector<int64_t>& axes, double correction,
                bool keepdim);
// The product over `axis`, or of all elements when flat.
Tensor prod(const Tensor& x, int64_t axis, bool flat, bool keepdim);
// torch.gather(x, axis, index) and torch.scatter_add(x, axis, index, src).
Tensor gather(const Tensor& x, int64_t axis, const Tensor& index);
Tensor scatter_add(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& src);

// --- linalg.cpp ---
// torch.bmm: a (B, M, K) @ b (B, K, N) -> (B, M, N), one GEMM per batch entry.
Tensor bmm(const Tensor& a, const Tensor& b);

// --- index.cpp ---
// Makes `view` (sharing base's memory from element `offset` on) a tracked view of base.
void mark_view_of(Tensor& view, const Tensor& base, int64_t offset);
// The layout that reads x (shape `from`, padded to to's rank) broadcast to `to`.
StridedLayout expand_layout(const Shape& from, const Shape& to);
// The elements of x that L selects, as a new contiguous tensor (L's shape); the gradient
// goes back to the selected positions (summed where L repeats one through a 0 stride).
Tensor strided(const Tensor& x, const StridedLayout& L, const char* who);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
// permute whose copy waits until something reads the result (core/tensor.h,
// Storage::pending), for an x that nothing will write afterwards (an op's fresh output).
// Channels-first modules (fastnn.nn) return their channels-last kernels' outputs this way;
// the next channels-last kernel takes x back through permute_source, and the copy never
// runs. Inside a capture the copy is recorded where it runs, and the capture's end runs
// (recorded) those still pending (Recorder::note_deferred).
Tensor permute_deferred(const Tensor& x, const std::vector<int64_t>& dims);
// The tensor a deferred permute x was made from (and its dims), when x is that permute's
// whole output with its graph intact (detached from the source when x has no gradient);
// undefined otherwise.
Tensor pending_permute_source(const Tensor& x, std::vector<int64_t>* dims = nullptr);
// pending_permute_source(x) when x.permute(dims) would give back exactly that source
// (x.permute(dims) without a copy), undefined otherwise.
Tensor permute_source(const Tensor& x, const std::vector<int64_t>& dims);
Tensor expand(const Tensor& x, const Shape& shape);  // torch's expand; -1 keeps a size
// A view of elements [offset, offset + numel(shape)) of x's flat storage (x[i], x[a:b] and
// the like): shares memory, and an in-place op on it updates x's place in the graph.
Tensor view_range(const Tensor& x, int64_t offset, const Shape& shape);
// x.flatten()[index] (index int64, any shape, range-checked): index's shape.
Tensor take_flat(const Tensor& x, const Tensor& index);
// A copy of x with the positions selected by L (or by the flat `index`) set to `values`
// (L's / index's shape, x's dtype): setitem on a tensor that is part of a graph.
Tensor strided_put(const Tensor& x, const StridedLayout& L, const Tensor& values);
Tensor index_put_flat(const Tensor& x, const Tensor& index, const Tensor& values);
// The same, written into x itself, unrecorded (setitem where no gradient is involved).
void strided_write_(Tensor& x, const StridedLayout& L, const Tensor& values);
void index_write_flat_(Tensor& x, const Tensor& index, const Tensor& values);
// n values start, start + step, ... of dtype.
Tensor arange(int64_t n, double start, double step, DType dtype, Device device);

// --- inplace.cpp: an in-place op is `old = inplace_begin(self, ...)`, `result = f(old)` out
// of place, `inplace_commit(self, old, result)`. begin applies torch's rules (no in-place op
// on a leaf that requires grad, or on a view of one, while grad mode is on) and returns what
// f should read: self itself, or, when the op will be recorded, a copy of self's values that
// stands for self in the graph (so the backward reads the values before the change).
// commit checks the result's shape and dtype, writes it into self's memory, bumps the
// version counter and makes self (and the tensor it views, if any) the op's output. ---
Tensor inplace_begin(const Tensor& self, const std::vector<Tensor>& others, const char* who);
// overwrite: the result does not depend on self's old values (fill_, copy_): they get a zero
// gradient.
void inplace_commit(Tensor& self, const Tensor& old, const Tensor& result, const char* who,
                    bool overwrite = false);
// self op= other written straight into self when nothing is recorded, the dtypes agree,
// other broadcasts to self and shares no memory with it; returns false (doing nothing)
// otherwise, for the general path. The op must take the dtype (binary's rules).
bool binary_inplace(BinaryOp op, Tensor& self, const Tensor& other);
// Marks self modified in place by a direct write (bumps its version).
void inplace_mark(const Tensor& self);
// self.data = other (torch): self takes other's storage, shape and dtype; its autograd
// fields stay.
void set_data(Tensor& self, const Tensor& other);

}  // namespace fastnn
