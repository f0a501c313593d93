// Opt-in lost-update counting (Optimizer::count_lost_updates, optim/optimizer.h): the step of a
// 16-bit parameter with the count taken on the side.
#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/optim/optimizer.h"

namespace hg::optim {

LostUpdateCount& LostUpdateCount::operator+=(const LostUpdateCount& other) {
  elements += other.elements;
  updated += other.updated;
  lost += other.lost;
  return *this;
}

void Optimizer::count_lost_updates(bool enabled) {
  count_lost_ = enabled;
  last_lost_ = {};
  total_lost_ = {};
}

// The same update as step_param, except that a 16-bit parameter without a master is updated
// through an fp32 staging copy, rounded (RNE) into the parameter afterwards: the optimizers'
// loops compute in float and round once on store either way, so the result is bit-identical,
// and the staging copy keeps the unrounded new weight the count needs.
void Optimizer::step_param_counting(const Tensor& param, ParamGroup& group, double grad_factor) {
  ParamState& st = state_[param.impl()];
  detail::ParamUpdate u = prepare(param, st, grad_factor);
  const Tensor old16 = param.detach().clone();
  if (!st.master.defined()) u.weight = param.detach().to(kFloat32).contiguous();
  const Tensor before = u.weight.clone();
  ++st.step;
  if (detail::use_fused_kernel(u)) u.lr_tensor = &group.lr_tensor_on(u.weight.device(), name());
  update(u, st, *group.options);   // as step_param's, so counting never changes the results
  param.detach().copy_(u.weight);  // the master or the staging copy, rounded to 16 bits

  const Tensor moved = ne(u.weight, before);
  const Tensor unchanged16 = eq(param.detach(), old16);
  LostUpdateCount count;
  count.elements = param.numel();
  count.updated = sum(moved).item<int64_t>();
  count.lost =
      sum(where(moved, unchanged16, zeros({}, TensorOptions(kBool).device(param.device()))))
          .item<int64_t>();
  last_lost_ += count;
}

}  // namespace hg::optim
