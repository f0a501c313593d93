#include "halfgrad/optim/linear_warmup.h"

#include <algorithm>

namespace hg::optim {

LinearWarmup::LinearWarmup(Optimizer& optimizer, int64_t warmup_steps, double start_factor,
                           double end_factor)
    : LRScheduler(optimizer, "LinearWarmup"),
      warmup_steps_(warmup_steps),
      start_factor_(start_factor),
      end_factor_(end_factor) {
  detail::check_option(warmup_steps >= 1, name_, "warmup_steps", static_cast<double>(warmup_steps),
                       "must be >= 1");
  detail::check_option(start_factor >= 0.0 && start_factor <= 1.0, name_, "start_factor",
                       start_factor, "must be in [0, 1]");
  detail::check_option(end_factor >= 0.0 && end_factor <= 1.0, name_, "end_factor", end_factor,
                       "must be in [0, 1]");
  initial_step();
}

double LinearWarmup::lr_at(int64_t epoch, size_t, double base_lr) const {
  const double progress = static_cast<double>(std::min(warmup_steps_, epoch));
  return base_lr * (start_factor_ +
                    (end_factor_ - start_factor_) * progress / static_cast<double>(warmup_steps_));
}

}  // namespace hg::optim
