#include "halfgrad/optim/one_cycle_lr.h"

#include <cmath>
#include <numbers>
#include <utility>

namespace hg::optim {

OneCycleLR::OneCycleLR(Optimizer& optimizer, double max_lr, int64_t total_steps, double pct_start,
                       AnnealStrategy anneal_strategy, double div_factor, double final_div_factor,
                       bool three_phase)
    : OneCycleLR(optimizer, std::vector<double>(optimizer.param_groups().size(), max_lr),
                 total_steps, pct_start, anneal_strategy, div_factor, final_div_factor,
                 three_phase) {}

OneCycleLR::OneCycleLR(Optimizer& optimizer, std::vector<double> max_lrs, int64_t total_steps,
                       double pct_start, AnnealStrategy anneal_strategy, double div_factor,
                       double final_div_factor, bool three_phase)
    : LRScheduler(optimizer, "OneCycleLR"),
      max_lrs_(std::move(max_lrs)),
      total_steps_(total_steps),
      pct_start_(pct_start),
      anneal_(anneal_strategy),
      div_factor_(div_factor),
      final_div_factor_(final_div_factor),
      three_phase_(three_phase) {
  using detail::check_option;
  HG_CHECK(max_lrs_.size() == base_lrs_.size(), name_, ": expected ", base_lrs_.size(),
           " values for max_lr (one per parameter group), got ", max_lrs_.size());
  for (double lr : max_lrs_) {
    check_option(std::isfinite(lr) && lr >= 0.0, name_, "max_lr", lr, "must be finite and >= 0");
  }
  check_option(total_steps >= 1, name_, "total_steps", static_cast<double>(total_steps),
               "must be >= 1");
  check_option(pct_start >= 0.0 && pct_start <= 1.0, name_, "pct_start", pct_start,
               "must be in [0, 1]");
  check_option(std::isfinite(div_factor) && div_factor > 0.0, name_, "div_factor", div_factor,
               "must be finite and > 0");
  check_option(std::isfinite(final_div_factor) && final_div_factor > 0.0, name_, "final_div_factor",
               final_div_factor, "must be finite and > 0");
  for (size_t g = 0; g < max_lrs_.size(); ++g) base_lrs_[g] = max_lrs_[g] / div_factor_;
  initial_step();
}

double OneCycleLR::lr_at(int64_t epoch, size_t g, double) const {  // from max_lrs_
  HG_CHECK(epoch <= total_steps_, name_, ": tried to step ", epoch, " times; total_steps is ",
           total_steps_);
  struct Phase {
    double end_step, start_lr, end_lr;
  };
  const double total = static_cast<double>(total_steps_);
  const double initial = max_lrs_[g] / div_factor_;
  const double peak = max_lrs_[g];
  const double lowest = initial / final_div_factor_;
  const std::vector<Phase> phases =
      three_phase_ ? std::vector<Phase>{{pct_start_ * total - 1.0, initial, peak},
                                        {2.0 * pct_start_ * total - 2.0, peak, initial},
                                        {total - 1.0, initial, lowest}}
                   : std::vector<Phase>{{pct_start_ * total - 1.0, initial, peak},
                                        {total - 1.0, peak, lowest}};
  // A PyTorch loop steps the scheduler after each of its total_steps optimizer steps, so the
  // last scheduler step lands one past the schedule, where no optimizer step uses the lr.
  // PyTorch extrapolates there (below zero for a linear anneal, back up for cos); this holds
  // the end of the schedule instead, so that step is valid for either strategy.
  if (epoch == total_steps_) return lowest;
  const double step = static_cast<double>(epoch);
  double start_step = 0.0;
  for (size_t i = 0; i < phases.size(); ++i) {
    const Phase& p = phases[i];
    if (step <= p.end_step || i + 1 == phases.size()) {
      // A phase of no steps (pct_start * total_steps == 1: the warm-up) is a jump to its end,
      // where PyTorch divides by zero.
      if (p.end_step <= start_step) return p.end_lr;
      const double pct = (step - start_step) / (p.end_step - start_step);
      if (anneal_ == AnnealStrategy::Linear) return (p.end_lr - p.start_lr) * pct + p.start_lr;
      const double cos_out = std::cos(std::numbers::pi * pct) + 1.0;
      return p.end_lr + (p.start_lr - p.end_lr) / 2.0 * cos_out;
    }
    start_step = p.end_step;
  }
  return phases.back().end_lr;  // unreachable: the last phase always matches
}

}  // namespace hg::optim
