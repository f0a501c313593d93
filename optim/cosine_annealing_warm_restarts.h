#pragma once
// CosineAnnealingWarmRestarts (SGDR; torch.optim.lr_scheduler.CosineAnnealingWarmRestarts):
// cosine annealing from base_lr to eta_min over a cycle of T_i epochs, then a restart at
// base_lr; the first cycle is T_0 epochs long and each next one T_mult times longer:
//   lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2
// T_cur and T_i come from the epoch by whole-number arithmetic, so every restart falls exactly
// on its epoch (PyTorch's step() counts the same integers). Epoch-wise only: PyTorch's
// fractional step(epoch + i / iters) has no counterpart (step per batch with T_0 in batches).
#include <cstdint>

#include "halfgrad/optim/lr_scheduler.h"

namespace hg::optim {

class CosineAnnealingWarmRestarts final : public LRScheduler {
 public:
  CosineAnnealingWarmRestarts(Optimizer& optimizer, int64_t T_0, int64_t T_mult = 1,
                              double eta_min = 0.0);

 protected:
  double lr_at(int64_t epoch, size_t g, double base_lr) const override;

 private:
  int64_t t_0_, t_mult_;
  double eta_min_;
};

}  // namespace hg::optim
