#pragma once
// SequentialLR: one schedule after another (torch.optim.lr_scheduler.SequentialLR), e.g. a
// linear warm-up, then cosine annealing from the step the warm-up ends:
//
//   auto warmup = std::make_shared<optim::LinearWarmup>(opt, 5, 0.1);
//   auto cosine = std::make_shared<optim::CosineAnnealingLR>(opt, 95);
//   optim::SequentialLR sched(opt, {warmup, cosine}, {5});
//
// Schedule i runs from milestone i-1 (0 for the first) and starts there at its own epoch 0,
// as in PyTorch. Every schedule computes from the base lrs the first one recorded (the
// groups' lrs before any scheduler changed them: construct the schedules in order, right
// after the optimizer), so the second does not start from the first's epoch-0 lr. PyTorch
// does the same through the groups' initial_lr, with one difference: a later OneCycleLR
// rewrites initial_lr to max_lr / div_factor there, so PyTorch's earlier stages then run from
// that lr; here they keep the groups' own. Step only the SequentialLR; the schedules it holds
// are read, never stepped.
#include <cstdint>
#include <memory>
#include <vector>

#include "halfgrad/optim/lr_scheduler.h"

namespace hg::optim {

class SequentialLR final : public LRScheduler {
 public:
  SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
               std::vector<int64_t> milestones);

 protected:
  double lr_at(int64_t epoch, size_t g, double base_lr) const override;

 private:
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
  std::vector<int64_t> milestones_;
};

}  // namespace hg::optim
