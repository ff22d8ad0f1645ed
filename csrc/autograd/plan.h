// The plan: a training (or inference) step's kernels recorded once and replayed.
//
// While a Plan is capturing, every kernel launched on its device runs as usual and is also
// appended to the plan as a closure holding its tensors (so their buffers stay alive and are
// reused by every replay: no allocation, no autograd bookkeeping, no Python per op).
// Allocations and host-side checks (label ranges, NaN checks) happen only during the
// capture; the caller validates inputs up front. Optimizer steps are recorded whole, so their
// step counters and hyperparameters are read at replay time. The same plan is what the CUDA
// backend will capture as a graph.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/backend.h"

namespace fastnn {

class Plan {
 public:
  explicit Plan(Device device = {}) : device_(device) {}
  ~Plan();

  // Starts recording kernels launched on this thread for the plan's device.
  void begin_capture();
  // Stops recording. `params` are the tensors whose .grad the recorded backward writes:
  // their gradient buffers are remembered and re-attached before each replay (eager code
  // between replays may have replaced them).
  void end_capture(const std::vector<Tensor>& params);
  // Abandons a capture after an error; the plan stays empty.
  void abort_capture();
  bool capturing() const { return capturing_; }
  bool captured() const { return captured_; }

  // Runs the recorded kernels in order.
  void replay();
  size_t size() const { return steps_.size(); }

  // An accuracy metric summed by replay_batches: pred and target are tensors of the plan.
  struct Accuracy {
    AccuracyKind kind;
    double threshold;
    Tensor pred, target;
  };

  // Replays the plan once per batch, for `batches` batches of `inputs[i].size(0)` rows:
  // before batch b, rows order[first + b * rows .. first + (b + 1) * rows) of each source are
  // gathered into the matching input. Returns the sum over batches of the one-element `loss`
  // read after each replay, then of each metric's per-sample sum; raises ValueError at the
  // first NaN or infinite loss. A whole epoch of a captured training step thus runs without
  // returning to Python. (CPU tensors: the loss is read on the host.)
  std::vector<double> replay_batches(const std::vector<Tensor>& sources,
                                     const std::vector<Tensor>& inputs, const Tensor& order,
                                     int64_t first, int64_t batches, const Tensor& loss,
                                     const std::vector<Accuracy>& metrics = {});

  // Runs the plan `repeats` times, timing each recorded kernel: (kernel, best microseconds),
  // in order. For finding where a step's time goes; the parameters are updated as in replay.
  std::vector<std::pair<std::string, double>> profile(int repeats);

  // Used by the recording backend and by ops recorded whole (optimizer steps).
  void append(const char* name, std::function<void()> step) {
    names_.push_back(name);
    steps_.push_back(std::move(step));
  }

 private:
  Device device_;
  std::vector<std::function<void()>> steps_;
  std::vector<const char*> names_;                // the kernel each step launches, for profile()
  std::vector<std::pair<Tensor, Tensor>> grads_;  // (param, its gradient buffer)
  std::unique_ptr<Backend> recorder_;
  bool capturing_ = false, captured_ = false;
};

// The plan capturing on this thread, or null.
Plan* capturing_plan();

// Suspends recording in a scope (an op recorded whole runs its kernels unrecorded).
class CaptureSuspend {
 public:
  CaptureSuspend();
  ~CaptureSuspend();
  CaptureSuspend(const CaptureSuspend&) = delete;
  CaptureSuspend& operator=(const CaptureSuspend&) = delete;

 private:
  Plan* plan_;
  Backend* backend_;
  DeviceKind kind_;
};

}  // namespace fastnn
