#pragma once
// PolynomialLR: lr = base_lr * (1 - min(epoch, total_iters) / total_iters)^power
// (torch.optim.lr_scheduler.PolynomialLR's closed form; its step() multiplies the ratio of
// consecutive factors, equal up to rounding). The lr reaches 0 at total_iters and stays there.
#include <cstdint>

#include "halfgrad/optim/lr_scheduler.h"

namespace hg::optim {

class PolynomialLR final : public LRScheduler {
 public:
  PolynomialLR(Optimizer& optimizer, int64_t total_iters = 5, double power = 1.0);

 protected:
  double lr_at(int64_t epoch, size_t g, double base_lr) const override;

 private:
  int64_t total_iters_;
  double power_;
};

}  // namespace hg::optim
