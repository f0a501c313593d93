#include "halfgrad/optim/constant_lr.h"

#include <cmath>

namespace hg::optim {

ConstantLR::ConstantLR(Optimizer& optimizer, double factor, int64_t total_iters)
    : LRScheduler(optimizer, "ConstantLR"), factor_(factor), total_iters_(total_iters) {
  detail::check_option(std::isfinite(factor) && factor >= 0.0 && factor <= 1.0, name_, "factor",
                       factor, "must be in [0, 1]");
  detail::check_option(total_iters >= 0, name_, "total_iters", static_cast<double>(total_iters),
                       "must be >= 0");
  initial_step();
}

double ConstantLR::lr_at(int64_t epoch, size_t, double base_lr) const {
  return epoch < total_iters_ ? base_lr * factor_ : base_lr;
}

}  // namespace hg::optim
