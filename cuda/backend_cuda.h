// The CUDA backend: kernels in one file per family, mirroring csrc/cpu file by file
// (activation.cu <-> activation.cpp, ...), each a grid-stride loop over the per-element math in
// csrc/math, GEMMs through cuBLAS. Every kernel of a device runs on that device's one stream,
// in launch order, with no host synchronisation: results reach the host only through
// copy_to_host (and the queries all_finite / find_index_out_of_range, which are host reads).
// Memory comes from CUDA's stream-ordered pool (cudaMallocAsync on that stream).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/backend.h"

namespace fastnn {

// What the backend keeps per device, made on its first use.
// Two pinned host buffers through which host data travels to and from the device
// (memory.cu): a copy from pageable memory is staged by the driver and blocks; from pinned
// memory it is a DMA on the stream. Uploads alternate between the buffers, so filling one
// overlaps the other's transfer; an event per buffer says when its last transfer is done.
struct PinnedStaging {
  static constexpr size_t kBytes = size_t(4) << 20;  // per buffer
  void* buffer[2] = {nullptr, nullptr};
  cudaEvent_t done[2] = {nullptr, nullptr};
  int next = 0;
  bool usable = false;  // false: pinned memory was refused, transfers go from pageable memory
  std::mutex mutex;
};

struct CudaDeviceState {
  int index = 0;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  void* cublas_workspace = nullptr;  // cuBLAS's own, set once so a graph capture allocates none
  cudaDeviceProp properties{};
  PinnedStaging staging;
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device_count);
  ~CudaBackend() override;
  const char* name() const override { return "cuda"; }
  int device_count() const override { return device_count_; }
  std::string device_name(int index) const override;

  // The device's state, with the device made current on this thread: every method starts
  // with `auto& dev = state(out.device())` and launches on dev.stream.
  CudaDeviceState& state(Device device);

  std::shared_ptr<Storage> allocate(size_t nbytes, Device device) override;
  void copy(const Tensor& src, Tensor& dst) override;
  void cast(const Tensor& src, Tensor& dst) override;
  void fill(Tensor& out, double value) override;
  void copy_from_host(const void* src, Tensor& dst) override;
  void copy_to_host(const Tensor& src, void* dst) override;
  void synchronize() override;
  std::shared_ptr<void> capture_graph(Device device,
                                      const std::function<void()>& launches) override;
  void launch_graph(Device device, void* graph) override;

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
  void optimizer_update(OptimizerKind kind, const Tensor& config, Tensor& steps,
                        const std::vector<ParamUpdate>& params) override;

  void random_uniform(Tensor& out, double low, double high, Tensor& generator) override;
  void random_normal(Tensor& out, double mean, double stddev, Tensor& generator) override;

  void im2col(const Tensor& x, const ConvGeometry& geometry, Tensor& cols) override;
  void col2im(const Tensor& cols, const ConvGeometry& geometry, Tensor& gx) override;
  void conv2d_direct_forward(const Tensor& x, const Tensor& kernel, const Tensor& bias,
                             const ConvGeometry& geometry, Tensor& y) override;
  void conv2d_direct_backward_kernel(const Tensor& x, const Tensor& gz, const ConvGeometry& geometry,
                                     Tensor& gkernel, Tensor& gbias) override;

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

 private:
  int device_count_ = 0;
  std::mutex mutex_;
  std::vector<std::unique_ptr<CudaDeviceState>> states_;
};

}  // namespace fastnn
