#include "halfgrad/optim/exponential_lr.h"

#include <cmath>

namespace hg::optim {

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma)
    : LRScheduler(optimizer, "ExponentialLR"), gamma_(gamma) {
  detail::check_option(std::isfinite(gamma) && gamma >= 0.0, name_, "gamma", gamma,
                       "must be finite and >= 0");
  initial_step();
}

double ExponentialLR::lr_at(int64_t epoch, size_t, double base_lr) const {
  return base_lr * std::pow(gamma_, static_cast<double>(epoch));
}

}  // namespace hg::optim
