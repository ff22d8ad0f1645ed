// The plan: a training (or inference) step's kernels recorded once and replayed.
//
// While a Plan is capturing, every kernel launched on this thread (FASTNN_LAUNCH,
// core/launch.h) runs as usual and is also appended to the plan with copies of its
// arguments, so its buffers stay alive and every replay reuses them: no allocation, no
// autograd bookkeeping, no Python per op. Allocations, argument checks and queries (label
// ranges, NaN checks) run only during the capture.
//
// The contract that lets a device backend turn a plan into one graph (a CUDA graph) as it is:
// - everything a step reads that changes between steps is a tensor the kernels read: the
//   batch (the plan's input buffers), the generator's position (core/rng.h), the optimizers'
//   configs and step counts (ops/optimizer.h);
// - a replay performs no host read: losses and metrics accumulate into tensors
//   (replay_batches), kernels that meet a bad label record it in kernel_errors() instead of
//   reading out of bounds, and the host reads both only where someone looks;
// - what a plan could not replay — a host read of a tensor or a tensor made from host data
//   inside the step — is noted while capturing (refuse) and the caller then runs that step
//   eagerly.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/launch.h"

namespace fastnn {

class Plan final : public Recorder {
 public:
  Plan() = default;
  ~Plan() override;

  // Starts recording kernels launched on this thread.
  void begin_capture();
  // Stops recording. `params` are the tensors whose .grad the recorded backward writes:
  // their gradient buffers are remembered and re-attached before each replay (eager code
  // between replays may have replaced them).
  void end_capture(const std::vector<Tensor>& params);
  // Abandons a capture after an error; the plan stays empty.
  void abort_capture();
  bool capturing() const { return capturing_; }
  bool captured() const { return captured_; }

  // Notes, during a capture, something the plan cannot replay (the first reason is kept).
  void refuse(const std::string& reason);
  // Why this plan must not be replayed, or "" when it can be.
  const std::string& refusal() const { return refusal_; }

  // Runs the recorded kernels in order: on a device that has graphs, as one graph captured
  // at the first replay.
  void replay();
  size_t size() const { return steps_.size(); }

  // An accuracy metric accumulated by replay_batches into total (float64, one element):
  // pred and target are tensors of the plan.
  struct Accuracy {
    AccuracyKind kind;
    double threshold;
    Tensor pred, target, total;
  };

  // Replays the plan once per batch, for `batches` batches of `inputs[i].size(0)` rows:
  // before batch b, rows order[first + b * rows .. first + (b + 1) * rows) of each source are
  // gathered into the matching input; after it, the one-element `loss` is accumulated into
  // `totals` (loss_accumulate, weighted by the rows) and each metric into its total. Nothing
  // is read back: a whole epoch of a captured training step runs without returning to
  // Python or reading a value. `between_batches` runs before each batch and may throw to stop
  // at a step boundary (the bindings check for Ctrl-C there).
  // `losses`: further one-element losses of the plan (a model's per-output losses), each
  // accumulated into its own totals like `loss`.
  void replay_batches(const std::vector<Tensor>& sources, const std::vector<Tensor>& inputs,
                      const Tensor& order, int64_t first, int64_t batches, const Tensor& loss,
                      Tensor& totals, const std::vector<Accuracy>& metrics = {},
                      const std::function<void()>& between_batches = {},
                      const std::vector<std::pair<Tensor, Tensor>>& losses = {});

  // Runs the plan `repeats` times, timing each recorded kernel: (kernel, best microseconds),
  // in order. For finding where a step's time goes; the parameters are updated as in replay.
  std::vector<std::pair<std::string, double>> profile(int repeats);

  void record(const char* kernel, std::function<void()> run) override {
    names_.push_back(kernel);
    steps_.push_back(std::move(run));
  }

 private:
  void attach_grads();

  std::vector<std::function<void()>> steps_;
  std::vector<const char*> names_;                // the kernel each step launches, for profile()
  std::vector<std::pair<Tensor, Tensor>> grads_;  // (param, its gradient buffer)
  std::string refusal_;
  bool capturing_ = false, captured_ = false;
  Device device_;                // the parameters' (the CPU for a plan without any)
  std::shared_ptr<void> graph_;  // the device graph of steps_, once captured
};

// The plan capturing on this thread, or null.
Plan* capturing_plan();

// Suspends recording in a scope: what runs inside (state an op creates once, data imported
// for the capture) is not part of the replays.
class CaptureSuspend {
 public:
  CaptureSuspend() : recorder_(active_recorder()) { set_active_recorder(nullptr); }
  ~CaptureSuspend() { set_active_recorder(recorder_); }
  CaptureSuspend(const CaptureSuspend&) = delete;
  CaptureSuspend& operator=(const CaptureSuspend&) = delete;

 private:
  Recorder* recorder_;
};

}  // namespace fastnn
