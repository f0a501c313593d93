#include "halfgrad/optim/lr_scheduler.h"

#include <cmath>
#include <utility>

#include "halfgrad/core/cuda.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/warning.h"

namespace hg::optim {

LRScheduler::LRScheduler(Optimizer& optimizer, std::string name)
    : optimizer_(optimizer), name_(std::move(name)) {
  for (const auto& g : optimizer_.param_groups()) base_lrs_.push_back(g.lr());
}

void LRScheduler::apply(int64_t epoch) {
  HG_CHECK(!cuda::is_capturing(), name_,
           ".step inside cuda::Graph::capture: the lrs it sets would not change with the "
           "replays; step the scheduler outside the capture, between replays");
  auto& groups = optimizer_.param_groups();
  HG_CHECK(groups.size() == base_lrs_.size(), name_, ": the optimizer has ", groups.size(),
           " parameter groups but the scheduler was made for ", base_lrs_.size());
  std::vector<double> lrs;
  for (size_t g = 0; g < groups.size(); ++g) {
    lrs.push_back(lr_at(epoch, g, base_lrs_[g]));
    HG_CHECK(std::isfinite(lrs[g]) && lrs[g] >= 0.0, name_, ": epoch ", epoch, " gives group ", g,
             " the invalid lr ", lrs[g]);
  }
  for (size_t g = 0; g < groups.size(); ++g) groups[g].set_lr(lrs[g]);
  last_epoch_ = epoch;
  last_lr_ = std::move(lrs);
}

void LRScheduler::step() {
  const int64_t steps = optimizer_.steps_issued(), replays = cuda::graph_replays();
  const bool no_update = last_epoch_ >= 0 && steps == optimizer_steps_ && replays == graph_replays_;
  apply(last_epoch_ + 1);
  optimizer_steps_ = steps;
  graph_replays_ = replays;
  if (no_update) {
    warn_once(
        "LRScheduler.no_update",
        name_ + ".step: the " + optimizer_.name() +
            " optimizer took no step since the "
            "previous scheduler step (did a GradScaler skip it at a non-finite gradient?); the "
            "schedule advances anyway, so skipped steps shorten the schedule");
  }
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
  HG_CHECK(epoch->second >= 0.0 && epoch->second <= 9007199254740992.0 &&
               epoch->second == std::floor(epoch->second),
           who, ": invalid last_epoch ", epoch->second, " (expected a whole number in [0, 2^53])");
  std::vector<double> base;
  for (size_t g = 0; g < base_lrs_.size(); ++g) {
    auto it = dict.find("base_lrs." + std::to_string(g));
    HG_CHECK(it != dict.end(), who, ": the state dict has no \"base_lrs.", g, "\"");
    HG_CHECK(std::isfinite(it->second) && it->second >= 0, who, ": invalid base_lrs.", g, " ",
             it->second, " (expected a finite lr >= 0)");
    base.push_back(it->second);
  }
  HG_CHECK(!dict.count("base_lrs." + std::to_string(base_lrs_.size())), who,
           ": the state dict has more base lrs than the scheduler's ", base_lrs_.size());
  const std::vector<double> previous = std::move(base_lrs_);
  base_lrs_ = std::move(base);
  try {
    apply(static_cast<int64_t>(epoch->second));
    optimizer_steps_ = optimizer_.steps_issued();
    graph_replays_ = cuda::graph_replays();
  } catch (...) {
    base_lrs_ = previous;
    throw;
  }
}

}  // namespace hg::optim
