// Differentiable ops: each validates its arguments (raising fastnn::Error that names the
// op, the argument, what was expected and what came), allocates its output, launches the
// device's forward kernel and, when gradients are needed, records a node whose backward
// launches the matching backward kernels. Forward and backward sit side by side per op.
#pragma once

#include <string>
#include <vector>

#include "autograd/node.h"
#include "core/backend.h"

namespace fastnn {

enum class Reduction : uint8_t { Mean, Sum, None };
Reduction reduction_from_name(const std::string& name, const char* who);

// --- dense.cpp ---
// The fused bias + activation epilogue of Dense and Conv, in place on y (the GEMM's output);
// returns the pre-activation z when a backward will need it (GELU), else undefined.
Tensor epilogue_forward(Activation act, double alpha, const Tensor& bias, Tensor& y,
                        bool grad);
// Its backward: gz = gy * act'(z or y), gy itself for a linear activation; and the bias
// gradient, gz (rows, features)'s column sums shaped (features).
Tensor epilogue_backward(Activation act, double alpha, const Tensor& z, const Tensor& y,
                         const Tensor& gy);
Tensor bias_gradient(const Tensor& gz, int64_t rows, int64_t features);
// y = act(x @ kernel + bias): x (..., in), kernel (in, out), bias (out) or undefined.
// kernel_transposed: kernel is (out, in), PyTorch's Linear layout (y = x @ kernel^T + b);
// BLAS reads either layout at the same speed, so no copy is made.
Tensor dense(const Tensor& x, const Tensor& kernel, const Tensor& bias, Activation act,
             double alpha, const char* who = "Dense", bool kernel_transposed = false);
// a (..., k) @ b (k, n).
Tensor matmul(const Tensor& a, const Tensor& b);

// --- elementwise.cpp ---
// numpy broadcasting; both operands of one float dtype.
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& x, double alpha);                                   // alpha * x
Tensor sum(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims);  // {} = all
Tensor mean(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims);
// l1 * sum(|w|) + l2 * sum(w^2), a scalar.
Tensor weight_penalty(const Tensor& w, double l1, double l2);

// --- activation.cpp ---
Tensor activation(Activation act, const Tensor& x, double alpha = 0.0);
Tensor softmax(const Tensor& x, int64_t axis = -1);
Tensor log_softmax(const Tensor& x, int64_t axis = -1);

// --- shape.cpp ---
Tensor reshape(const Tensor& x, Shape shape);  // one -1 allowed
Tensor flatten(const Tensor& x);               // (N, ...) -> (N, prod(...))
Tensor concat(const std::vector<Tensor>& inputs, int64_t axis);
Tensor slice_rows(const Tensor& x, int64_t begin, int64_t end);  // view along axis 0
Tensor take_rows(const Tensor& x, const Tensor& index);          // x[index] along axis 0
Tensor to_dtype(const Tensor& x, DType dtype);
// Element i of t (flat), as an error message shows it: integers exactly.
std::string element_text(const Tensor& t, int64_t i);
// Rows of `weights` (input_dim, output_dim) at `ids` (any shape; int32, int64 or integral
// floats), shape ids.shape + (output_dim,); the gradient scatter-adds rows in id order. Bad ids
// raise IndexError naming `who` here, or, when a replay brings them, in check_kernel_errors.
Tensor embedding(const Tensor& weights, const Tensor& ids, const std::string& who);

// --- loss.cpp ---
// Keras names: mean_squared_error, mean_absolute_error, binary_crossentropy,
// categorical_crossentropy, sparse_categorical_crossentropy (and short forms mse, mae).
LossKind loss_kind_from_name(const std::string& name, bool from_logits, const char* who);
Tensor loss(LossKind kind, const Tensor& pred, const Tensor& target, Reduction reduction,
            const char* who);
// PyTorch's cross_entropy on logits x (R, C) with class indices target (R, int32/int64), class
// weights (C, x's dtype; undefined: all 1, a constant either way), ignore_index and label
// smoothing, in one kernel each way. Mean divides by the kept rows' summed weights (NaN when
// every row is ignored, with a zero gradient, as torch). Labels outside [0, C) that are not
// ignore_index raise IndexError here, or from check_kernel_errors when a replay brings them.
Tensor index_cross_entropy(const Tensor& x, const Tensor& target, const Tensor& weight,
                           int64_t ignore_index, double smoothing, Reduction reduction,
                           const char* who);

// --- conv.cpp ---
// "valid" (no padding), "same" (TensorFlow's: out = ceil(in / stride), the odd pixel of
// padding at the bottom/right) or "explicit" (the pad_* sizes of ConvOptions).
enum class ConvPadding : uint8_t { Valid, Same, Explicit };
ConvPadding conv_padding_from_name(const std::string& name, const char* who);
struct ConvOptions {
  int64_t stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  ConvPadding padding = ConvPadding::Valid;
  int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;  // Explicit only
};
// y = act(conv(x, kernel) + bias), channels-last, Keras kernel layouts; bias (F) or
// undefined. Conv2D: x (N, H, W, C), kernel (KH, KW, C, F) -> (N, OH, OW, F).
Tensor conv2d(const Tensor& x, const Tensor& kernel, const Tensor& bias, const ConvOptions& options,
              Activation act, double alpha, const char* who = "Conv2D");
// Conv1D: x (N, T, C), kernel (K, C, F) -> (N, OT, F); reads the *_w and left/right fields.
Tensor conv1d(const Tensor& x, const Tensor& kernel, const Tensor& bias, const ConvOptions& options,
              Activation act, double alpha, const char* who = "Conv1D");

// --- pool.cpp --- (channels last; padding "valid" or "same", TensorFlow's rule)
// x (N, H, W, C) -> (N, OH, OW, C).
Tensor pool2d(const Tensor& x, bool max, int64_t pool_h, int64_t pool_w, int64_t stride_h,
              int64_t stride_w, const std::string& padding, const char* who);
// x (N, T, C) -> (N, OT, C).
Tensor pool1d(const Tensor& x, bool max, int64_t pool, int64_t stride, const std::string& padding,
              const char* who);
// x (N, H, W, C) -> (N, C).
Tensor global_pool2d(const Tensor& x, bool max, const char* who);

// --- dropout.cpp ---
// Inverted dropout (kept values scaled by 1 / (1 - rate)); the identity when not training or
// rate is 0. noise_shape: the mask's shape (x's rank, each dim x's or 1), {} = x's shape.
// generator: an int64 {seed, offset} tensor of the layer's own (Keras's seed=), or undefined
// for the device's global generator. mask_out, when given, receives the mask drawn (left
// undefined when dropout is the identity): Layer.backward reuses it instead of drawing anew.
Tensor dropout(const Tensor& x, double rate, const Shape& noise_shape, bool training,
               const Tensor& generator, const char* who, Tensor* mask_out = nullptr);

// --- norm.cpp ---
// Batch normalisation over the last axis of x (..., C); gamma/beta (C) may be undefined.
// Training uses the batch's statistics and updates moving_mean/moving_variance in place
// (moving = momentum * moving + (1 - momentum) * batch; PyTorch's momentum m is 1 - m here),
// the variance biased (Keras) or, with unbiased_moving_variance, unbiased (PyTorch).
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                  const Tensor& moving_mean, const Tensor& moving_variance, bool training,
                  double momentum, double epsilon, const char* who,
                  bool unbiased_moving_variance = false);

// --- rnn.cpp ---
// "simple_rnn", "lstm", "gru".
RnnCell rnn_cell_from_name(const std::string& name);
struct RnnOptions {
  bool go_backwards = false;             // run over the reversed sequence
  bool sequence_in_input_order = false;  // with go_backwards: sequence[:, t] is input step t's
  bool return_sequences = true;          // whether to make `sequence` at all
  // Recurrent dropout: (N, U), 0 or 1 / (1 - rate) (a dropout mask), multiplying h before
  // every recurrent GEMM (the same mask at every step and for every gate; no gradient).
  // Undefined: none.
  Tensor recurrent_mask;
};
struct RnnOutputs {
  Tensor sequence;  // (N, T, U): h at every step, zero at masked steps (or undefined)
  Tensor h_last;    // (N, U): the state after the last step that was not masked
  Tensor c_last;    // (N, U): LSTM only
};
// Keras's SimpleRNN (activation), LSTM (tanh, sigmoid recurrent activation, gates i, f, c, o)
// or GRU (reset_after=True, gates z, r, h) over x (N, T, F): kernel (F, G), recurrent_kernel
// (U, G), bias (G,) (GRU: (2, G), input and recurrent) or undefined; G = U, 4U or 3U.
// h0/c0 (N, U) or undefined (zeros; c0 for LSTM only). mask (N, T) of x's dtype or
// undefined: steps where it is 0 are skipped (the state carries through), as Keras's masks
// do. One autograd node whose outputs may be used in any combination.
RnnOutputs rnn(RnnCell cell, Activation activation, const Tensor& x, const Tensor& kernel,
               const Tensor& recurrent_kernel, const Tensor& bias, const Tensor& h0,
               const Tensor& c0, const Tensor& mask, const RnnOptions& options, const char* who);
// (N, T) of dtype: 1 where step x[n, t] (an id, or a (...) block of values) differs from
// value anywhere, else 0. The mask Embedding(mask_zero=True) and Masking make; no gradient.
Tensor step_mask(const Tensor& x, double value, DType dtype, const char* who);

}  // namespace fastnn
