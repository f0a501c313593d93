#include "halfgrad/optim/multi_step_lr.h"

#include <algorithm>
#include <cmath>

namespace hg::optim {

MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma)
    : LRScheduler(optimizer, "MultiStepLR"), milestones_(std::move(milestones)), gamma_(gamma) {
  for (int64_t m : milestones_)
    detail::check_option(m >= 0, name_, "milestones", static_cast<double>(m), "must all be >= 0");
  detail::check_option(std::isfinite(gamma) && gamma >= 0.0, name_, "gamma", gamma,
                       "must be finite and >= 0");
  std::sort(milestones_.begin(), milestones_.end());
  initial_step();
}

double MultiStepLR::lr_at(int64_t epoch, size_t, double base_lr) const {
  const auto passed =
      std::upper_bound(milestones_.begin(), milestones_.end(), epoch) - milestones_.begin();
  return base_lr * std::pow(gamma_, static_cast<double>(passed));
}

}  // namespace hg::optim
