#pragma once
// StepLR: lr = base_lr * gamma^floor(epoch / step_size) (torch.optim.lr_scheduler.StepLR, in
// its closed form).
#include <cstdint>

#include "halfgrad/optim/lr_scheduler.h"

namespace hg::optim {

class StepLR final : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);

 protected:
  double lr_at(int64_t epoch, size_t g, double base_lr) const override;

 private:
  int64_t step_size_;
  double gamma_;
};

}  // namespace hg::optim
