#include "halfgrad/optim/reduce_lr_on_plateau.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "halfgrad/core/cuda.h"
#include "halfgrad/core/error.h"

namespace hg::optim {

namespace {

constexpr const char* kName = "ReduceLROnPlateau";

void check_options(const ReduceLROnPlateauOptions& o, size_t groups) {
  using detail::check_option;
  check_option(o.factor_ >= 0.0 && o.factor_ < 1.0, kName, "factor", o.factor_,
               "must be in [0, 1)");
  check_option(o.patience_ >= 0, kName, "patience", static_cast<double>(o.patience_),
               "must be >= 0");
  check_option(std::isfinite(o.threshold_) && o.threshold_ >= 0.0, kName, "threshold", o.threshold_,
               "must be finite and >= 0");
  check_option(o.cooldown_ >= 0, kName, "cooldown", static_cast<double>(o.cooldown_),
               "must be >= 0");
  check_option(std::isfinite(o.eps_) && o.eps_ >= 0.0, kName, "eps", o.eps_,
               "must be finite and >= 0");
  HG_CHECK(o.min_lrs_.size() == 1 || o.min_lrs_.size() == groups, kName, ": expected one min_lr ",
           "or one per parameter group (", groups, "), got ", o.min_lrs_.size());
  for (const double lr : o.min_lrs_)
    check_option(std::isfinite(lr) && lr >= 0.0, kName, "min_lr", lr, "must be finite and >= 0");
}

double restored(const SchedulerStateDict& dict, const std::string& key) {
  const auto it = dict.find(key);
  HG_CHECK(it != dict.end(), kName, ".load_state_dict: the state dict has no \"", key, "\"");
  return it->second;
}

int64_t restored_count(const SchedulerStateDict& dict, const std::string& key) {
  const double value = restored(dict, key);
  HG_CHECK(value >= 0.0 && value <= 9007199254740992.0 && value == std::floor(value), kName,
           ".load_state_dict: invalid ", key, " ", value,
           " (expected a whole number in [0, 2^53])");
  return static_cast<int64_t>(value);
}

}  // namespace

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options)
    : optimizer_(optimizer), options_(options) {
  const auto& groups = optimizer_.param_groups();
  check_options(options_, groups.size());
  min_lrs_ = options_.min_lrs_.size() == 1
                 ? std::vector<double>(groups.size(), options_.min_lrs_[0])
                 : options_.min_lrs_;
  const double inf = std::numeric_limits<double>::infinity();
  best_ = options_.mode_ == ReduceLROnPlateauOptions::Mode::Min ? inf : -inf;
  for (const auto& g : groups) last_lr_.push_back(g.lr());
}

// PyTorch's is_better: rel min a < best (1 - t), abs min a < best - t, and the mirror for max.
bool ReduceLROnPlateau::is_better(double metric) const {
  using Mode = ReduceLROnPlateauOptions::Mode;
  const bool relative = options_.threshold_mode_ == ReduceLROnPlateauOptions::ThresholdMode::Rel;
  const double t = options_.threshold_;
  if (options_.mode_ == Mode::Min) return metric < (relative ? best_ * (1.0 - t) : best_ - t);
  return metric > (relative ? best_ * (1.0 + t) : best_ + t);
}

void ReduceLROnPlateau::step(double metric) {
  HG_CHECK(!cuda::is_capturing(), kName,
           ".step inside cuda::Graph::capture: the lrs it sets would not change with the "
           "replays; step it outside the capture, between replays");
  HG_CHECK(optimizer_.param_groups().size() == min_lrs_.size(), kName, ": the optimizer has ",
           optimizer_.param_groups().size(), " parameter groups but the scheduler was made for ",
           min_lrs_.size());
  ++last_epoch_;
  if (is_better(metric)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {  // bad epochs do not count while cooling down
    --cooldown_counter_;
    num_bad_epochs_ = 0;
  }
  if (num_bad_epochs_ > options_.patience_) {
    reduce_lrs();
    cooldown_counter_ = options_.cooldown_;
    num_bad_epochs_ = 0;
  }
  last_lr_.clear();
  for (const auto& g : optimizer_.param_groups()) last_lr_.push_back(g.lr());
}

void ReduceLROnPlateau::reduce_lrs() {
  auto& groups = optimizer_.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    const double old_lr = groups[g].lr();
    const double new_lr = std::max(old_lr * options_.factor_, min_lrs_[g]);
    if (old_lr - new_lr > options_.eps_) groups[g].set_lr(new_lr);
  }
}

SchedulerStateDict ReduceLROnPlateau::state_dict() const {
  return {{"last_epoch", static_cast<double>(last_epoch_)},
          {"best", best_},
          {"num_bad_epochs", static_cast<double>(num_bad_epochs_)},
          {"cooldown_counter", static_cast<double>(cooldown_counter_)}};
}

// All read before any is set: a bad dict changes nothing.
void ReduceLROnPlateau::load_state_dict(const SchedulerStateDict& dict) {
  const int64_t epoch = restored_count(dict, "last_epoch");
  const double best = restored(dict, "best");
  const int64_t bad = restored_count(dict, "num_bad_epochs");
  const int64_t cooldown = restored_count(dict, "cooldown_counter");
  HG_CHECK(!std::isnan(best), kName, ".load_state_dict: best is NaN");
  last_epoch_ = epoch;
  best_ = best;
  num_bad_epochs_ = bad;
  cooldown_counter_ = cooldown;
}

}  // namespace hg::optim
