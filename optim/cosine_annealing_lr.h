#pragma once
// CosineAnnealingLR: lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2.
// This is PyTorch's closed form (_get_closed_form_lr); its step() uses a recursive formula
// that equals it up to rounding. Past T_max the lr rises again (a cosine of period 2 T_max),
// as in PyTorch.
#include <cstdint>

#include "halfgrad/optim/lr_scheduler.h"

namespace hg::optim {

class CosineAnnealingLR final : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0.0);

 protected:
  double lr_at(int64_t epoch, size_t g, double base_lr) const override;

 private:
  int64_t t_max_;
  double eta_min_;
};

}  // namespace hg::optim
