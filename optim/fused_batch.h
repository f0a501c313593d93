#pragma once
// Internal to optim/: the queue of fused kernel calls of one parameter group
// (detail::ParamUpdate::batch), which Optimizer::step launches after the group.
#include <memory>

#include "optim/optimizer.h"

namespace hg::optim::detail {

// Fused kernel calls an optimizer queued while Optimizer::step went through a parameter group,
// launched together after the group: a multi-tensor kernel steps them all in one launch.
class FusedBatch {
 public:
  virtual ~FusedBatch() = default;
  virtual void launch() = 0;
};

// Calls step_one(param, &batch) for each parameter of the group that has a gradient, then
// launches what they queued in batch; also when one of them throws, so the parameters before it
// are stepped, as they would be without queuing.
template <typename StepOne>
void step_group(const ParamGroup& group, StepOne&& step_one) {
  std::unique_ptr<FusedBatch> batch;
  try {
    for (const auto& p : group.params)
      if (p.grad().defined()) step_one(p, &batch);
  } catch (...) {
    if (batch) batch->launch();
    throw;
  }
  if (batch) batch->launch();
}

}  // namespace hg::optim::detail
