#pragma once
// LinearWarmup: the lr ramps linearly from start_factor * base_lr at epoch 0 to
// end_factor * base_lr at epoch warmup_steps and stays there:
//   lr = base_lr * (start + (end - start) * min(warmup_steps, epoch) / warmup_steps)
// which is torch.optim.lr_scheduler.LinearLR(start_factor, end_factor, total_iters) in its
// closed form. Unlike LinearLR's recursive form, start_factor may be 0.
#include <cstdint>

#include "halfgrad/optim/lr_scheduler.h"

namespace hg::optim {

class LinearWarmup final : public LRScheduler {
 public:
  LinearWarmup(Optimizer& optimizer, int64_t warmup_steps, double start_factor = 1.0 / 3.0,
               double end_factor = 1.0);

 protected:
  double lr_at(int64_t epoch, size_t g, double base_lr) const override;

 private:
  int64_t warmup_steps_;
  double start_factor_;
  double end_factor_;
};

}  // namespace hg::optim
