// Optimizers: each holds its parameters and their state and updates every parameter in
// one call (step): one Backend::optimizer_update over the parameters that have gradients
// (a fused pass per parameter tensor on the CPU, multi-tensor launches on a GPU). The config (learning rate and
// every other hyperparameter) and the per-parameter step counts live in tensors that the
// update kernels read, so a recorded step replays with the current values.
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

  // Updates every parameter that has a gradient (which ones is fixed when a Plan records it).
  void step();
  // set_to_none drops the gradients (PyTorch's default); otherwise they are zeroed in place.
  void zero_grad(bool set_to_none = true);
  const std::vector<Tensor>& params() const { return params_; }
  const char* name() const { return name_; }
  // Where the parameters (all on one device) and the optimizer's state live.
  Device device() const { return params_.front().device(); }
  // Named state tensors per parameter, for checkpoints.
  virtual std::vector<std::pair<std::string, Tensor>> state(size_t index) const = 0;
  int64_t steps(size_t index) const;
  void set_steps(size_t index, int64_t steps);
  // Creates parameter `index`'s state (zeros) as its first update would, so a checkpoint's
  // state can be written into it before any step.
  void ensure_state(size_t index);

 protected:
  virtual void validate() const = 0;
  // Creates the parameter's state on its first update (unrecorded: replays reuse it).
  virtual void create_state(size_t index) = 0;
  // What the kernels update for the parameter: its state tensors in the backend's order.
  virtual ParamUpdate update_of(size_t index, const Tensor& param, const Tensor& grad) const = 0;
  // Launches one optimizer_update over `params` (recorded by a plan like any kernel).
  virtual void launch(const std::vector<ParamUpdate>& params) = 0;
  Tensor zeros_like(size_t index) const;
  void check_index(size_t index) const;

  std::vector<Tensor> params_;
  Tensor steps_;   // int64, per parameter, like torch.optim's state['step'], on their device
  const char* name_;
};

// The config of an optimizer of type Config, kept in the tensor its kernels read (on the
// parameters' device) and, for the host's own checks, as a copy here: reading it back from a
// device at every step would be a host read.
template <class Config>
class Configured {
 public:
  Config config() const { return config_; }
  void set_config(const Config& c) {
    write_config(tensor_, c);
    config_ = c;
  }

 protected:
  Configured(const Config& c, Device device) : config_(c), tensor_(config_tensor(c, device)) {}
  Config config_;
  Tensor tensor_;
};

class SGD final : public Optimizer, public Configured<SGDConfig> {
 public:
  SGD(std::vector<Tensor> params, SGDConfig config);
  std::vector<std::pair<std::string, Tensor>> state(size_t index) const override;

 private:
  void validate() const override;
  void create_state(size_t index) override;
  ParamUpdate update_of(size_t index, const Tensor& param, const Tensor& grad) const override;
  void launch(const std::vector<ParamUpdate>& params) override;
  std::vector<Tensor> momentum_;
};

// Adam and AdamW (config.decoupled_weight_decay).
class Adam final : public Optimizer, public Configured<AdamConfig> {
 public:
  Adam(std::vector<Tensor> params, AdamConfig config, const char* name = "Adam");
  std::vector<std::pair<std::string, Tensor>> state(size_t index) const override;

 private:
  void validate() const override;
  void create_state(size_t index) override;
  ParamUpdate update_of(size_t index, const Tensor& param, const Tensor& grad) const override;
  void launch(const std::vector<ParamUpdate>& params) override;
  std::vector<Tensor> m_, v_, v_max_;
};

class RMSprop final : public Optimizer, public Configured<RMSpropConfig> {
 public:
  RMSprop(std::vector<Tensor> params, RMSpropConfig config);
  std::vector<std::pair<std::string, Tensor>> state(size_t index) const override;

 private:
  void validate() const override;
  void create_state(size_t index) override;
  ParamUpdate update_of(size_t index, const Tensor& param, const Tensor& grad) const override;
  void launch(const std::vector<ParamUpdate>& params) override;
  std::vector<Tensor> square_avg_, momentum_, grad_avg_;
};

class Adagrad final : public Optimizer, public Configured<AdagradConfig> {
 public:
  Adagrad(std::vector<Tensor> params, AdagradConfig config, double initial_accumulator_value);
  std::vector<std::pair<std::string, Tensor>> state(size_t index) const override;

 private:
  void validate() const override;
  void create_state(size_t index) override;
  ParamUpdate update_of(size_t index, const Tensor& param, const Tensor& grad) const override;
  void launch(const std::vector<ParamUpdate>& params) override;
  std::vector<Tensor> sum_;
};

}  // namespace fastnn
