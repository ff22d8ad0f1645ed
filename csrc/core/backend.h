// The Backend interface: every kernel an op can launch, for one kind of device. The CPU
// backend (csrc/cpu) implements it and is always present; the CUDA backend (cuda/) is a
// separate library that registers itself when loaded. Ops validate their arguments and
// allocate outputs before calling a kernel, so kernels may assume shapes and dtypes agree.
//
// Conventions: row-major contiguous tensors; "rows" are the leading dims flattened, the
// last dim is the feature axis. Kernels that produce a parameter-sized gradient write it
// (assign); accumulation into .grad is the autograd engine's job.
//
// The plan contract (autograd/plan.h): ops launch kernels through FASTNN_LAUNCH
// (core/launch.h) so a capture can replay them. A kernel's scalar arguments are therefore
// constants of a plan; whatever must change between replays — the generator's position, the
// optimizer's learning rate and step counts, loss totals, error flags — is a tensor the
// kernel reads and writes on the device. Methods that return a value to the host (queries:
// all_finite, find_index_out_of_range) are never recorded and count as host reads.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "core/tensor.h"

namespace fastnn {

enum class Activation : uint8_t { Linear, ReLU, LeakyReLU, Sigmoid, Tanh, GELU };
// Elementwise binary ops (binary_forward). Float tensors take all but the Bit* ops; int32/
// int64 all but Div; bool Add (or), Mul (and), Maximum, Minimum and the Bit* ops. Pow,
// FloorDivide and Remainder follow torch (Python's floor rounding and sign of the divisor);
// Maximum/Minimum propagate NaN.
enum class BinaryOp : uint8_t {
  Add, Sub, Mul, Div, Pow, Maximum, Minimum, FloorDivide, Remainder, BitAnd, BitOr, BitXor
};
// Comparisons giving bool tensors (compare).
enum class CompareOp : uint8_t { Eq, Ne, Lt, Le, Gt, Ge };
// Elementwise unary ops (unary_forward). Neg, Abs, Sign and the roundings take every
// numeric dtype (roundings leave integers as they are), BitNot integers and bool (logical
// not); the rest float tensors only.
enum class UnaryOp : uint8_t {
  Neg, Abs, Sign, Floor, Ceil, Round, Trunc, BitNot,
  Exp, Log, Log2, Log10, Log1p, Expm1, Sqrt, Rsqrt, Reciprocal, Sin, Cos, Square
};

// Where the elements of a strided selection lie in a contiguous tensor, in elements: the
// selection's shape, each dim's stride (0 repeats, negative walks backwards) and the first
// element's offset. What a permute, a slice with steps or an expand reads (strided_copy).
struct StridedLayout {
  int64_t shape[16], stride[16];
  int dims = 0;
  int64_t offset = 0;
};
inline Shape layout_shape(const StridedLayout& L) {
  return Shape(L.shape, L.shape + L.dims);
}
// What a pending storage (core/tensor.h, Storage::pending) will hold: `layout` read from
// `source`, a permute by `dims` (out axis i is source axis dims[i]). The source is an op's
// fresh output that nothing writes afterwards; a write would show as a changed version,
// which Tensor::materialize reports as an internal error.
class Recorder;
struct PendingPermute {
  Tensor source;
  uint64_t source_version = 0;
  std::vector<int64_t> dims;
  StridedLayout layout;
  Recorder* recorder = nullptr;  // the capture it was made in, until that capture ends
};
// A deferred permute's place in the graph (TensorImpl::permuted_from). Channels-last kernels
// take the source itself, so gradients reach the source without passing the permute's node:
// the permute's gradient is the source's, read through `layout` (the permute again), as long
// as the permute's output still has `permute_node` as its grad_fn (no in-place op since).
// Weak references: this keeps neither the source's values nor its graph alive.
struct PermutedFrom {
  std::weak_ptr<Node> source_node;  // the source's grad_fn, or
  std::weak_ptr<TensorImpl> source_leaf;  // the source itself when it is a leaf
  int source_output = 0;
  StridedLayout layout;
  std::weak_ptr<Node> permute_node;
};
// t's PermutedFrom while t is still that permute's output with its graph intact (grad_fn
// unchanged by an in-place op), else null.
inline const PermutedFrom* live_permuted_from(const Tensor& t) {
  const std::shared_ptr<const PermutedFrom>& from = t.impl()->permuted_from;
  return from && t.grad_fn() && t.grad_fn() == from->permute_node.lock() ? from.get() : nullptr;
}
// The recurrent layers' cells: SimpleRNN, LSTM (gates i, f, c, o), GRU (reset_after, z, r, h).
enum class RnnCell : uint8_t { Simple, Lstm, Gru };
// Accuracy metrics, per sample: argmax(pred) == label, argmax(pred) == argmax(one-hot), or
// the share of the last axis where (pred > threshold) equals the 0/1 target.
enum class AccuracyKind : uint8_t { SparseCategorical, Categorical, Binary };
// sparse_categorical_accuracy, categorical_accuracy, binary_accuracy.
AccuracyKind accuracy_kind_from_name(const std::string& name);

enum class LossKind : uint8_t {
  MeanSquared,
  MeanAbsolute,
  BinaryCrossentropy,        // probabilities, clipped to [eps, 1 - eps] as Keras does
  BinaryCrossentropyLogits,  // logits, log-sum-exp stable
  CategoricalCrossentropy,   // one-hot targets; probabilities (normalised, clipped) or logits
  CategoricalCrossentropyLogits,
  SparseCategoricalCrossentropy,  // integer class targets
  SparseCategoricalCrossentropyLogits,
};

Activation activation_from_name(const std::string& name, const char* who);
const char* activation_name(Activation a);
// Whether the derivative of `a` can be computed from its output alone (then the
// pre-activation need not be kept for backward).
bool activation_grad_from_output(Activation a);

// Optimizer hyperparameters (torch.optim's names). decoupled_weight_decay: shrink the
// weights by lr * weight_decay instead of adding weight_decay * w to the gradient (AdamW,
// Keras). epsilon_hat (Adam) / eps_inside_sqrt: Keras's placement of epsilon.
struct SGDConfig {
  double lr = 0.01, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false, decoupled_weight_decay = false;
};
struct AdamConfig {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled_weight_decay = false, amsgrad = false, epsilon_hat = false;
};
struct RMSpropConfig {
  double lr = 0.01, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0;
  bool centered = false, decoupled_weight_decay = false, eps_inside_sqrt = false;
};
struct AdagradConfig {
  double lr = 0.01, lr_decay = 0, weight_decay = 0, eps = 1e-10;
  bool decoupled_weight_decay = false, eps_inside_sqrt = false;
};

// One parameter of an optimizer step (Backend::optimizer_update): its slot in the step
// counts, the parameter, its gradient and its state tensors in the order of the optimizer's
// per-parameter method below (undefined where the config keeps none).
enum class OptimizerKind : uint8_t { SGD, Adam, RMSprop, Adagrad };
struct ParamUpdate {
  int64_t index = 0;
  Tensor param, grad;
  Tensor state[3];
};

// A recurrent layer's recurrence over every step (ops/rnn.cpp has the whole algorithm and
// the buffers' layouts): per step the recurrent GEMM, then the cell's pass. Every row of
// the batch runs through time on its own, so a backend may give blocks of rows to its
// threads for all the steps at once (one parallel region per call, not two per step).
// Forward: Z (GRU: Z and Q) from the input GEMM in, the cell's saved values out; h[1..T]
// (and c[1..T]) out. Backward: dH (T*N, U) the sequence's gradient or undefined, dh and
// dc (N, U) the last state's gradients in and h0's/c0's out (when with_initial_state;
// else they hold partial sums), dZ (and dQ) (T*N, G) out.
struct RnnRecurrence {
  RnnCell cell = RnnCell::Lstm;
  Activation activation = Activation::Tanh;  // SimpleRNN's
  int64_t steps = 0, batch = 0, units = 0;
  bool initial_state = false;  // h[0] given; else zero and step 0 skips its GEMM
  Tensor recurrent_kernel, bias;
  Tensor keep;            // (T*N, 1) time-major step mask, or undefined
  Tensor recurrent_mask;  // (N, U) recurrent dropout, or undefined
  Tensor Z, Q, h, c;      // (T*N, G), (T*N, G) GRU only, ((T+1)*N, U), LSTM only
};

// The shape of a 2-D convolution over channels-last images: x (batch, in_h, in_w, channels),
// kernel (kernel_h, kernel_w, channels, filters), y (batch, out_h, out_w, filters). Padding
// is explicit per side (the op resolves "same"/"valid"); padded positions read as zero.
// Output (oh, ow), kernel tap (i, j) reads input row oh * stride_h - pad_top + i * dilation_h
// and column ow * stride_w - pad_left + j * dilation_w.
struct ConvGeometry {
  int64_t batch = 0, in_h = 0, in_w = 0, channels = 0;
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t out_h = 0, out_w = 0;
  // Rows and columns of the lowered matrix: one row per output pixel, one column per
  // (kernel row, kernel column, channel), the order of the Keras kernel's leading axes.
  int64_t patch_rows() const { return batch * out_h * out_w; }
  int64_t patch_size() const { return kernel_h * kernel_w * channels; }
};

// Pooling geometry (pool.cpp), fixed when the op is called: sizes of x (N, H, W, C) and y
// (N, OH, OW, C), the window, the strides and the padding before the first row/column.
struct Pool2DGeometry {
  int64_t N = 0, H = 0, W = 0, C = 0, OH = 0, OW = 0;
  int64_t pool_h = 1, pool_w = 1, stride_h = 1, stride_w = 1, pad_top = 0, pad_left = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // How many devices of this kind the backend drives (cuda:0 .. cuda:N-1).
  virtual int device_count() const { return 1; }
  // What the device is, for `python -m fastnn info` ("NVIDIA H100 80GB HBM3").
  virtual std::string device_name(int index) const { return name(); }

  // --- memory ---
  // nbytes of `device` (one of this backend's), uninitialised.
  virtual std::shared_ptr<Storage> allocate(size_t nbytes, Device device) = 0;
  virtual void copy(const Tensor& src, Tensor& dst) = 0;  // same dtype and numel
  virtual void cast(const Tensor& src, Tensor& dst) = 0;  // same numel, any dtypes
  virtual void fill(Tensor& out, double value) = 0;
  // Transfers between host memory and a tensor of this device (nbytes of the tensor). Both
  // return once the host buffer may be reused and, for copy_to_host, holds the values every
  // kernel launched before wrote. Never recorded: a plan does not move data to or from the host.
  virtual void copy_from_host(const void* src, Tensor& dst) = 0;
  virtual void copy_to_host(const Tensor& src, void* dst) = 0;
  // Waits until every kernel launched on this device has finished.
  virtual void synchronize() = 0;
  // Device graphs: a backend that can record a sequence of its launches once and replay it
  // with one call (CUDA graphs) returns the graph of running `launches` under capture
  // (nothing executes then); a plan replays it with launch_graph. The CPU backend cannot
  // (null), and a plan there runs its kernels one by one.
  virtual std::shared_ptr<void> capture_graph(Device device,
                                              const std::function<void()>& launches) {
    return nullptr;
  }
  virtual void launch_graph(Device device, void* graph) {}

  // --- gemm.cpp ---
  // c = alpha * op(a) @ op(b) + beta * c, with op(a) (m, k), op(b) (k, n), c (m, n).
  virtual void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                    const Tensor& a, const Tensor& b, double beta, Tensor& c) = 0;

  // --- activation.cpp ---
  virtual void activation_forward(Activation act, double alpha, const Tensor& x, Tensor& y) = 0;
  // gx = gy * act'(x); x may be undefined when activation_grad_from_output(act).
  virtual void activation_backward(Activation act, double alpha, const Tensor& x, const Tensor& y,
                                   const Tensor& gy, Tensor& gx) = 0;
  // Dense epilogue, one pass: z = y + bias (per row), y = act(z). bias and z may be undefined.
  virtual void bias_activation_forward(Activation act, double alpha, const Tensor& bias, Tensor& y,
                                       Tensor& z) = 0;
  // softmax / log_softmax over the last axis.
  virtual void softmax_forward(bool log, const Tensor& x, Tensor& y) = 0;
  virtual void softmax_backward(bool log, const Tensor& y, const Tensor& gy, Tensor& gx) = 0;

  // --- elementwise.cpp ---
  // out = a op b with numpy broadcasting; a and b have out's rank (size-1 dims broadcast).
  virtual void binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) = 0;
  // out = alpha * x + beta * out (beta 0 ignores out's old values).
  virtual void axpby(double alpha, const Tensor& x, double beta, Tensor& out) = 0;
  // Sums x over the axes where out (same rank) has size 1, in a fixed order.
  virtual void sum_to(const Tensor& x, Tensor& out) = 0;
  // out = x broadcast (x has out's rank with size-1 dims) times alpha.
  virtual void broadcast_to(const Tensor& x, double alpha, Tensor& out) = 0;
  virtual bool all_finite(const Tensor& x) = 0;
  // Weight regularisation: out (one element) = l1 * sum|w| + l2 * sum w^2, and its gradient
  // gw = gout * (l1 * sign(w) + 2 * l2 * w).
  virtual void penalty_forward(const Tensor& w, double l1, double l2, Tensor& out) = 0;
  virtual void penalty_backward(const Tensor& w, double l1, double l2, const Tensor& gout,
                                Tensor& gw) = 0;

  // --- shape.cpp ---
  // Concatenates along `axis`: inputs share all other dims with out.
  virtual void concat(const std::vector<Tensor>& inputs, int64_t axis, Tensor& out) = 0;
  // The inverse: out = x[..., begin:begin + out.size(axis), ...].
  virtual void slice_axis(const Tensor& x, int64_t axis, int64_t begin, Tensor& out) = 0;
  // out[i] = x[index[i]] along the first axis; index int32 or int64, already range-checked.
  virtual void take_rows(const Tensor& x, const Tensor& index, Tensor& out) = 0;
  // out[index[i]] += g[i], in index order (deterministic).
  virtual void scatter_add_rows(const Tensor& g, const Tensor& index, Tensor& out) = 0;
  // First position whose value is not an integer in [0, limit), or -1.
  virtual int64_t find_index_out_of_range(const Tensor& index, int64_t limit) = 0;

  // --- math_ops.cpp: comparisons, unary math, clamp, where, the backward of Pow/Max/Min ---
  // out (bool) = a op b with binary_forward's broadcasting; a and b of one dtype (any).
  virtual void compare(CompareOp op, const Tensor& a, const Tensor& b, Tensor& out) = 0;
  // out = op(x), of x's dtype.
  virtual void unary_forward(UnaryOp op, const Tensor& x, Tensor& out) = 0;
  // gx = gy * op'(x), float ops only; y = op(x) (the ops whose derivative is cheaper from
  // it read it: Exp, Sqrt, Rsqrt, Reciprocal, Expm1). Roundings and Sign give zeros.
  virtual void unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy,
                              Tensor& gx) = 0;
  // For out = a op b (Pow, Maximum, Minimum; a and b broadcast to out as in binary_forward,
  // gy out's shape): ga = gy * d(out)/da and gb = gy * d(out)/db at out's shape (the op sums
  // them back to the operands'); either may be undefined. torch's conventions: Pow's ga is 0
  // where b == 0, its gb 0 where a == 0 and b >= 0; Maximum/Minimum split gy in halves on ties.
  virtual void binary_backward(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out,
                               const Tensor& gy, Tensor& ga, Tensor& gb) = 0;
  // out = min(max(x, low), high), NaN kept; a bound of -inf/+inf is no bound. Any numeric
  // dtype (integer tensors take integral bounds).
  virtual void clamp_forward(const Tensor& x, double low, double high, Tensor& out) = 0;
  // gx = gy where low <= x <= high, else 0 (torch's: the bounds themselves pass gradient).
  virtual void clamp_backward(const Tensor& x, double low, double high, const Tensor& gy,
                              Tensor& gx) = 0;
  // out = cond ? a : b; cond (bool) has out's shape, a and b (out's dtype) broadcast to it.
  virtual void where(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out) = 0;

  // --- reduce.cpp: reductions along one axis; x viewed as (outer, n, inner), n = its size
  // along `axis` ---
  // indices (outer, inner) int64 = the position of the first maximum (is_max) or minimum
  // of each x[o, :, i]; a NaN counts as the extreme (the first NaN wins, as torch's).
  // values (outer, inner), x's dtype, gets the elements there; it may be undefined.
  virtual void arg_reduce(bool is_max, const Tensor& x, int64_t axis, Tensor& values,
                          Tensor& indices) = 0;
  // out (outer, inner), int64 = the exact sum over the axis of an integer or bool x
  // (wrapping on overflow, as torch's int64 sums).
  virtual void int_sum_axis(const Tensor& x, int64_t axis, Tensor& out) = 0;
  // out (outer, inner) = the product over the axis (accumulated in double for floats).
  virtual void prod_axis(const Tensor& x, int64_t axis, Tensor& out) = 0;
  // gx = gy (outer, inner) times the product of the other elements of each column (exact
  // where x has zeros: prefix and suffix products).
  virtual void prod_backward_axis(const Tensor& x, const Tensor& gy, int64_t axis,
                                  Tensor& gx) = 0;
  // torch.gather: out[o, j, i] = x[o, index[o, j, i], i]; index (int64, range-checked by the
  // op) has out's shape, which is x's but along the axis. Any dtype.
  virtual void gather_axis(const Tensor& x, const Tensor& index, int64_t axis, Tensor& out) = 0;
  // The adjoint: out[o, index[o, j, i], i] += src[o, j, i], j in order (deterministic).
  virtual void scatter_add_axis(const Tensor& src, const Tensor& index, int64_t axis,
                                Tensor& out) = 0;

  // --- index.cpp: strided selections and index writes, any dtype ---
  // out (contiguous, L's shape) = the elements of x that L selects (see StridedLayout).
  virtual void strided_copy(const Tensor& x, const StridedLayout& L, Tensor& out) = 0;
  // The reverse: dst's elements that L selects = src (L's shape). L must not repeat a position.
  virtual void strided_assign(const Tensor& src, const StridedLayout& L, Tensor& dst) = 0;
  // Row index[i] of out (the first axis) = row i of src, for i in order (a repeated index
  // keeps the last); index int64, range-checked by the op.
  virtual void index_assign_rows(const Tensor& src, const Tensor& index, Tensor& out) = 0;
  // out[i] = start + i * step (computed in double, then converted).
  virtual void arange_fill(Tensor& out, double start, double step) = 0;

  // --- loss.cpp ---
  // Per-sample losses: loss has pred's shape without its last axis.
  virtual void loss_forward(LossKind kind, const Tensor& pred, const Tensor& target,
                            Tensor& loss) = 0;
  // gpred = d(sum_i gloss[i] * loss[i]) / dpred.
  virtual void loss_backward(LossKind kind, const Tensor& pred, const Tensor& target,
                             const Tensor& gloss, Tensor& gpred) = 0;

  // --- metrics.cpp ---
  // total[0] (float64) += the sum over samples of the per-sample accuracy (pred (N, C);
  // target as the loss takes it).
  virtual void accuracy_accumulate(AccuracyKind kind, double threshold, const Tensor& pred,
                                   const Tensor& target, Tensor& total) = 0;
  // totals (float64 {sum, first non-finite step or -1, steps}): sum += weight * loss[0];
  // a NaN or infinite loss records the step's number once; steps += 1.
  virtual void loss_accumulate(const Tensor& loss, double weight, Tensor& totals) = 0;
  // PyTorch's cross_entropy with class indices (math::index_crossentropy): x (R, C) logits,
  // target (R) int32/int64, weight (C) or undefined (all 1), smoothing in [0, 1]. Forward:
  // loss (R) and row_weight (R) = w[target] (1 without weight); a row whose target is
  // ignore_index has both 0, a target outside [0, C) is a kernel error (loss NaN, weight 0).
  // Backward: gx (R, C) = gloss[r] * d loss[r] / d x[r], zero rows where loss had weight 0
  // by being ignored or bad (whatever gloss holds there).
  virtual void index_crossentropy_forward(const Tensor& x, const Tensor& target,
                                          const Tensor& weight, int64_t ignore_index,
                                          double smoothing, Tensor& loss, Tensor& row_weight) = 0;
  virtual void index_crossentropy_backward(const Tensor& x, const Tensor& target,
                                           const Tensor& weight, int64_t ignore_index,
                                           double smoothing, const Tensor& gloss,
                                           Tensor& gx) = 0;

  // --- optim.cpp: one fused pass per parameter tensor. `config` holds the optimizer's
  // config struct (config_tensor), `steps` (int64) the step count of every parameter: the
  // update first adds one to steps[index], then uses it (it counts from 1). ---
  virtual void sgd_update(const Tensor& config, Tensor& steps, int64_t index, Tensor& param,
                          const Tensor& grad, Tensor& momentum) = 0;
  virtual void adam_update(const Tensor& config, Tensor& steps, int64_t index, Tensor& param,
                           const Tensor& grad, Tensor& m, Tensor& v, Tensor& v_max) = 0;
  virtual void rmsprop_update(const Tensor& config, Tensor& steps, int64_t index, Tensor& param,
                              const Tensor& grad, Tensor& square_avg, Tensor& momentum,
                              Tensor& grad_avg) = 0;
  virtual void adagrad_update(const Tensor& config, Tensor& steps, int64_t index, Tensor& param,
                              const Tensor& grad, Tensor& sum) = 0;
  // One step of an optimizer over all its parameters that have gradients (one dtype and
  // device). By default each parameter's update above in turn; a device backend updates
  // them all in a few multi-tensor launches (two launches per step rather than per parameter).
  virtual void optimizer_update(OptimizerKind kind, const Tensor& config, Tensor& steps,
                                const std::vector<ParamUpdate>& params);

  // --- random.cpp: counter-based (Philox). `generator` (int64 {seed, offset}, see
  // core/rng.h) fixes the values; the kernel advances its offset by out.numel(). ---
  virtual void random_uniform(Tensor& out, double low, double high, Tensor& generator) = 0;
  virtual void random_normal(Tensor& out, double mean, double stddev, Tensor& generator) = 0;

  // --- conv.cpp: convolution lowered to gemm (see ConvGeometry) ---
  // cols (patch_rows, patch_size) = the patch under each output pixel of x; zero where the
  // kernel hangs over the padding.
  virtual void im2col(const Tensor& x, const ConvGeometry& geometry, Tensor& cols) = 0;
  // The adjoint: gx (batch, in_h, in_w, channels) = for every input pixel, the sum of the
  // cols entries that read it, in cols row order (deterministic, no atomics).
  virtual void col2im(const Tensor& cols, const ConvGeometry& geometry, Tensor& gx) = 0;
  // Direct convolution for inputs with few channels (first layers), no lowered matrix:
  // y (batch, out_h, out_w, filters) = x convolved with kernel, plus bias (F) where defined
  // (a pass over y fewer; no activation), and
  // gkernel (kernel_h, kernel_w, channels, filters) = sum over output pixels of each tap's
  // input value times gz (the gradient at y), and, where defined, gbias (filters) = the sum
  // of gz over pixels (the pass over gz the bias gradient would take on its own). Sums run
  // over taps, resp. pixels, in order.
  virtual void conv2d_direct_forward(const Tensor& x, const Tensor& kernel, const Tensor& bias,
                                     const ConvGeometry& geometry, Tensor& y) = 0;
  virtual void conv2d_direct_backward_kernel(const Tensor& x, const Tensor& gz,
                                             const ConvGeometry& geometry, Tensor& gkernel,
                                             Tensor& gbias) = 0;

  // --- conv_winograd.cpp: stride-1 3x3 convolutions as Winograd F(4x4, 3x3) (math/winograd.h),
  // 2.25-4x fewer multiply-adds than the lowered GEMM. Only a backend that says it has them
  // gets these calls (the CUDA backend lowers every convolution to cuBLAS). ---
  virtual bool has_winograd_conv() const { return false; }
  // u (36, C, F) = the kernel (3, 3, C, F) transformed per (channel, filter); with `flip`,
  // u (36, F, C) from the kernel rotated by 180 degrees with its channel axes swapped: the
  // convolution that takes gz back to gx.
  virtual void winograd_kernel_transform(const Tensor& kernel, bool flip, Tensor& u);
  // y (N, OH, OW, F) = x convolved with u's kernel (geometry: 3x3, stride 1, no dilation).
  virtual void conv2d_winograd_forward(const Tensor& x, const Tensor& u,
                                       const ConvGeometry& geometry, Tensor& y);
  // gkernel (3, 3, C, F) = the kernel's gradient for x and gz (N, OH, OW, F).
  virtual void conv2d_winograd_backward_kernel(const Tensor& x, const Tensor& gz,
                                               const ConvGeometry& geometry, Tensor& gkernel);

  // --- pool.cpp: x (N, H, W, C) -> y (N, OH, OW, C), channels last. Window (oh, ow) covers
  // rows oh * stride_h - pad_top + [0, pool_h) and the same for columns; padded positions
  // take no part (max ignores them, average divides by the valid count, as TensorFlow). ---
  // Max pooling keeps in `argmax` (int32, y's shape) the flat h * W + w of the first maximal
  // element of each window, which the backward routes the gradient to.
  virtual void max_pool2d_forward(const Pool2DGeometry& g, const Tensor& x, Tensor& y,
                                  Tensor& argmax) = 0;
  virtual void max_pool2d_backward(const Pool2DGeometry& g, const Tensor& gy, const Tensor& argmax,
                                   Tensor& gx) = 0;
  virtual void avg_pool2d_forward(const Pool2DGeometry& g, const Tensor& x, Tensor& y) = 0;
  virtual void avg_pool2d_backward(const Pool2DGeometry& g, const Tensor& gy, Tensor& gx) = 0;

  // --- dropout.cpp: `mask` has x's rank, each dim x's or 1 (broadcast: noise_shape,
  // SpatialDropout). Element i of the mask keeps (1 / (1 - rate)) or drops (0) by lane i % 4
  // of the Philox block at the generator's counter offset + i / 4 (math::dropout_threshold);
  // the kernel advances the generator by mask.numel(), as random_uniform would. y = x * mask.
  virtual void dropout_forward(const Tensor& x, double rate, Tensor& generator, Tensor& mask,
                               Tensor& y) = 0;
  // gx = gy * mask (broadcast as in the forward).
  virtual void dropout_backward(const Tensor& gy, const Tensor& mask, Tensor& gx) = 0;

  // --- rnn.cpp: recurrent cells, one step for the whole batch (math/rnn.h). N = batch,
  // U = units. keep (N), when defined, marks the step's rows to run (nonzero) or to skip
  // (0: a masked step, whose state carries h_prev/c_prev through unchanged); undefined runs
  // every row. Each backward takes dh (N, U) holding the gradient reaching h from the next
  // step and leaves in it the part of h_prev's gradient that does not go through the
  // recurrent kernel (zero for LSTM and SimpleRNN rows, dh * z for GRU rows, dh itself for
  // skipped rows): the op then adds dz @ R^T. dh_out (the gradient from the step's output;
  // may be undefined) is ignored on skipped rows, whose output is zero. Skipped rows get a
  // zero dz. ---
  // LSTM (Keras's gates i, f, c, o; tanh, sigmoid recurrent activation). gates (N, 4U)
  // holds z = x_t W + h_prev R (bias not yet added) on entry and the activated gates on
  // exit. bias (4U) may be undefined. h_prev, c_prev (N, U) -> c, h (N, U).
  virtual void lstm_cell_forward(const Tensor& bias, const Tensor& keep, const Tensor& h_prev,
                                 const Tensor& c_prev, Tensor& gates, Tensor& c, Tensor& h) = 0;
  // dc holds the gradient reaching c on entry and that of c_prev on exit; dz (N, 4U).
  virtual void lstm_cell_backward(const Tensor& gates, const Tensor& keep, const Tensor& c_prev,
                                  const Tensor& c, const Tensor& dh_out, Tensor& dh, Tensor& dc,
                                  Tensor& dz) = 0;
  // GRU (Keras's reset_after=True; gates z, r, h). gates (N, 3U): x_t W on entry, the
  // activated gates on exit; recurrent (N, 3U): h_prev R on entry; on exit its candidate
  // third (the only part the backward reads) has the recurrent bias added. bias (2, 3U)
  // (input, recurrent) may be undefined. h_prev -> h (N, U).
  virtual void gru_cell_forward(const Tensor& bias, const Tensor& keep, const Tensor& h_prev,
                                Tensor& gates, Tensor& recurrent, Tensor& h) = 0;
  // dz_input, dz_recurrent (N, 3U): the gradients of the input and recurrent parts.
  virtual void gru_cell_backward(const Tensor& gates, const Tensor& recurrent, const Tensor& keep,
                                 const Tensor& h_prev, const Tensor& dh_out, Tensor& dh,
                                 Tensor& dz_input, Tensor& dz_recurrent) = 0;
  // SimpleRNN: h (N, U) holds x_t W + h_prev R on entry and act(that + bias) on exit
  // (h_prev on skipped rows). act: one whose derivative is a function of its output (not
  // GELU).
  virtual void simple_rnn_cell_forward(Activation act, const Tensor& bias, const Tensor& keep,
                                       const Tensor& h_prev, Tensor& h) = 0;
  // h: the step's output; dz (N, U).
  virtual void simple_rnn_cell_backward(Activation act, const Tensor& h, const Tensor& keep,
                                        const Tensor& dh_out, Tensor& dh, Tensor& dz) = 0;
  // The recurrence of a recurrent layer (RnnRecurrence above).
  virtual void rnn_forward(const RnnRecurrence& r) = 0;
  virtual void rnn_backward(const RnnRecurrence& r, const Tensor& dH, bool with_initial_state,
                            Tensor& dh, Tensor& dc, Tensor& dZ, Tensor& dQ) = 0;
  // The mask of a padded batch of sequences: x (N, T, ...) of any dtype, out (N, T) float:
  // 1 where some element of the step differs from value, else 0 (Keras's Masking; ids
  // with value 0 for Embedding(mask_zero=True)).
  virtual void step_mask(const Tensor& x, double value, Tensor& out) = 0;
  // out (B, A, C) = x (A, B, C) with its two leading axes swapped (batch-first <-> time-
  // first sequences): out[b][a] = x[xa][xb], xa = reverse_a ? A-1-a : a, xb likewise; zero
  // where keep (A, B), when defined, has keep[xa][xb] == 0 (the masked steps of a sequence).
  virtual void swap_leading_axes(const Tensor& x, bool reverse_a, bool reverse_b,
                                 const Tensor& keep, Tensor& out) = 0;

  // --- norm.cpp: batch normalisation over the last axis of x (rows, C). gamma and beta
  // (C) may be undefined (scale / center off). training: mean and invstd (C, x's dtype) get
  // the batch's mean and 1 / sqrt(biased variance + epsilon), and the moving statistics are
  // updated in place, moving = momentum * moving + (1 - momentum) * batch (Keras); otherwise
  // mean and invstd come from the moving statistics. y = (x - mean) * invstd * gamma + beta.
  // unbiased_moving_variance: the moving variance takes the batch's unbiased variance
  // (PyTorch's BatchNorm) instead of the biased one that normalises (Keras's).
  virtual void batch_norm_forward(bool training, double momentum, double epsilon,
                                  bool unbiased_moving_variance, const Tensor& x,
                                  const Tensor& gamma, const Tensor& beta, Tensor& moving_mean,
                                  Tensor& moving_variance, Tensor& mean, Tensor& invstd,
                                  Tensor& y) = 0;
  // Gradients for the forward's mean/invstd; training also differentiates through the batch
  // statistics. gx, ggamma, gbeta: each undefined when not wanted.
  virtual void batch_norm_backward(bool training, const Tensor& x, const Tensor& gamma,
                                   const Tensor& mean, const Tensor& invstd, const Tensor& gy,
                                   Tensor& gx, Tensor& ggamma, Tensor& gbeta) = 0;
};

template <class Config>
Config read_config(const Tensor& t);
template <class Config>
void write_config(Tensor& t, const Config& c);

// An optimizer config as a tensor its update kernel reads (bytes in an int64 tensor), so a
// learning-rate change between replays reaches a recorded update without re-recording it.
// On a device, the kernel reads the struct from device memory; read_config and write_config
// are the host's (transfers), for kernels of the CPU backend and for the optimizer's getters.
template <class Config>
Tensor config_tensor(const Config& c, Device device = {}) {
  static_assert(std::is_trivially_copyable_v<Config>);
  Tensor t = Tensor::empty({int64_t((sizeof(Config) + 7) / 8)}, DType::Int64, device);
  write_config(t, c);
  return t;
}

// Errors kernels find in data the host never looked at (a label or an index out of range in
// a replayed step): an int64 {count, row, value, limit, source} per device, written by the
// kernel that found the first one, so no kernel waits for the host. Read where results are
// read.
Tensor& kernel_errors(Device device);
// Raises IndexError for a recorded error and clears it. The message names the error's
// source when one was set, else `who` (the reader: a loss, a pass).
void check_kernel_errors(Device device, const char* who);
// Who is launching kernels that may report, so a replayed error can name a layer: an int64
// per device holding 0 (nobody in particular) or an id from error_source_id. An op sets it
// with a fill launch before its kernels and clears it after, so replays set it too.
Tensor& kernel_error_source(Device device);
// A stable id (>= 1) for the name `who`, the same for the same name.
int64_t error_source_id(const std::string& who);
// Called by a CPU kernel (any thread) that found label or index `value` at position `row`
// outside [0, limit). A device's kernels write the same five values with their own atomics.
void report_out_of_range(Device device, int64_t row, int64_t value, int64_t limit);

// PyTorch's torch.set_float32_matmul_precision: "highest" (the default) computes float32
// GEMMs in float32; "high" and "medium" let a backend use TF32 tensor cores (the CUDA one;
// the CPU backend always computes in float32). A captured CUDA graph keeps the precision it
// was captured with.
void set_float32_matmul_precision(const std::string& precision);
std::string float32_matmul_precision();
bool float32_matmul_allows_tf32();

// How stride-1 3x3 convolutions compute, process-wide: "auto" (the default) takes Winograd
// F(4x4, 3x3) for float32 layers with at least 16 channels and filters where the backend has
// it (products at 36 points instead of 9 taps x 16 pixels: rounding within a few ulps of
// the lowered GEMM's, as cuDNN's Winograd), "gemm" always lowers to one GEMM (im2col), and
// "winograd" takes Winograd for every 3x3 stride-1 convolution it can compute, any float
// dtype and channel count (tests compare the two in float64). A captured step keeps the
// algorithm it was captured with.
void set_conv_algorithm(const std::string& algorithm);
std::string get_conv_algorithm();
enum class ConvAlgorithm { Auto, Gemm, Winograd };
ConvAlgorithm conv_algorithm_setting();  // the same, for the ops

// Reads of device data by the host (queries, numpy views, error checks): a debug counter
// that tests use to show a replayed epoch reads nothing.
void count_host_read();
int64_t host_read_count();

// The backend that runs kernels for `device`; raises ValueError naming what is missing (no
// backend library, no such device) if that device has none.
Backend& backend_for(Device device);
inline Backend& backend_of(const Tensor& t) {
  return backend_for(t.device());
}
// Called by a backend library when it loads.
void register_backend(DeviceKind kind, Backend* backend);
bool has_backend(DeviceKind kind);
// Loads a device backend's shared library (libfastnn_cuda.so) and runs its entry point
// `fastnn_backend_init`, which registers the backend when its device is usable. Returns ""
// on success, else why the device is unusable (the library or a dependency is missing, no
// GPU, no driver); that reason is also what backend_for says for the device kind from then
// on. Loading twice returns the first result.
std::string load_backend_library(DeviceKind kind, const std::string& path);
// Why `kind` has no backend (a sentence), for errors and `fastnn info`.
std::string backend_unavailable_reason(DeviceKind kind);

template <class Config>
Config read_config(const Tensor& t) {
  Config c;
  if (t.device().kind == DeviceKind::CPU) {
    std::memcpy(&c, t.raw(), sizeof(Config));
  } else {
    unsigned char bytes[(sizeof(Config) + 7) / 8 * 8];
    backend_of(t).copy_to_host(t, bytes);
    std::memcpy(&c, bytes, sizeof(Config));
  }
  return c;
}
template <class Config>
void write_config(Tensor& t, const Config& c) {
  unsigned char bytes[(sizeof(Config) + 7) / 8 * 8] = {};
  std::memcpy(bytes, &c, sizeof(Config));
  backend_of(t).copy_from_host(bytes, t);
}

}  // namespace fastnn
