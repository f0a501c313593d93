#pragma once
// Adam (and, sharing its math, AdamW in optim/adamw.h): exactly torch.optim.Adam. Per
// parameter, with g the gradient and t the parameter's step count (1 on the first update):
//   g = g + weight_decay * w                        (Adam; AdamW instead: w = w * (1 - lr*wd))
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   v_max = max(v_max, v), used instead of v        (amsgrad)
//   w = w - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// The bias corrections and the step size are computed in double, as PyTorch does in Python.
#include <array>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "halfgrad/optim/optimizer.h"

namespace hg::optim {

namespace detail {

// The options shared by Adam and AdamW; Derived is the concrete class, so the setters chain.
template <class Derived>
class AdamOptionsBase : public OptimizerOptions {
 public:
  double lr() const { return lr_; }
  const std::array<double, 2>& betas() const { return betas_; }
  double eps() const { return eps_; }
  double weight_decay() const { return weight_decay_; }
  bool amsgrad() const { return amsgrad_; }
  // clang-format off
  Derived& lr(double v) { lr_ = v; return self(); }
  Derived& betas(const std::array<double, 2>& v) { betas_ = v; return self(); }
  Derived& eps(double v) { eps_ = v; return self(); }
  Derived& weight_decay(double v) { weight_decay_ = v; return self(); }
  Derived& amsgrad(bool v) { amsgrad_ = v; return self(); }
  // clang-format on

  std::unique_ptr<OptimizerOptions> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
  double get_lr() const override { return lr_; }
  void set_lr(double lr) override { lr_ = lr; }
  std::vector<std::pair<std::string, double>> scalars() const override;
  void set_scalar(const std::string& name, double value) override;
  // lr, eps, weight_decay >= 0; betas in [0, 1).
  void validate(const std::string& optimizer) const override;

 protected:
  AdamOptionsBase(double lr, double weight_decay) : lr_(lr), weight_decay_(weight_decay) {}

 private:
  Derived& self() { return static_cast<Derived&>(*this); }

  double lr_;
  std::array<double, 2> betas_{0.9, 0.999};
  double eps_ = 1e-8;
  double weight_decay_;
  bool amsgrad_ = false;
};

struct AdamHyper {
  double lr, beta1, beta2, eps, weight_decay;
  bool amsgrad;
  bool decoupled;  // AdamW: w *= 1 - lr * weight_decay instead of adding wd * w to the gradient
};
// One Adam/AdamW update of u's parameter, creating its state buffers on the first.
void adam_update(ParamUpdate& u, ParamState& state, const AdamHyper& h);

}  // namespace detail

class AdamOptions final : public detail::AdamOptionsBase<AdamOptions> {
 public:
  explicit AdamOptions(double lr = 1e-3) : AdamOptionsBase(lr, 0.0) {}
};

extern template class detail::AdamOptionsBase<AdamOptions>;  // instantiated in adam.cpp

class Adam final : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& defaults = AdamOptions());
  Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults = AdamOptions());

 protected:
  void update(detail::ParamUpdate& u, ParamState& state, const OptimizerOptions& options) override;
  // A device-gated update skips on the flag and reads its step number on the device (the
  // run's first step number plus the run's applied count): nothing left for the host to get
  // wrong.
  bool skips_exactly_on_device(const ParamState*, const OptimizerOptions&) const override {
    return true;
  }
  bool reads_step_count() const override { return true; }
  bool update_creates_state(const ParamState& state, const OptimizerOptions&) const override {
    return state.buffers.count("exp_avg") == 0;
  }
};

}  // namespace hg::optim
