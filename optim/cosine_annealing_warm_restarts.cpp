#include "halfgrad/optim/cosine_annealing_warm_restarts.h"

#include <cmath>
#include <numbers>

namespace hg::optim {

CosineAnnealingWarmRestarts::CosineAnnealingWarmRestarts(Optimizer& optimizer, int64_t T_0,
                                                         int64_t T_mult, double eta_min)
    : LRScheduler(optimizer, "CosineAnnealingWarmRestarts"),
      t_0_(T_0),
      t_mult_(T_mult),
      eta_min_(eta_min) {
  detail::check_option(T_0 >= 1, name_, "T_0", static_cast<double>(T_0), "must be >= 1");
  detail::check_option(T_mult >= 1, name_, "T_mult", static_cast<double>(T_mult), "must be >= 1");
  detail::check_option(std::isfinite(eta_min) && eta_min >= 0.0, name_, "eta_min", eta_min,
                       "must be finite and >= 0");
  initial_step();
}

double CosineAnnealingWarmRestarts::lr_at(int64_t epoch, size_t, double base_lr) const {
  int64_t t_cur = epoch, t_i = t_0_;
  if (t_mult_ == 1) {
    t_cur = epoch % t_0_;
  } else {
    while (t_cur >= t_i) {  // a few cycles: each is T_mult times longer
      t_cur -= t_i;
      t_i *= t_mult_;
    }
  }
  const double angle = std::numbers::pi * static_cast<double>(t_cur) / static_cast<double>(t_i);
  return eta_min_ + (base_lr - eta_min_) * (1.0 + std::cos(angle)) / 2.0;
}

}  // namespace hg::optim
