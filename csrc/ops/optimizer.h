// Optimizers: each holds its parameters and their state and updates every parameter in
// one call (step), one fused kernel pass per parameter tensor. Hyperparameters are public
// fields so the learning rate can change between steps.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"

namespace fastnn {

class Optimizer : public std::enable_shared_from_this<Optimizer> {
 public:
  Optimizer(std::vector<Tensor> params, const char* name);
  virtual ~Optimizer() = default;

  // Updates every parameter that has a gradient. Inside a Plan capture the whole step is
  // recorded as one entry, so replays read the live step counters and hyperparameters.
  void step();
  // set_to_none drops the gradients (PyTorch's default); otherwise they are zeroed in place.
  void zero_grad(bool set_to_none = true);
  const std::vector<Tensor>& params() const { return params_; }
  const char* name() const { return name_; }
  // Named state tensors per parameter, for checkpoints.
  virtual std::vector<std::pair<std::string, Tensor>> state(size_t index) const = 0;
  int64_t steps(size_t index) const { return steps_[index]; }
  void set_steps(size_t index, int64_t steps) { steps_[index] = steps; }

 protected:
  void step_now();
  virtual void validate() const = 0;
  virtual void update(size_t index, Tensor& param, const Tensor& grad) = 0;
  Tensor zeros_like(size_t index) const;

  std::vector<Tensor> params_;
  std::vector<int64_t> steps_;  // per parameter, like torch.optim's state['step']
  const char* name_;
};

class SGD final : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, SGDConfig config);
  SGDConfig config;
  std::vector<std::pair<std::string, Tensor>> state(size_t index) const override;

 private:
  void validate() const override;
  void update(size_t index, Tensor& param, const Tensor& grad) override;
  std::vector<Tensor> momentum_;
};

// Adam and AdamW (config.decoupled_weight_decay).
class Adam final : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, AdamConfig config, const char* name = "Adam");
  AdamConfig config;
  std::vector<std::pair<std::string, Tensor>> state(size_t index) const override;

 private:
  void validate() const override;
  void update(size_t index, Tensor& param, const Tensor& grad) override;
  std::vector<Tensor> m_, v_, v_max_;
};

class RMSprop final : public Optimizer {
 public:
  RMSprop(std::vector<Tensor> params, RMSpropConfig config);
  RMSpropConfig config;
  std::vector<std::pair<std::string, Tensor>> state(size_t index) const override;

 private:
  void validate() const override;
  void update(size_t index, Tensor& param, const Tensor& grad) override;
  std::vector<Tensor> square_avg_, momentum_, grad_avg_;
};

class Adagrad final : public Optimizer {
 public:
  Adagrad(std::vector<Tensor> params, AdagradConfig config, double initial_accumulator_value);
  AdagradConfig config;
  std::vector<std::pair<std::string, Tensor>> state(size_t index) const override;

 private:
  void validate() const override;
  void update(size_t index, Tensor& param, const Tensor& grad) override;
  std::vector<Tensor> sum_;
};

}  // namespace fastnn
