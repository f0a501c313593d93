#pragma once
// OneCycleLR (torch.optim.lr_scheduler.OneCycleLR, same phases and formulas): the lr rises
// from initial_lr = max_lr / div_factor to max_lr over the first pct_start of total_steps,
// then anneals to min_lr = initial_lr / final_div_factor. With three_phase, it rises, falls
// back to initial_lr symmetrically, and then anneals to min_lr. The group's own lr is ignored
// (base_lrs() are the initial lrs). A loop may call step() total_steps times after
// construction, as in PyTorch (the last one follows the last optimizer step and sets min_lr,
// where PyTorch's formula extrapolates past the end); one more is an error, as in PyTorch.
//
// PyTorch also cycles the momentum (or Adam's beta1) inversely to the lr by default
// (cycle_momentum=True). This scheduler does not: it changes the learning rate only, like
// PyTorch's OneCycleLR(..., cycle_momentum=False).
#include <cstdint>
#include <vector>

#include "halfgrad/optim/lr_scheduler.h"

namespace hg::optim {

enum class AnnealStrategy { Cos, Linear };

class OneCycleLR final : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, double max_lr, int64_t total_steps, double pct_start = 0.3,
             AnnealStrategy anneal_strategy = AnnealStrategy::Cos, double div_factor = 25.0,
             double final_div_factor = 1e4, bool three_phase = false);
  // One max_lr per parameter group.
  OneCycleLR(Optimizer& optimizer, std::vector<double> max_lrs, int64_t total_steps,
             double pct_start = 0.3, AnnealStrategy anneal_strategy = AnnealStrategy::Cos,
             double div_factor = 25.0, double final_div_factor = 1e4, bool three_phase = false);

  int64_t total_steps() const { return total_steps_; }

 protected:
  double lr_at(int64_t epoch, size_t g, double base_lr) const override;

 private:
  std::vector<double> max_lrs_;
  int64_t total_steps_;
  double pct_start_;
  AnnealStrategy anneal_;
  double div_factor_;
  double final_div_factor_;
  bool three_phase_;
};

}  // namespace hg::optim
