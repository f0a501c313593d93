#pragma once
// Adagrad: exactly torch.optim.Adagrad (PyTorch 1.13's single-tensor math, dense gradients).
// Per parameter, with g the gradient and t the parameter's step count (1 on the first update):
//   g = g + weight_decay * w                        (when weight_decay != 0)
//   clr = lr / (1 + (t - 1) * lr_decay)             (in double, as PyTorch does in Python)
//   sum = sum + g * g
//   w = w - clr * g / (sqrt(sum) + eps)
// The state buffer keeps PyTorch's name, "sum", and starts at initial_accumulator_value.
// PyTorch creates that state (and step 0) in the optimizer's constructor; here the parameter's
// first update creates it, as for the other optimizers, so state() and state_dict() have no
// entry for a parameter before its first step. The steps computed are the same.
//
// On CUDA (and in a step gated on the device, GradScaler's device-resident mode, on any device)
// a contiguous weight takes the fused kernel (kernels/amp_kernels.h: fused_adagrad, one launch
// per group and step number), with the CPU loops' bits; other layouts run as tensor ops.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "halfgrad/optim/optimizer.h"

namespace hg::optim {

class AdagradOptions final : public OptimizerOptions {
 public:
  explicit AdagradOptions(double lr = 1e-2) : lr_(lr) {}

  double lr() const { return lr_; }
  double lr_decay() const { return lr_decay_; }
  double weight_decay() const { return weight_decay_; }
  double initial_accumulator_value() const { return initial_accumulator_value_; }
  double eps() const { return eps_; }
  // clang-format off
  AdagradOptions& lr(double v) { lr_ = v; return *this; }
  AdagradOptions& lr_decay(double v) { lr_decay_ = v; return *this; }
  AdagradOptions& weight_decay(double v) { weight_decay_ = v; return *this; }
  AdagradOptions& initial_accumulator_value(double v) {
    initial_accumulator_value_ = v; return *this;
  }
  AdagradOptions& eps(double v) { eps_ = v; return *this; }
  // clang-format on

  std::unique_ptr<OptimizerOptions> clone() const override;
  double get_lr() const override { return lr_; }
  void set_lr(double lr) override { lr_ = lr; }
  std::vector<std::pair<std::string, double>> scalars() const override;
  void set_scalar(const std::string& name, double value) override;
  // Every option finite and >= 0, as PyTorch asks (finite added).
  void validate(const std::string& optimizer) const override;

 private:
  double lr_;
  double lr_decay_ = 0.0;
  double weight_decay_ = 0.0;
  double initial_accumulator_value_ = 0.0;
  double eps_ = 1e-10;
};

class Adagrad final : public Optimizer {
 public:
  Adagrad(std::vector<Tensor> params, const AdagradOptions& defaults = AdagradOptions());
  Adagrad(std::vector<ParamGroup> groups, const AdagradOptions& defaults = AdagradOptions());

 protected:
  void update(detail::ParamUpdate& u, ParamState& state, const OptimizerOptions& options) override;
  // The step number sets the decayed lr: a device-gated update reads it on the device (the
  // run's first step number plus the run's applied count), as Adam's bias corrections, and a
  // skipped step leaves the accumulator as it was (or as the fill the host's next applied step
  // would create): nothing left for the host to get wrong.
  bool skips_exactly_on_device(const ParamState*, const OptimizerOptions&) const override {
    return true;
  }
  bool reads_step_count() const override { return true; }
  bool update_creates_state(const ParamState& state,
                            const OptimizerOptions& options) const override;
};

}  // namespace hg::optim
