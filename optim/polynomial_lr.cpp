#include "halfgrad/optim/polynomial_lr.h"

#include <algorithm>
#include <cmath>

namespace hg::optim {

PolynomialLR::PolynomialLR(Optimizer& optimizer, int64_t total_iters, double power)
    : LRScheduler(optimizer, "PolynomialLR"), total_iters_(total_iters), power_(power) {
  detail::check_option(total_iters >= 1, name_, "total_iters", static_cast<double>(total_iters),
                       "must be >= 1");
  detail::check_option(std::isfinite(power) && power >= 0.0, name_, "power", power,
                       "must be finite and >= 0");
  initial_step();
}

double PolynomialLR::lr_at(int64_t epoch, size_t, double base_lr) const {
  const double done = static_cast<double>(std::min(epoch, total_iters_));
  return base_lr * std::pow(1.0 - done / static_cast<double>(total_iters_), power_);
}

}  // namespace hg::optim
