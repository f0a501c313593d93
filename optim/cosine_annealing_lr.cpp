#include "halfgrad/optim/cosine_annealing_lr.h"

#include <cmath>
#include <numbers>

namespace hg::optim {

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min)
    : LRScheduler(optimizer, "CosineAnnealingLR"), t_max_(T_max), eta_min_(eta_min) {
  detail::check_option(T_max >= 1, name_, "T_max", static_cast<double>(T_max), "must be >= 1");
  detail::check_option(std::isfinite(eta_min) && eta_min >= 0.0, name_, "eta_min", eta_min,
                       "must be finite and >= 0");
  initial_step();
}

double CosineAnnealingLR::lr_at(int64_t epoch, size_t, double base_lr) const {
  const double angle = std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(t_max_);
  return eta_min_ + (base_lr - eta_min_) * (1.0 + std::cos(angle)) / 2.0;
}

}  // namespace hg::optim
