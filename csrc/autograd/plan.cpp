#include "autograd/plan.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace fastnn {

Plan* capturing_plan() {
  return dynamic_cast<Plan*>(active_recorder());
}

Plan::~Plan() {
  if (capturing_) abort_capture();
}

void Plan::begin_capture() {
  FASTNN_CHECK(!capturing_ && !captured_, Runtime, "Plan: already ",
               capturing_ ? "capturing" : "captured", "; make a new plan for another step");
  FASTNN_CHECK(active_recorder() == nullptr, Runtime,
               "Plan: another capture is in progress on this thread");
  set_active_recorder(this);
  capturing_ = true;
}

void Plan::end_capture(const std::vector<Tensor>& params) {
  FASTNN_CHECK(capturing_, Runtime, "Plan: end_capture without begin_capture");
  if (!params.empty()) device_ = params.front().device();
  // A device plan replays as one graph, which cannot hold a step that decides at replay
  // time: there the pending copies run now and every replay repeats them.
  resolve_deferred(device_.kind == DeviceKind::CPU);
  set_active_recorder(nullptr);
  capturing_ = false;
  captured_ = true;
  for (const Tensor& p : params) grads_.push_back({p, p.grad()});
}

void Plan::abort_capture() {
  forget_deferred();
  if (active_recorder() == this) set_active_recorder(nullptr);
  capturing_ = false;
  steps_.clear();
  names_.clear();
  grads_.clear();
}

void Plan::refuse(const std::string& reason) {
  if (refusal_.empty()) refusal_ = reason;
}

void Plan::attach_grads() {
  FASTNN_CHECK(captured_, Runtime, "Plan: replay before a completed capture");
  FASTNN_CHECK(refusal_.empty(), Runtime, "Plan: this step cannot be replayed: ", refusal_);
  for (auto& [param, grad] : grads_)
    if (grad.defined()) param.set_grad(grad);
}

std::vector<std::pair<std::string, double>> Plan::profile(int repeats) {
  FASTNN_CHECK(repeats > 0, Value, "Plan.profile: expected repeats > 0, got ", repeats);
  attach_grads();
  std::vector<double> best(steps_.size(), 1e30);
  for (int r = 0; r < repeats; ++r) {
    for (size_t i = 0; i < steps_.size(); ++i) {
      auto start = std::chrono::steady_clock::now();
      steps_[i]();
      double us =
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
              .count();
      best[i] = std::min(best[i], us);
    }
  }
  std::vector<std::pair<std::string, double>> out;
  for (size_t i = 0; i < steps_.size(); ++i) out.push_back({names_[i], best[i]});
  return out;
}

void Plan::replay() {
  attach_grads();
  if (device_.kind != DeviceKind::CPU) {
    Backend& backend = backend_for(device_);
    if (!graph_)
      graph_ = backend.capture_graph(device_, [this] {
        for (auto& step : steps_) step();
      });
    if (graph_) {
      backend.launch_graph(device_, graph_.get());
      return;
    }
  }
  for (auto& step : steps_) step();
}

void Plan::replay_batches(const std::vector<Tensor>& sources, const std::vector<Tensor>& inputs,
                          const Tensor& order, int64_t first, int64_t batches, const Tensor& loss,
                          Tensor& totals, const std::vector<Accuracy>& metrics,
                          const std::function<void()>& between_batches,
                          const std::vector<std::pair<Tensor, Tensor>>& losses) {
  const char* who = "Plan.replay_batches";
  FASTNN_CHECK(sources.size() == inputs.size() && !inputs.empty(), Value, who,
               ": expected one source per input, got ", sources.size(), " and ", inputs.size());
  FASTNN_CHECK(order.dtype() == DType::Int64 && order.dim() == 1 &&
                   order.device().kind == DeviceKind::CPU,
               Type, who, ": expected an int64 vector of row indices in host memory");
  FASTNN_CHECK(loss.numel() == 1 && is_floating(loss.dtype()), Value, who,
               ": expected a one-element float loss");
  FASTNN_CHECK(totals.numel() == 3 && totals.dtype() == DType::Float64, Value, who,
               ": expected float64 totals of 3 elements");
  const int64_t rows = inputs[0].size(0);
  for (size_t i = 0; i < inputs.size(); ++i) {
    Shape row_shape(inputs[i].shape().begin() + 1, inputs[i].shape().end());
    Shape source_row(sources[i].shape().begin() + 1, sources[i].shape().end());
    FASTNN_CHECK(inputs[i].size(0) == rows && row_shape == source_row &&
                     sources[i].dtype() == inputs[i].dtype(),
                 Value, who, ": source ", i, " of shape ", shape_str(sources[i].shape()),
                 " does not fill input ", i, " of shape ", shape_str(inputs[i].shape()));
    FASTNN_CHECK(sources[i].device() == inputs[i].device(), Value, who, ": source ", i,
                 " is on ", sources[i].device().name(), " but the plan's input is on ",
                 inputs[i].device().name(), "; upload the data to the plan's device first");
  }
  FASTNN_CHECK(first >= 0 && batches >= 0 && first + batches * rows <= order.numel(), Index, who,
               ": ", batches, " batches of ", rows, " rows from row ", first, " run past the ",
               order.numel(), " indices given");
  // The order is the caller's host array, not device data.
  const int64_t* index = order.data<int64_t>();
  for (int64_t i = first; i < first + batches * rows; ++i)
    for (const Tensor& source : sources)
      FASTNN_CHECK(index[i] >= 0 && index[i] < source.size(0), Index, who, ": row index ", index[i],
                   " out of range for ", source.size(0), " rows");
  check_same_device(loss, totals, who, "totals");
  for (const auto& [value, total] : losses)
    FASTNN_CHECK(value.defined() && value.numel() == 1 && is_floating(value.dtype()) &&
                     total.numel() == 3 && total.dtype() == DType::Float64,
                 Value, who, ": expected each further loss to be one float element with float64 "
                 "totals of 3 elements");
  for (const Accuracy& m : metrics)
    FASTNN_CHECK(m.pred.defined() && m.target.defined() && m.total.defined() &&
                     m.total.dtype() == DType::Float64,
                 Value, who, ": a metric needs the step's prediction and target and a total");
  for (const auto& [value, total] : losses) check_same_device(value, total, who, "a loss's totals");
  for (const Accuracy& m : metrics) {
    check_same_device(m.pred, m.target, who, "a metric's target");
    check_same_device(m.pred, m.total, who, "a metric's total");
  }
  // Each batch's indices are copied into one index tensor (a view per batch would be a
  // heap allocation per step). On a device, the call's indices go up in one transfer and
  // each batch gathers through a view of them.
  const Device device = inputs[0].device();
  const bool on_host = device.kind == DeviceKind::CPU;
  Tensor batch_index = on_host ? Tensor::empty({rows}, DType::Int64) : Tensor();
  Tensor device_order;
  if (!on_host && batches > 0) {
    device_order = Tensor::empty({batches * rows}, DType::Int64, device);
    backend_for(device).copy_from_host(index + first, device_order);
  }
  for (int64_t b = 0; b < batches; ++b) {
    if (between_batches) between_batches();
    if (on_host)
      std::memcpy(batch_index.data<int64_t>(), index + first + b * rows, rows * sizeof(int64_t));
    else
      batch_index = device_order.rows(b * rows, (b + 1) * rows);
    for (size_t i = 0; i < inputs.size(); ++i) {
      Tensor input = inputs[i];
      backend_of(input).take_rows(sources[i], batch_index, input);
    }
    replay();
    backend_of(loss).loss_accumulate(loss, double(rows), totals);
    for (const auto& [value, total] : losses) {
      Tensor sums = total;
      backend_of(value).loss_accumulate(value, double(rows), sums);
    }
    for (const Accuracy& m : metrics) {
      Tensor total = m.total;
      backend_of(m.pred).accuracy_accumulate(m.kind, m.threshold, m.pred, m.target, total);
    }
  }
}

}  // namespace fastnn
