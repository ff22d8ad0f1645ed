#include "autograd/plan.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace fastnn {

namespace {

thread_local Plan* active_plan = nullptr;

// Runs each kernel on the real backend and appends it to the plan. Queries (all_finite,
// index checks) and allocations run but are not recorded: they belong to the capture.
class RecordingBackend final : public Backend {
 public:
  RecordingBackend(Backend& inner, Plan& plan) : inner_(inner), plan_(plan) {}
  const char* name() const override { return inner_.name(); }

  std::shared_ptr<Storage> allocate(size_t nbytes) override { return inner_.allocate(nbytes); }
  bool all_finite(const Tensor& x) override { return inner_.all_finite(x); }
  int64_t find_index_out_of_range(const Tensor& index, int64_t limit) override {
    return inner_.find_index_out_of_range(index, limit);
  }
  double accuracy_sum(AccuracyKind kind, double threshold, const Tensor& pred,
                      const Tensor& target) override {
    return inner_.accuracy_sum(kind, threshold, pred, target);
  }

  void copy(const Tensor& src, Tensor& dst) override {
    run("copy", [=, &b = inner_]() mutable { b.copy(src, dst); });
  }
  void cast(const Tensor& src, Tensor& dst) override {
    run("cast", [=, &b = inner_]() mutable { b.cast(src, dst); });
  }
  void fill(Tensor& out, double value) override {
    run("fill", [=, &b = inner_]() mutable { b.fill(out, value); });
  }
  void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const Tensor& a,
            const Tensor& b, double beta, Tensor& c) override {
    run("gemm", [=, &be = inner_]() mutable { be.gemm(ta, tb, m, n, k, alpha, a, b, beta, c); });
  }
  void activation_forward(Activation act, double alpha, const Tensor& x, Tensor& y) override {
    run("activation_forward",
        [=, &b = inner_]() mutable { b.activation_forward(act, alpha, x, y); });
  }
  void activation_backward(Activation act, double alpha, const Tensor& x, const Tensor& y,
                           const Tensor& gy, Tensor& gx) override {
    run("activation_backward",
        [=, &b = inner_]() mutable { b.activation_backward(act, alpha, x, y, gy, gx); });
  }
  void bias_activation_forward(Activation act, double alpha, const Tensor& bias, Tensor& y,
                               Tensor& z) override {
    run("bias_activation_forward",
        [=, &b = inner_]() mutable { b.bias_activation_forward(act, alpha, bias, y, z); });
  }
  void softmax_forward(bool log, const Tensor& x, Tensor& y) override {
    run("softmax_forward", [=, &b = inner_]() mutable { b.softmax_forward(log, x, y); });
  }
  void softmax_backward(bool log, const Tensor& y, const Tensor& gy, Tensor& gx) override {
    run("softmax_backward", [=, &b = inner_]() mutable { b.softmax_backward(log, y, gy, gx); });
  }
  void binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) override {
    run("binary_forward", [=, &be = inner_]() mutable { be.binary_forward(op, a, b, out); });
  }
  void axpby(double alpha, const Tensor& x, double beta, Tensor& out) override {
    run("axpby", [=, &b = inner_]() mutable { b.axpby(alpha, x, beta, out); });
  }
  void sum_to(const Tensor& x, Tensor& out) override {
    run("sum_to", [=, &b = inner_]() mutable { b.sum_to(x, out); });
  }
  void broadcast_to(const Tensor& x, double alpha, Tensor& out) override {
    run("broadcast_to", [=, &b = inner_]() mutable { b.broadcast_to(x, alpha, out); });
  }
  void penalty_forward(const Tensor& w, double l1, double l2, Tensor& out) override {
    run("penalty_forward", [=, &b = inner_]() mutable { b.penalty_forward(w, l1, l2, out); });
  }
  void penalty_backward(const Tensor& w, double l1, double l2, const Tensor& gout,
                        Tensor& gw) override {
    run("penalty_backward",
        [=, &b = inner_]() mutable { b.penalty_backward(w, l1, l2, gout, gw); });
  }
  void concat(const std::vector<Tensor>& inputs, int64_t axis, Tensor& out) override {
    run("concat", [=, &b = inner_]() mutable { b.concat(inputs, axis, out); });
  }
  void slice_axis(const Tensor& x, int64_t axis, int64_t begin, Tensor& out) override {
    run("slice_axis", [=, &b = inner_]() mutable { b.slice_axis(x, axis, begin, out); });
  }
  void take_rows(const Tensor& x, const Tensor& index, Tensor& out) override {
    run("take_rows", [=, &b = inner_]() mutable { b.take_rows(x, index, out); });
  }
  void scatter_add_rows(const Tensor& g, const Tensor& index, Tensor& out) override {
    run("scatter_add_rows", [=, &b = inner_]() mutable { b.scatter_add_rows(g, index, out); });
  }
  void loss_forward(LossKind kind, const Tensor& pred, const Tensor& target,
                    Tensor& loss) override {
    run("loss_forward", [=, &b = inner_]() mutable { b.loss_forward(kind, pred, target, loss); });
  }
  void loss_backward(LossKind kind, const Tensor& pred, const Tensor& target, const Tensor& gloss,
                     Tensor& gpred) override {
    run("loss_backward",
        [=, &b = inner_]() mutable { b.loss_backward(kind, pred, target, gloss, gpred); });
  }
  void sgd_update(const SGDConfig& c, bool first, Tensor& p, const Tensor& g, Tensor& m) override {
    run("sgd_update", [=, &b = inner_]() mutable { b.sgd_update(c, first, p, g, m); });
  }
  void adam_update(const AdamConfig& c, int64_t step, Tensor& p, const Tensor& g, Tensor& m,
                   Tensor& v, Tensor& vmax) override {
    run("adam_update", [=, &b = inner_]() mutable { b.adam_update(c, step, p, g, m, v, vmax); });
  }
  void rmsprop_update(const RMSpropConfig& c, Tensor& p, const Tensor& g, Tensor& sq, Tensor& m,
                      Tensor& ga) override {
    run("rmsprop_update", [=, &b = inner_]() mutable { b.rmsprop_update(c, p, g, sq, m, ga); });
  }
  void adagrad_update(const AdagradConfig& c, int64_t step, Tensor& p, const Tensor& g,
                      Tensor& s) override {
    run("adagrad_update", [=, &b = inner_]() mutable { b.adagrad_update(c, step, p, g, s); });
  }
  void random_uniform(Tensor& out, double low, double high, uint64_t seed,
                      uint64_t offset) override {
    run("random_uniform",
        [=, &b = inner_]() mutable { b.random_uniform(out, low, high, seed, offset); });
  }
  void random_normal(Tensor& out, double mean, double stddev, uint64_t seed,
                     uint64_t offset) override {
    run("random_normal",
        [=, &b = inner_]() mutable { b.random_normal(out, mean, stddev, seed, offset); });
  }

 private:
  template <class F>
  void run(const char* name, F&& kernel) {
    kernel();
    plan_.append(name, std::forward<F>(kernel));
  }

  Backend& inner_;
  Plan& plan_;
};

}  // namespace

Plan* capturing_plan() {
  return active_plan;
}

Plan::~Plan() {
  if (capturing_) abort_capture();
}

void Plan::begin_capture() {
  FASTNN_CHECK(!capturing_ && !captured_, Runtime, "Plan: already ",
               capturing_ ? "capturing" : "captured", "; make a new plan for another step");
  FASTNN_CHECK(active_plan == nullptr && recording_backend() == nullptr, Runtime,
               "Plan: another capture is in progress on this thread");
  recorder_ = std::make_unique<RecordingBackend>(backend_for(device_), *this);
  set_recording_backend(device_.kind, recorder_.get());
  active_plan = this;
  capturing_ = true;
}

void Plan::end_capture(const std::vector<Tensor>& params) {
  FASTNN_CHECK(capturing_, Runtime, "Plan: end_capture without begin_capture");
  set_recording_backend(device_.kind, nullptr);
  active_plan = nullptr;
  capturing_ = false;
  captured_ = true;
  for (const Tensor& p : params) grads_.push_back({p, p.grad()});
}

void Plan::abort_capture() {
  if (active_plan == this) {
    set_recording_backend(device_.kind, nullptr);
    active_plan = nullptr;
  }
  capturing_ = false;
  steps_.clear();
  names_.clear();
  grads_.clear();
}

std::vector<std::pair<std::string, double>> Plan::profile(int repeats) {
  FASTNN_CHECK(captured_, Runtime, "Plan: profile before a completed capture");
  FASTNN_CHECK(repeats > 0, Value, "Plan.profile: expected repeats > 0, got ", repeats);
  for (auto& [param, grad] : grads_)
    if (grad.defined()) param.set_grad(grad);
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
  FASTNN_CHECK(captured_, Runtime, "Plan: replay before a completed capture");
  for (auto& [param, grad] : grads_)
    if (grad.defined()) param.set_grad(grad);
  for (auto& step : steps_) step();
}

std::vector<double> Plan::replay_batches(const std::vector<Tensor>& sources,
                                         const std::vector<Tensor>& inputs, const Tensor& order,
                                         int64_t first, int64_t batches, const Tensor& loss,
                                         const std::vector<Accuracy>& metrics) {
  const char* who = "Plan.replay_batches";
  FASTNN_CHECK(captured_, Runtime, who, ": replay before a completed capture");
  FASTNN_CHECK(sources.size() == inputs.size() && !inputs.empty(), Value, who,
               ": expected one source per input, got ", sources.size(), " and ", inputs.size());
  FASTNN_CHECK(order.dtype() == DType::Int64 && order.dim() == 1, Type, who,
               ": expected an int64 vector of row indices");
  FASTNN_CHECK(
      loss.numel() == 1 && is_floating(loss.dtype()) && loss.device().kind == DeviceKind::CPU,
      Value, who, ": expected a one-element float loss on the CPU");
  const int64_t rows = inputs[0].size(0);
  for (size_t i = 0; i < inputs.size(); ++i) {
    Shape row_shape(inputs[i].shape().begin() + 1, inputs[i].shape().end());
    Shape source_row(sources[i].shape().begin() + 1, sources[i].shape().end());
    FASTNN_CHECK(inputs[i].size(0) == rows && row_shape == source_row &&
                     sources[i].dtype() == inputs[i].dtype(),
                 Value, who, ": source ", i, " of shape ", shape_str(sources[i].shape()),
                 " does not fill input ", i, " of shape ", shape_str(inputs[i].shape()));
  }
  FASTNN_CHECK(first >= 0 && batches >= 0 && first + batches * rows <= order.numel(), Index, who,
               ": ", batches, " batches of ", rows, " rows from row ", first, " run past the ",
               order.numel(), " indices given");
  const int64_t* index = order.data<int64_t>();
  for (int64_t i = 0; i < order.numel(); ++i)
    for (const Tensor& source : sources)
      FASTNN_CHECK(index[i] >= 0 && index[i] < source.size(0), Index, who, ": row index ", index[i],
                   " out of range for ", source.size(0), " rows");
  for (const Accuracy& m : metrics)
    FASTNN_CHECK(m.pred.defined() && m.target.defined(), Value, who,
                 ": a metric needs the step's prediction and target tensors");
  std::vector<double> totals(1 + metrics.size(), 0.0);  // loss, then each metric
  for (int64_t b = 0; b < batches; ++b) {
    Tensor batch_index = order.rows(first + b * rows, first + (b + 1) * rows);
    for (size_t i = 0; i < inputs.size(); ++i) {
      Tensor input = inputs[i];
      backend_of(input).take_rows(sources[i], batch_index, input);
    }
    replay();
    double value =
        loss.dtype() == DType::Float32 ? double(loss.data<float>()[0]) : loss.data<double>()[0];
    FASTNN_CHECK(std::isfinite(value), Value, "fit: the loss is NaN or infinite at batch ", b,
                 " of this run (the predictions or the targets contain NaN or inf, or training "
                 "diverged)");
    totals[0] += value;
    for (size_t i = 0; i < metrics.size(); ++i) {
      const Accuracy& m = metrics[i];
      totals[i + 1] += backend_of(m.pred).accuracy_sum(m.kind, m.threshold, m.pred, m.target);
    }
  }
  return totals;
}

CaptureSuspend::CaptureSuspend()
    : plan_(active_plan), backend_(recording_backend()), kind_(recording_device_kind()) {
  if (plan_) {
    active_plan = nullptr;
    set_recording_backend(kind_, nullptr);
  }
}

CaptureSuspend::~CaptureSuspend() {
  if (plan_) {
    active_plan = plan_;
    set_recording_backend(kind_, backend_);
  }
}

}  // namespace fastnn
