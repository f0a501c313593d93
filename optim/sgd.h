#pragma once
// Stochastic gradient descent with momentum, dampening, Nesterov and weight decay: exactly
// torch.optim.SGD. Per parameter, with d the gradient:
//   d = d + weight_decay * w                        (when weight_decay != 0)
//   buf = d on the first step, else momentum * buf + (1 - dampening) * d
//   d = nesterov ? d + momentum * buf : buf         (when momentum != 0)
//   w = w - lr * d
//
// Under GradScaler's device-resident mode (Optimizer::step_unless_found_inf) SGD skips on the
// device, with no readback, whenever its fused kernel takes every parameter (on CUDA: a
// contiguous parameter or an fp32 master; on the CPU the same kernel column runs): momentum,
// Nesterov and weight decay included. A skipped first step leaves a zero momentum buffer, and
// the next step computes momentum * 0 + (1 - dampening) * d where a host decision computes d:
// with dampening == 0 the same value (only a gradient element of exactly -0 gives a +0 buffer
// entry instead of -0). With dampening != 0 a parameter's first update (before its momentum
// buffer exists) is therefore decided on the host; the later ones stay on the device.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "halfgrad/optim/optimizer.h"

namespace hg::optim {

class SGDOptions final : public OptimizerOptions {
 public:
  explicit SGDOptions(double lr) : lr_(lr) {}

  double lr() const { return lr_; }
  double momentum() const { return momentum_; }
  double dampening() const { return dampening_; }
  bool nesterov() const { return nesterov_; }
  double weight_decay() const { return weight_decay_; }
  // clang-format off
  SGDOptions& lr(double v) { lr_ = v; return *this; }
  SGDOptions& momentum(double v) { momentum_ = v; return *this; }
  SGDOptions& dampening(double v) { dampening_ = v; return *this; }
  SGDOptions& nesterov(bool v) { nesterov_ = v; return *this; }
  SGDOptions& weight_decay(double v) { weight_decay_ = v; return *this; }
  // clang-format on

  std::unique_ptr<OptimizerOptions> clone() const override;
  double get_lr() const override { return lr_; }
  void set_lr(double lr) override { lr_ = lr; }
  std::vector<std::pair<std::string, double>> scalars() const override;
  void set_scalar(const std::string& name, double value) override;
  // lr, momentum, weight_decay >= 0; nesterov needs momentum > 0 and dampening == 0.
  void validate(const std::string& optimizer) const override;

 private:
  double lr_;
  double momentum_ = 0.0;
  double dampening_ = 0.0;
  bool nesterov_ = false;
  double weight_decay_ = 0.0;
};

class SGD final : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SGDOptions& defaults);
  SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults);

 protected:
  void update(detail::ParamUpdate& u, ParamState& state, const OptimizerOptions& options) override;
  bool skips_exactly_on_device(const ParamState* state,
                               const OptimizerOptions& options) const override;
  bool update_creates_state(const ParamState& state,
                            const OptimizerOptions& options) const override;
  bool counts_gated_steps_in_kernel() const override { return true; }
};

}  // namespace hg::optim
