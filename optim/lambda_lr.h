#pragma once
// LambdaLR: lr = base_lr * lambda(epoch) (torch.optim.lr_scheduler.LambdaLR), one function for
// every group or one per group. The functions are not part of state_dict() (as in PyTorch, where
// only callable objects' attributes are saved): a resumed run rebuilds them.
//
//   optim::LambdaLR warmup(opt, [](int64_t epoch) { return std::min(1.0, (epoch + 1) / 5.0); });
#include <cstdint>
#include <functional>
#include <vector>

#include "halfgrad/optim/lr_scheduler.h"

namespace hg::optim {

class LambdaLR final : public LRScheduler {
 public:
  using Lambda = std::function<double(int64_t epoch)>;
  LambdaLR(Optimizer& optimizer, Lambda lambda);
  // One function per parameter group, in the groups' order.
  LambdaLR(Optimizer& optimizer, std::vector<Lambda> lambdas);

 protected:
  // Throws hg::Error when the function returns a negative or non-finite factor.
  double lr_at(int64_t epoch, size_t g, double base_lr) const override;

 private:
  std::vector<Lambda> lambdas_;
};

}  // namespace hg::optim
