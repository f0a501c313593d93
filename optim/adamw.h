#pragma once
// AdamW: Adam with decoupled weight decay, exactly torch.optim.AdamW. Each step first shrinks
// the weight, w = w * (1 - lr * weight_decay), then applies the Adam update with the plain
// gradient (see optim/adam.h). weight_decay defaults to 1e-2, as in PyTorch.
#include <vector>

#include "halfgrad/optim/adam.h"

namespace hg::optim {

class AdamWOptions final : public detail::AdamOptionsBase<AdamWOptions> {
 public:
  explicit AdamWOptions(double lr = 1e-3) : AdamOptionsBase(lr, 1e-2) {}
};

extern template class detail::AdamOptionsBase<AdamWOptions>;  // instantiated in adam.cpp

class AdamW final : public Optimizer {
 public:
  AdamW(std::vector<Tensor> params, const AdamWOptions& defaults = AdamWOptions());
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults = AdamWOptions());

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
