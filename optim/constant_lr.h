#pragma once
// ConstantLR: lr = base_lr * factor for the first total_iters epochs, then base_lr
// (torch.optim.lr_scheduler.ConstantLR): a flat warm-up.
#include <cstdint>

#include "halfgrad/optim/lr_scheduler.h"

namespace hg::optim {

class ConstantLR final : public LRScheduler {
 public:
  ConstantLR(Optimizer& optimizer, double factor = 1.0 / 3.0, int64_t total_iters = 5);

 protected:
  double lr_at(int64_t epoch, size_t g, double base_lr) const override;

 private:
  double factor_;
  int64_t total_iters_;
};

}  // namespace hg::optim
