#include "halfgrad/optim/sequential_lr.h"

#include <utility>

#include "halfgrad/core/error.h"

namespace hg::optim {

namespace {
// The base lrs of a chain are the first schedule's: what the groups had before it ran.
LRScheduler& first_of(const std::vector<std::shared_ptr<LRScheduler>>& schedulers) {
  HG_CHECK(!schedulers.empty() && schedulers.front() != nullptr,
           "SequentialLR: expected at least one scheduler");
  return *schedulers.front();
}
}  // namespace

SequentialLR::SequentialLR(Optimizer& optimizer,
                           std::vector<std::shared_ptr<LRScheduler>> schedulers,
                           std::vector<int64_t> milestones)
    : LRScheduler(optimizer, "SequentialLR"),
      schedulers_(std::move(schedulers)),
      milestones_(std::move(milestones)) {
  base_lrs_ = first_of(schedulers_).base_lrs();
  HG_CHECK(milestones_.size() + 1 == schedulers_.size(), name_, ": ", schedulers_.size(),
           " schedulers need ", schedulers_.size() - 1, " milestones, got ", milestones_.size());
  for (size_t i = 0; i < schedulers_.size(); ++i) {
    HG_CHECK(schedulers_[i] != nullptr, name_, ": scheduler ", i, " is null");
    HG_CHECK(&schedulers_[i]->optimizer_ == &optimizer, name_, ": scheduler ", i, " (",
             schedulers_[i]->name(), ") belongs to another optimizer");
  }
  for (size_t i = 0; i < milestones_.size(); ++i) {
    detail::check_option(milestones_[i] > (i == 0 ? 0 : milestones_[i - 1]), name_, "milestones",
                         static_cast<double>(milestones_[i]), "must be positive and increasing");
  }
  initial_step();
}

double SequentialLR::lr_at(int64_t epoch, size_t g, double base_lr) const {
  size_t i = 0;
  while (i < milestones_.size() && epoch >= milestones_[i]) ++i;
  const int64_t start = i == 0 ? 0 : milestones_[i - 1];
  return schedulers_[i]->lr_at(epoch - start, g, base_lr);  // the chain's base, not the stage's
}

}  // namespace hg::optim
