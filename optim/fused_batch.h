#pragma once
// Internal to optim/: the queue of fused kernel calls of one parameter group
// (detail::ParamUpdate::batch), which Optimizer::step launches after the group.
#include <initializer_list>
#include <memory>
#include <vector>

#include "halfgrad/optim/optimizer.h"

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

// What the batches of the fused SGD and Adam calls share: the step's inputs of the first
// update, which every update joining must share, and every tensor the launch reads until then
// (the device flag, the group's lr tensor too, which a parameter on another device would
// replace in the group).
class FusedCallBatch : public FusedBatch {
 public:
  FusedCallBatch(const FusedCallBatch&) = delete;  // control_ points into the object
  FusedCallBatch& operator=(const FusedCallBatch&) = delete;

 protected:
  explicit FusedCallBatch(const ParamUpdate& u) : control_(u) {
    control_.batch = nullptr;
    hold(u.found_inf, found_inf_, control_.found_inf);
    hold(u.applied_before, applied_, control_.applied_before);
    hold(u.lr_tensor, lr_, control_.lr_tensor);
    hold(u.count_applied, count_, control_.count_applied);  // the step's first call's only
  }
  // The same device, step inputs and gradient factor (a later update never has a counter to
  // count into, which the batch's first may have).
  bool same_inputs(const ParamUpdate& u) const {
    return u.weight.device() == control_.weight.device() && same(u.found_inf, found_inf_) &&
           same(u.applied_before, applied_) && same(u.lr_tensor, lr_) &&
           u.grad_factor == control_.grad_factor;
  }
  // Keeps tensors alive until the launch (undefined ones too: harmless).
  void keep(std::initializer_list<Tensor> tensors) {
    held_.insert(held_.end(), tensors.begin(), tensors.end());
  }
  void release() { held_.clear(); }

  // the first update (device, factor), its input pointers turned to the tensors held below
  ParamUpdate control_;

 private:
  static void hold(const Tensor* given, Tensor& held, const Tensor*& slot) {
    if (given != nullptr) held = *given;
    slot = given != nullptr ? &held : nullptr;
  }
  static bool same(const Tensor* given, const Tensor& held) {
    return given == nullptr ? !held.defined() : held.defined() && given->is_same(held);
  }

  Tensor found_inf_, applied_, lr_, count_;
  std::vector<Tensor> held_;
};

// Queues u's fused call (Batch::add(u, parts...)) in its group's batch: the one there when it
// is a Batch that accepts(u, hyper), else a new one, launching the old first. Without a batch
// to queue in (or when the update does not write the parameter itself) it launches at once.
template <typename Batch, typename Hyper, typename... Parts>
void queue_fused_call(ParamUpdate& u, const Hyper& hyper, const Parts&... parts) {
  if (u.batch != nullptr && u.param_written) {
    std::unique_ptr<FusedBatch>& slot = *u.batch;
    auto* batch = dynamic_cast<Batch*>(slot.get());
    if (batch == nullptr || !batch->accepts(u, hyper)) {
      if (slot) slot->launch();
      slot = std::make_unique<Batch>(u, hyper);
      batch = static_cast<Batch*>(slot.get());
    }
    batch->add(u, parts...);
    return;
  }
  Batch single(u, hyper);
  single.add(u, parts...);
  single.launch();
}

}  // namespace hg::optim::detail
