#include "halfgrad/optim/step_lr.h"

#include <cmath>

namespace hg::optim {

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer, "StepLR"), step_size_(step_size), gamma_(gamma) {
  detail::check_option(step_size >= 1, name_, "step_size", static_cast<double>(step_size),
                       "must be >= 1");
  detail::check_option(std::isfinite(gamma) && gamma >= 0.0, name_, "gamma", gamma,
                       "must be finite and >= 0");
  initial_step();
}

double StepLR::lr_at(int64_t epoch, size_t, double base_lr) const {
  return base_lr * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

}  // namespace hg::optim
