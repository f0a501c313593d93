#pragma once
// RMSprop: exactly torch.optim.RMSprop (PyTorch 1.13's single-tensor math). Per parameter, with
// g the gradient:
//   g = g + weight_decay * w                        (when weight_decay != 0)
//   square_avg = alpha * square_avg + (1 - alpha) * g * g
//   grad_avg = alpha * grad_avg + (1 - alpha) * g   (centered)
//   avg = sqrt(square_avg - grad_avg^2) + eps       (centered; else sqrt(square_avg) + eps)
//   buf = momentum * buf + g / avg,  w = w - lr * buf     (momentum > 0)
//   w = w - lr * g / avg                                  (otherwise)
// The state buffers keep PyTorch's names: "square_avg", "momentum_buffer" (momentum > 0) and
// "grad_avg" (centered), all zeros before the first update, which creates them.
//
// On CUDA (and in a step gated on the device, GradScaler's device-resident mode, on any device)
// a contiguous weight takes the fused kernel (kernels/amp_kernels.h: fused_rmsprop, one launch
// per group), with the CPU loops' bits; other layouts run as tensor ops.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "halfgrad/optim/optimizer.h"

namespace hg::optim {

class RMSpropOptions final : public OptimizerOptions {
 public:
  explicit RMSpropOptions(double lr = 1e-2) : lr_(lr) {}

  double lr() const { return lr_; }
  double alpha() const { return alpha_; }
  double eps() const { return eps_; }
  double weight_decay() const { return weight_decay_; }
  double momentum() const { return momentum_; }
  bool centered() const { return centered_; }
  // clang-format off
  RMSpropOptions& lr(double v) { lr_ = v; return *this; }
  RMSpropOptions& alpha(double v) { alpha_ = v; return *this; }
  RMSpropOptions& eps(double v) { eps_ = v; return *this; }
  RMSpropOptions& weight_decay(double v) { weight_decay_ = v; return *this; }
  RMSpropOptions& momentum(double v) { momentum_ = v; return *this; }
  RMSpropOptions& centered(bool v) { centered_ = v; return *this; }
  // clang-format on

  std::unique_ptr<OptimizerOptions> clone() const override;
  double get_lr() const override { return lr_; }
  void set_lr(double lr) override { lr_ = lr; }
  std::vector<std::pair<std::string, double>> scalars() const override;
  void set_scalar(const std::string& name, double value) override;
  // lr, eps, weight_decay, momentum finite and >= 0; alpha in [0, 1] (PyTorch only asks
  // alpha >= 0, but past 1 the average of squares turns negative and every step is NaN).
  void validate(const std::string& optimizer) const override;

 private:
  double lr_;
  double alpha_ = 0.99;
  double eps_ = 1e-8;
  double weight_decay_ = 0.0;
  double momentum_ = 0.0;
  bool centered_ = false;
};

class RMSprop final : public Optimizer {
 public:
  RMSprop(std::vector<Tensor> params, const RMSpropOptions& defaults = RMSpropOptions());
  RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& defaults = RMSpropOptions());

 protected:
  void update(detail::ParamUpdate& u, ParamState& state, const OptimizerOptions& options) override;
  // A skipped step writes nothing; buffers it created are the zeros the host's next applied step
  // would create, and the update never reads the step count: a device skip leaves nothing for
  // the host to get wrong.
  bool skips_exactly_on_device(const ParamState*, const OptimizerOptions&) const override {
    return true;
  }
  bool update_creates_state(const ParamState& state,
                            const OptimizerOptions& options) const override;
  bool counts_gated_steps_in_kernel() const override { return true; }
};

}  // namespace hg::optim
