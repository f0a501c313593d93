#include "optim/lr_scheduler.h"

#include <cmath>
#include <utility>

#include "core/error.h"

namespace hg::optim {

LRScheduler::LRScheduler(Optimizer& optimizer, std::string name)
    : optimizer_(optimizer), name_(std::move(name)) {
  for (const auto& g : optimizer_.param_groups()) base_lrs_.push_back(g.lr());
}

void LRScheduler::apply(int64_t epoch) {
  auto& groups = optimizer_.param_groups();
  HG_CHECK(groups.size() == base_lrs_.size(), name_, ": the optimizer has ", groups.size(),
           " parameter groups but the scheduler was made for ", base_lrs_.size());
  std::vector<double> lrs;
  for (size_t g = 0; g < groups.size(); ++g) {
    lrs.push_back(lr_at(epoch, g));
    HG_CHECK(std::isfinite(lrs[g]) && lrs[g] >= 0.0, name_, ": epoch ", epoch, " gives group ", g,
             " the invalid lr ", lrs[g]);
  }
  for (size_t g = 0; g < groups.size(); ++g) groups[g].set_lr(lrs[g]);
  last_epoch_ = epoch;
  last_lr_ = std::move(lrs);
}

void LRScheduler::step() {
  apply(last_epoch_ + 1);
}

SchedulerStateDict LRScheduler::state_dict() const {
  SchedulerStateDict dict;
  dict["last_epoch"] = static_cast<double>(last_epoch_);
  for (size_t g = 0; g < base_lrs_.size(); ++g) {
    dict["base_lrs." + std::to_string(g)] = base_lrs_[g];
  }
  return dict;
}

void LRScheduler::load_state_dict(const SchedulerStateDict& dict) {
  const std::string who = name_ + ".load_state_dict";
  auto epoch = dict.find("last_epoch");
  HG_CHECK(epoch != dict.end(), who, ": the state dict has no \"last_epoch\"");
  HG_CHECK(epoch->second >= 0.0, who, ": invalid last_epoch ", epoch->second);
  std::vector<double> base;
  for (size_t g = 0; g < base_lrs_.size(); ++g) {
    auto it = dict.find("base_lrs." + std::to_string(g));
    HG_CHECK(it != dict.end(), who, ": the state dict has no \"base_lrs.", g, "\"");
    base.push_back(it->second);
  }
  HG_CHECK(!dict.count("base_lrs." + std::to_string(base_lrs_.size())), who,
           ": the state dict has more base lrs than the scheduler's ", base_lrs_.size());
  const std::vector<double> previous = std::move(base_lrs_);
  base_lrs_ = std::move(base);
  try {
    apply(static_cast<int64_t>(epoch->second));
  } catch (...) {
    base_lrs_ = previous;
    throw;
  }
}

}  // namespace hg::optim
