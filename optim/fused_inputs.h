#pragma once
// Internal to optim/: what a fused optimizer kernel (kernels/amp_kernels.h) reads from memory for
// one update, from the ParamUpdate's tensors: the device skip flag, the gated run's applied count
// (and the counter to count the step into), and the group's learning rate. The views live here,
// beside the FusedStepInputs pointing at them, so the object must outlive the kernel call (it is a
// local of the caller).
#include "halfgrad/kernels/amp_kernels.h"
#include "halfgrad/kernels/tensor_bridge.h"
#include "halfgrad/optim/optimizer.h"

namespace hg::optim::detail {

class FusedInputs {
 public:
  explicit FusedInputs(const ParamUpdate& u) {
    set(u.found_inf, found_inf_, inputs_.found_inf);
    set(u.applied_before, applied_, inputs_.applied_steps);
    set(u.lr_tensor, lr_, inputs_.lr);
    set(u.count_applied, count_, inputs_.count_applied);
  }
  FusedInputs(const FusedInputs&) = delete;
  FusedInputs& operator=(const FusedInputs&) = delete;
  const kernels::FusedStepInputs& get() const { return inputs_; }

 private:
  static void set(const Tensor* t, kernels::TensorView& view, const kernels::TensorView*& slot) {
    if (t == nullptr) return;
    view = kernels::view_of(*t);
    slot = &view;
  }
  kernels::TensorView found_inf_, applied_, lr_, count_;
  kernels::FusedStepInputs inputs_;
};

}  // namespace hg::optim::detail
