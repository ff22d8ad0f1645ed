// The CPU backend: kernels in one file per family (gemm.cpp, activation.cpp, ...), each a
// loop over the per-element math in csrc/math, parallelised with parallel_for where the work
// is large enough to pay for handing chunks to the pool (grains below).
#pragma once

#include <algorithm>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/backend.h"

namespace fastnn {

class CpuBackend : public Backend {
 public:
  const char* name() const override { return "cpu"; }

  std::shared_ptr<Storage> allocate(size_t nbytes, Device device) override;
  void copy(const Tensor& src, Tensor& dst) override;
  void cast(const Tensor& src, Tensor& dst) override;
  void fill(Tensor& out, double value) override;
  void copy_from_host(const void* src, Tensor& dst) override;
  void copy_to_host(const Tensor& src, void* dst) override;
  void synchronize() override {}  // kernels return when done

  void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
            const Tensor& a, const Tensor& b, double beta, Tensor& c) override;

  void activation_forward(Activation act, double alpha, const Tensor& x, Tensor& y) override;
  void activation_backward(Activation act, double alpha, const Tensor& x, const Tensor& y,
                           const Tensor& gy, Tensor& gx) override;
  void bias_activation_forward(Activation act, double alpha, const Tensor& bias, Tensor& y,
                               Tensor& z) override;
  void softmax_forward(bool log, const Tensor& x, Tensor& y) override;
  void softmax_backward(bool log, const Tensor& y, const Tensor& gy, Tensor& gx) override;

  void binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) override;
  void axpby(double alpha, const Tensor& x, double beta, Tensor& out) override;
  void sum_to(const Tensor& x, Tensor& out) override;
  void broadcast_to(const Tensor& x, double alpha, Tensor& out) override;
  bool all_finite(const Tensor& x) override;
  void penalty_forward(const Tensor& w, double l1, double l2, Tensor& out) override;
  void penalty_backward(const Tensor& w, double l1, double l2, const Tensor& gout,
                        Tensor& gw) override;

  void concat(const std::vector<Tensor>& inputs, int64_t axis, Tensor& out) override;
  void slice_axis(const Tensor& x, int64_t axis, int64_t begin, Tensor& out) override;
  void take_rows(const Tensor& x, const Tensor& index, Tensor& out) override;
  void scatter_add_rows(const Tensor& g, const Tensor& index, Tensor& out) override;
  int64_t find_index_out_of_range(const Tensor& index, int64_t limit) override;

  void compare(CompareOp op, const Tensor& a, const Tensor& b, Tensor& out) override;
  void unary_forward(UnaryOp op, const Tensor& x, Tensor& out) override;
  void unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy,
                      Tensor& gx) override;
  void binary_backward(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out,
                       const Tensor& gy, Tensor& ga, Tensor& gb) override;
  void clamp_forward(const Tensor& x, double low, double high, Tensor& out) override;
  void clamp_backward(const Tensor& x, double low, double high, const Tensor& gy,
                      Tensor& gx) override;
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out) override;

  void arg_reduce(bool is_max, const Tensor& x, int64_t axis, Tensor& values,
                  Tensor& indices) override;
  void int_sum_axis(const Tensor& x, int64_t axis, Tensor& out) override;
  void prod_axis(const Tensor& x, int64_t axis, Tensor& out) override;
  void prod_backward_axis(const Tensor& x, const Tensor& gy, int64_t axis, Tensor& gx) override;
  void gather_axis(const Tensor& x, const Tensor& index, int64_t axis, Tensor& out) override;
  void scatter_add_axis(const Tensor& src, const Tensor& index, int64_t axis,
                        Tensor& out) override;

  void strided_copy(const Tensor& x, const StridedLayout& L, Tensor& out) override;
  void strided_assign(const Tensor& src, const StridedLayout& L, Tensor& dst) override;
  void index_assign_rows(const Tensor& src, const Tensor& index, Tensor& out) override;
  void arange_fill(Tensor& out, double start, double step) override;

  void loss_forward(LossKind kind, const Tensor& pred, const Tensor& target, Tensor& loss) override;
  void loss_backward(LossKind kind, const Tensor& pred, const Tensor& target, const Tensor& gloss,
                     Tensor& gpred) override;

  void accuracy_accumulate(AccuracyKind kind, double threshold, const Tensor& pred,
                           const Tensor& target, Tensor& total) override;
  void loss_accumulate(const Tensor& loss, double weight, Tensor& totals) override;
  void index_crossentropy_forward(const Tensor& x, const Tensor& target, const Tensor& weight,
                                  int64_t ignore_index, double smoothing, Tensor& loss,
                                  Tensor& row_weight) override;
  void index_crossentropy_backward(const Tensor& x, const Tensor& target, const Tensor& weight,
                                   int64_t ignore_index, double smoothing, const Tensor& gloss,
                                   Tensor& gx) override;

  void sgd_update(const Tensor& config, Tensor& steps, int64_t index, Tensor& param,
                  const Tensor& grad, Tensor& momentum) override;
  void adam_update(const Tensor& config, Tensor& steps, int64_t index, Tensor& param,
                   const Tensor& grad, Tensor& m, Tensor& v, Tensor& v_max) override;
  void rmsprop_update(const Tensor& config, Tensor& steps, int64_t index, Tensor& param,
                      const Tensor& grad, Tensor& square_avg, Tensor& momentum,
                      Tensor& grad_avg) override;
  void adagrad_update(const Tensor& config, Tensor& steps, int64_t index, Tensor& param,
                      const Tensor& grad, Tensor& sum) override;

  void random_uniform(Tensor& out, double low, double high, Tensor& generator) override;
  void random_normal(Tensor& out, double mean, double stddev, Tensor& generator) override;

  void im2col(const Tensor& x, const ConvGeometry& geometry, Tensor& cols) override;
  void col2im(const Tensor& cols, const ConvGeometry& geometry, Tensor& gx) override;
  void conv2d_direct_forward(const Tensor& x, const Tensor& kernel, const Tensor& bias,
                             const ConvGeometry& geometry, Tensor& y) override;
  void conv2d_direct_backward_kernel(const Tensor& x, const Tensor& gz, const ConvGeometry& geometry,
                                     Tensor& gkernel, Tensor& gbias) override;
  bool has_winograd_conv() const override { return true; }
  void winograd_kernel_transform(const Tensor& kernel, bool flip, Tensor& u) override;
  void conv2d_winograd_forward(const Tensor& x, const Tensor& u, const ConvGeometry& geometry,
                               Tensor& y) override;
  void conv2d_winograd_backward_kernel(const Tensor& x, const Tensor& gz,
                                       const ConvGeometry& geometry, Tensor& gkernel) override;

  void max_pool2d_forward(const Pool2DGeometry& g, const Tensor& x, Tensor& y,
                          Tensor& argmax) override;
  void max_pool2d_backward(const Pool2DGeometry& g, const Tensor& gy, const Tensor& argmax,
                           Tensor& gx) override;
  void avg_pool2d_forward(const Pool2DGeometry& g, const Tensor& x, Tensor& y) override;
  void avg_pool2d_backward(const Pool2DGeometry& g, const Tensor& gy, Tensor& gx) override;

  void dropout_forward(const Tensor& x, double rate, Tensor& generator, Tensor& mask,
                       Tensor& y) override;
  void dropout_backward(const Tensor& gy, const Tensor& mask, Tensor& gx) override;

  void lstm_cell_forward(const Tensor& bias, const Tensor& keep, const Tensor& h_prev,
                         const Tensor& c_prev, Tensor& gates, Tensor& c, Tensor& h) override;
  void lstm_cell_backward(const Tensor& gates, const Tensor& keep, const Tensor& c_prev,
                          const Tensor& c, const Tensor& dh_out, Tensor& dh, Tensor& dc,
                          Tensor& dz) override;
  void gru_cell_forward(const Tensor& bias, const Tensor& keep, const Tensor& h_prev,
                        Tensor& gates, Tensor& recurrent, Tensor& h) override;
  void gru_cell_backward(const Tensor& gates, const Tensor& recurrent, const Tensor& keep,
                         const Tensor& h_prev, const Tensor& dh_out, Tensor& dh, Tensor& dz_input,
                         Tensor& dz_recurrent) override;
  void simple_rnn_cell_forward(Activation act, const Tensor& bias, const Tensor& keep,
                               const Tensor& h_prev, Tensor& h) override;
  void simple_rnn_cell_backward(Activation act, const Tensor& h, const Tensor& keep,
                                const Tensor& dh_out, Tensor& dh, Tensor& dz) override;
  void rnn_forward(const RnnRecurrence& r) override;
  void rnn_backward(const RnnRecurrence& r, const Tensor& dH, bool with_initial_state, Tensor& dh,
                    Tensor& dc, Tensor& dZ, Tensor& dQ) override;
  void step_mask(const Tensor& x, double value, Tensor& out) override;
  void swap_leading_axes(const Tensor& x, bool reverse_a, bool reverse_b, const Tensor& keep,
                         Tensor& out) override;

  void batch_norm_forward(bool training, double momentum, double epsilon,
                          bool unbiased_moving_variance, const Tensor& x,
                          const Tensor& gamma, const Tensor& beta, Tensor& moving_mean,
                          Tensor& moving_variance, Tensor& mean, Tensor& invstd,
                          Tensor& y) override;
  void batch_norm_backward(bool training, const Tensor& x, const Tensor& gamma, const Tensor& mean,
                           const Tensor& invstd, const Tensor& gy, Tensor& gx, Tensor& ggamma,
                           Tensor& gbeta) override;
};

// Elements per parallel chunk for cheap per-element loops (a few microseconds of one core:
// handing a chunk to the pool's polling worker costs well under one).
constexpr int64_t kElementwiseGrain = 1 << 15;
// For loops that evaluate an exp or a division per element (sigmoid, tanh, ...).
constexpr int64_t kTranscendentalGrain = 1 << 12;
// Rows per chunk for a loop over rows of C elements, from a per-element grain.
inline int64_t row_grain(int64_t grain, int64_t C) {
  return C > 0 ? std::max<int64_t>(1, grain / C) : grain;
}

// Scratch memory for a kernel: `count` values of slot `slot`, kept per thread and grown
// once, so a replayed step makes no heap allocation. Contents are left from the last use.
// Buffers a kernel holds at the same time take different slots (a buffer is per type, so a
// float kernel's values and its double accumulators may share a slot number; a double
// kernel's may not).
constexpr int kScratchSlots = 4;
template <class T>
T* scratch(int slot, size_t count) {
  static_assert(std::is_trivially_copyable_v<T>, "scratch holds plain values");
  thread_local std::vector<T> buffers[kScratchSlots];
  std::vector<T>& buffer = buffers[slot];
  if (buffer.size() < count) buffer.resize(count);
  return buffer.data();
}

// Element i of a tensor of any dtype as a double (targets: labels may come as ints or
// floats), and as a class label.
inline double value_of(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::Float32:
      return t.data<float>()[i];
    case DType::Float64:
      return t.data<double>()[i];
    case DType::Int32:
      return t.data<int32_t>()[i];
    case DType::Int64:
      return static_cast<double>(t.data<int64_t>()[i]);
    case DType::Bool:
      return t.data<bool>()[i] ? 1.0 : 0.0;
  }
  return 0;
}
inline int64_t label_at(const Tensor& t, int64_t i) {
  return t.dtype() == DType::Int64 ? t.data<int64_t>()[i] : static_cast<int64_t>(value_of(t, i));
}

// Rows and columns of a tensor viewed as a matrix over its last axis.
inline int64_t last_dim(const Tensor& t) {
  return t.dim() == 0 ? 1 : t.shape().back();
}
inline int64_t leading_rows(const Tensor& t) {
  int64_t c = last_dim(t);
  return c == 0 ? 0 : t.numel() / c;
}

// (seed, first counter) of a draw of `count` values, advancing the generator past it
// (random.cpp, dropout.cpp).
inline std::pair<uint64_t, uint64_t> take_counters(Tensor& generator, int64_t count) {
  uint64_t* state = generator.data<uint64_t>();
  uint64_t offset = state[1];
  state[1] += static_cast<uint64_t>(count);
  return {state[0], offset};
}

// Registers a stand-in CUDA backend whose `devices` devices are host memory running the CPU
// kernels (cpu/emulated_device.cpp: for testing the device paths without a GPU); false when a
// CUDA backend is already registered.
bool register_emulated_cuda(int devices);

}  // namespace fastnn
