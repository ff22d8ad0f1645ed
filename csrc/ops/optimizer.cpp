#include "ops/optimizer.h"

#include <unordered_set>

#include <cstring>

#include "autograd/plan.h"
#include "core/launch.h"

namespace fastnn {

Optimizer::Optimizer(std::vector<Tensor> params, const char* name)
    : params_(std::move(params)), name_(name) {
  FASTNN_CHECK(!params_.empty(), Value, name_, ": got an empty parameter list");
  std::unordered_set<TensorImpl*> seen;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    FASTNN_CHECK(p.defined(), Value, name_, ": parameter ", i, " is None");
    FASTNN_CHECK(is_floating(p.dtype()), Type, name_, ": parameter ", i,
                 " must be float32 or float64, got ", dtype_name(p.dtype()));
    FASTNN_CHECK(p.is_leaf(), Value, name_, ": parameter ", i,
                 " is not a leaf tensor (it was computed by an op); optimize leaves only");
    FASTNN_CHECK(seen.insert(p.impl()).second, Value, name_, ": parameter ", i,
                 (p.name().empty() ? "" : " '" + p.name() + "'"), " appears more than once");
    FASTNN_CHECK(p.device() == params_[0].device(), Value, name_, ": parameter ", i,
                 (p.name().empty() ? "" : " '" + p.name() + "'"), " is on ", p.device().name(),
                 " but parameter 0 is on ", params_[0].device().name(),
                 "; move the model to one device first (model.to(...))");
  }
  CaptureSuspend unrecorded;  // an optimizer made inside a capture keeps its own state
  steps_ = Tensor::zeros({int64_t(params_.size())}, DType::Int64, device());
}

void Optimizer::check_index(size_t index) const {
  FASTNN_CHECK(index < params_.size(), Index, name_, ": parameter index ", index,
               " out of range for ", params_.size(), " parameters");
}

int64_t Optimizer::steps(size_t index) const {
  check_index(index);
  count_host_read();
  int64_t steps = 0;
  backend_of(steps_).copy_to_host(steps_.rows(int64_t(index), int64_t(index) + 1), &steps);
  return steps;
}

void Optimizer::ensure_state(size_t index) {
  check_index(index);
  CaptureSuspend unrecorded;
  create_state(index);
}

void Optimizer::set_steps(size_t index, int64_t steps) {
  check_index(index);
  FASTNN_CHECK(steps >= 0, Value, name_, ": expected a step count >= 0, got ", steps);
  Tensor slot = steps_.rows(int64_t(index), int64_t(index) + 1);
  backend_of(slot).copy_from_host(&steps, slot);
}

Tensor Optimizer::zeros_like(size_t i) const {
  return Tensor::zeros(params_[i].shape(), params_[i].dtype(), params_[i].device());
}

void Optimizer::step() {
  validate();
  std::vector<ParamUpdate> updates;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    // model.to after the optimizer was made moves the parameters, not the optimizer's state.
    FASTNN_CHECK(p.device() == steps_.device(), Value, name_, ": parameter ", i,
                 (p.name().empty() ? "" : " '" + p.name() + "'"), " is on ", p.device().name(),
                 " but this optimizer was made for parameters on ", steps_.device().name(),
                 "; make the optimizer after moving the model (model.to(...))");
    Tensor g = p.grad();
    if (!g.defined()) continue;  // parameters that got no gradient are left alone
    ensure_state(i);  // unrecorded: replays must not re-zero the state
    updates.push_back(update_of(i, p, g));
  }
  if (!updates.empty()) launch(updates);
}

void Optimizer::zero_grad(bool set_to_none) {
  for (Tensor& p : params_) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (set_to_none) {
      p.set_grad(Tensor());
    } else {
      FASTNN_LAUNCH(backend_of(g), fill, g, 0.0);
    }
  }
}

namespace {
void check_rate(const char* who, const char* arg, double v) {
  FASTNN_CHECK(v >= 0, Value, who, ": expected ", arg, " >= 0, got ", v);
}
void check_unit(const char* who, const char* arg, double v) {
  FASTNN_CHECK(v >= 0 && v < 1, Value, who, ": expected ", arg, " in [0, 1), got ", v);
}
}  // namespace

// --- SGD ---

SGD::SGD(std::vector<Tensor> params, SGDConfig c)
    : Optimizer(std::move(params), "SGD"), Configured(c, device()), momentum_(params_.size()) {
  validate();
}

void SGD::validate() const {
  const SGDConfig config = this->config();
  check_rate(name_, "lr", config.lr);
  check_rate(name_, "momentum", config.momentum);
  check_rate(name_, "weight_decay", config.weight_decay);
  FASTNN_CHECK(!config.nesterov || (config.momentum > 0 && config.dampening == 0), Value, name_,
               ": nesterov momentum requires momentum > 0 and dampening = 0, got momentum=",
               config.momentum, " dampening=", config.dampening);
}

void SGD::create_state(size_t i) {
  if (config().momentum != 0 && !momentum_[i].defined()) momentum_[i] = zeros_like(i);
}

ParamUpdate SGD::update_of(size_t i, const Tensor& p, const Tensor& g) const {
  return {int64_t(i), p, g, {momentum_[i]}};
}

void SGD::launch(const std::vector<ParamUpdate>& params) {
  FASTNN_LAUNCH(backend_of(steps_), optimizer_update, OptimizerKind::SGD, tensor_, steps_, params);
}

std::vector<std::pair<std::string, Tensor>> SGD::state(size_t i) const {
  if (!momentum_[i].defined()) return {};
  return {{"momentum_buffer", momentum_[i]}};
}

// --- Adam / AdamW ---

Adam::Adam(std::vector<Tensor> params, AdamConfig c, const char* name)
    : Optimizer(std::move(params), name),
      Configured(c, device()),
      m_(params_.size()),
      v_(params_.size()),
      v_max_(params_.size()) {
  validate();
}

void Adam::validate() const {
  const AdamConfig config = this->config();
  check_rate(name_, "lr", config.lr);
  check_rate(name_, "eps", config.eps);
  check_rate(name_, "weight_decay", config.weight_decay);
  check_unit(name_, "betas[0]", config.beta1);
  check_unit(name_, "betas[1]", config.beta2);
}

void Adam::create_state(size_t i) {
  if (!m_[i].defined()) {
    m_[i] = zeros_like(i);
    v_[i] = zeros_like(i);
  }
  if (config().amsgrad && !v_max_[i].defined()) v_max_[i] = zeros_like(i);
}

ParamUpdate Adam::update_of(size_t i, const Tensor& p, const Tensor& g) const {
  return {int64_t(i), p, g, {m_[i], v_[i], v_max_[i]}};
}

void Adam::launch(const std::vector<ParamUpdate>& params) {
  FASTNN_LAUNCH(backend_of(steps_), optimizer_update, OptimizerKind::Adam, tensor_, steps_,
                params);
}

std::vector<std::pair<std::string, Tensor>> Adam::state(size_t i) const {
  std::vector<std::pair<std::string, Tensor>> s;
  if (m_[i].defined()) s = {{"exp_avg", m_[i]}, {"exp_avg_sq", v_[i]}};
  if (v_max_[i].defined()) s.push_back({"max_exp_avg_sq", v_max_[i]});
  return s;
}

// --- RMSprop ---

RMSprop::RMSprop(std::vector<Tensor> params, RMSpropConfig c)
    : Optimizer(std::move(params), "RMSprop"),
      Configured(c, device()),
      square_avg_(params_.size()),
      momentum_(params_.size()),
      grad_avg_(params_.size()) {
  validate();
}

void RMSprop::validate() const {
  const RMSpropConfig config = this->config();
  check_rate(name_, "lr", config.lr);
  check_rate(name_, "eps", config.eps);
  check_rate(name_, "momentum", config.momentum);
  check_rate(name_, "weight_decay", config.weight_decay);
  check_unit(name_, "alpha", config.alpha);
}

void RMSprop::create_state(size_t i) {
  const RMSpropConfig config = this->config();
  if (!square_avg_[i].defined()) square_avg_[i] = zeros_like(i);
  if (config.momentum > 0 && !momentum_[i].defined()) momentum_[i] = zeros_like(i);
  if (config.centered && !grad_avg_[i].defined()) grad_avg_[i] = zeros_like(i);
}

ParamUpdate RMSprop::update_of(size_t i, const Tensor& p, const Tensor& g) const {
  return {int64_t(i), p, g, {square_avg_[i], momentum_[i], grad_avg_[i]}};
}

void RMSprop::launch(const std::vector<ParamUpdate>& params) {
  FASTNN_LAUNCH(backend_of(steps_), optimizer_update, OptimizerKind::RMSprop, tensor_, steps_,
                params);
}

std::vector<std::pair<std::string, Tensor>> RMSprop::state(size_t i) const {
  std::vector<std::pair<std::string, Tensor>> s;
  if (square_avg_[i].defined()) s.push_back({"square_avg", square_avg_[i]});
  if (momentum_[i].defined()) s.push_back({"momentum_buffer", momentum_[i]});
  if (grad_avg_[i].defined()) s.push_back({"grad_avg", grad_avg_[i]});
  return s;
}

// --- Adagrad ---

Adagrad::Adagrad(std::vector<Tensor> params, AdagradConfig c, double initial_accumulator_value)
    : Optimizer(std::move(params), "Adagrad"), Configured(c, device()) {
  check_rate(name_, "initial_accumulator_value", initial_accumulator_value);
  CaptureSuspend unrecorded;  // state created once, not by every replay
  for (const Tensor& p : params_)
    sum_.push_back(Tensor::full(p.shape(), initial_accumulator_value, p.dtype(), p.device()));
  validate();
}

void Adagrad::validate() const {
  const AdagradConfig config = this->config();
  check_rate(name_, "lr", config.lr);
  check_rate(name_, "lr_decay", config.lr_decay);
  check_rate(name_, "eps", config.eps);
  check_rate(name_, "weight_decay", config.weight_decay);
}

void Adagrad::create_state(size_t) {}

ParamUpdate Adagrad::update_of(size_t i, const Tensor& p, const Tensor& g) const {
  return {int64_t(i), p, g, {sum_[i]}};
}

void Adagrad::launch(const std::vector<ParamUpdate>& params) {
  FASTNN_LAUNCH(backend_of(steps_), optimizer_update, OptimizerKind::Adagrad, tensor_, steps_,
                params);
}

std::vector<std::pair<std::string, Tensor>> Adagrad::state(size_t i) const {
  return {{"sum", sum_[i]}};
}

}  // namespace fastnn
