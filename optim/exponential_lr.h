#pragma once
// ExponentialLR: lr = base_lr * gamma^epoch (torch.optim.lr_scheduler.ExponentialLR, in its
// closed form).
#include "halfgrad/optim/lr_scheduler.h"

namespace hg::optim {

class ExponentialLR final : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);

 protected:
  double lr_at(int64_t epoch, size_t g, double base_lr) const override;

 private:
  double gamma_;
};

}  // namespace hg::optim
