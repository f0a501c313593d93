#pragma once
// MultiStepLR: lr = base_lr * gamma^(the number of milestones <= epoch), a milestone listed
// twice counting twice (torch.optim.lr_scheduler.MultiStepLR, in its closed form). The usual
// CIFAR schedule: milestones at 50% and 75% of the epochs, gamma 0.1.
#include <cstdint>
#include <vector>

#include "halfgrad/optim/lr_scheduler.h"

namespace hg::optim {

class MultiStepLR final : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma = 0.1);

 protected:
  double lr_at(int64_t epoch, size_t g, double base_lr) const override;

 private:
  std::vector<int64_t> milestones_;  // sorted
  double gamma_;
};

}  // namespace hg::optim
