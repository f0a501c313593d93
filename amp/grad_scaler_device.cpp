// GradScaler's device mode (amp/grad_scaler.h): the scale state lives in tensors on the
// gradients' device and the step is decided there, so nothing is read back unless asked for.
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "halfgrad/amp/grad_scaler.h"
#include "halfgrad/amp/scale_state.h"
#include "halfgrad/amp/unscale.h"
#include "halfgrad/autograd/anomaly.h"
#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/kernels/amp_kernels.h"
#include "halfgrad/kernels/tensor_bridge.h"

namespace hg::amp {

StepResult::operator bool() const {
  if (!found_inf_.defined()) return stepped_;
  return found_inf_.item<float>() == 0.0f;  // a readback
}

namespace {
Tensor clone_if_defined(const Tensor& t) {
  NoGradGuard no_grad;
  return t.defined() ? t.clone() : Tensor();
}
}  // namespace

GradScaler::DeviceState::DeviceState(const DeviceState& other)
    : state(clone_if_defined(other.state)),
      inv_scale(clone_if_defined(other.inv_scale)),
      scale(clone_if_defined(other.scale)),
      found_inf(clone_if_defined(other.found_inf)),
      last_found_inf(clone_if_defined(other.last_found_inf)),
      last_anomaly(other.last_anomaly) {}

GradScaler::DeviceState& GradScaler::DeviceState::operator=(const DeviceState& other) {
  if (this != &other) *this = DeviceState(other);
  return *this;
}

GradScaler::PerOptimizer::PerOptimizer(const PerOptimizer& other)
    : stage(other.stage),
      found_inf(other.found_inf),
      checked_gradients(other.checked_gradients),
      flag_assigned(other.flag_assigned),
      own_flag(clone_if_defined(other.own_flag)),
      skip_reason(other.skip_reason) {}

GradScaler::PerOptimizer& GradScaler::PerOptimizer::operator=(const PerOptimizer& other) {
  if (this != &other) *this = PerOptimizer(other);
  return *this;
}

void GradScaler::choose_home(Device device) {
  if (home_chosen_) return;
  home_chosen_ = true;
  if (!options_.device_state_.value_or(device.is_cuda())) return;
  device_ = device;
  const TensorOptions f32 = TensorOptions(kFloat32).device(device);
  dev_.inv_scale = empty({1}, f32);
  dev_.scale = empty({}, f32);
  dev_.found_inf = zeros({1}, f32);
  write_device_state();
}

void GradScaler::write_device_state() {
  NoGradGuard no_grad;
  dev_.state = from_vector(host_state(), {kernels::kScaleStateSize}, TensorOptions(kFloat64))
                   .to(*device_)
                   .contiguous();
  // stored as float(1 / scale), as host mode computes it (inf below a scale of 2^-128)
  dev_.inv_scale.fill_(static_cast<double>(static_cast<float>(1.0 / scale_)));
  dev_.scale.fill_(static_cast<double>(static_cast<float>(scale_)));  // scale_ <= FLT_MAX
}

std::vector<double> GradScaler::read_device_state() const {
  ++readbacks_;
  return dev_.state.to_vector<double>();
}

// The factor is a fresh tensor, so the backward pass never sees the state that update() changes
// in place. float32 (float64 for a float64 loss): float(scale) * loss is what host mode's
// loss * scale computes for an fp32 loss, bit for bit.
Tensor GradScaler::scale_on_device(const Tensor& loss) {
  HG_CHECK(loss.device() == *device_, "GradScaler.scale: the loss ", describe(loss),
           " is not on the scale's device ", device_->str());
  const DType dtype = promote_types(loss.dtype(), kFloat32);
  // float32: the copy update() keeps (the product saves it for the backward, as PyTorch's saves
  // its scale tensor: an update() between scale() and backward() is an in-place error there too)
  Tensor factor = dev_.scale;
  if (dtype == kFloat64) {
    NoGradGuard no_grad;
    factor = dev_.state.select(0, kernels::kScaleSlot).clone();
  }
  // clip_grad_norm_ only needs to know that the gradients are scaled, not by how much
  set_pending_gradient_scale(std::numeric_limits<double>::infinity());
  return loss.to(dtype) * factor;
}

void GradScaler::unscale_on_device(const std::vector<Tensor>& params, PerOptimizer& record) {
  std::vector<detail::UnscaleTarget> targets;
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor grad = params[i].grad();
    if (!grad.defined()) continue;
    HG_CHECK(grad.device() == *device_, "GradScaler.unscale_: the gradient of ",
             name_of(params[i], i), " is on ", grad.device().str(),
             " but the scale state lives on ", device_->str(),
             " (device_state needs every gradient on one device)");
    targets.push_back(detail::unscale_target(params[i]));
  }
  // The first optimizer's flag is the scaler's own, so the one-optimizer step launches nothing
  // more; another optimizer gets its own, which update() folds into it. Both stay allocated
  // (a captured graph holds their addresses).
  if (!record.flag_assigned) {
    const bool first = std::none_of(per_optimizer_.begin(), per_optimizer_.end(),
                                    [](const auto& e) { return e.second.flag_assigned; });
    if (!first) record.own_flag = zeros({1}, dev_.found_inf.options());
    record.flag_assigned = true;
  }
  detail::unscale_into_params(targets, dev_.inv_scale, device_flag(record));
}

StepResult GradScaler::step_on_device(optim::Optimizer& opt, const PerOptimizer& record) {
  const Tensor& found_inf = device_flag(record);
  dev_.last_found_inf = found_inf.clone();  // update() clears the flag; the result keeps it
  dev_.last_anomaly = autograd::first_anomaly();
  last_skip_reason_.clear();
  switch (opt.step_unless_found_inf(found_inf)) {
    case optim::GatedStep::Stepped:
      ++readbacks_;
      return true;
    case optim::GatedStep::Skipped:
      ++readbacks_;
      return false;
    case optim::GatedStep::OnDevice:
      break;
  }
  return StepResult::on_device(dev_.last_found_inf);
}

void GradScaler::update_on_device() {
  NoGradGuard no_grad;
  for (auto& [opt, record] : per_optimizer_) {  // fold the other optimizers' flags in
    Tensor& flag = record.own_flag;
    if (!flag.defined()) continue;
    if (record.stage != Stage::Ready) dev_.found_inf.copy_(maximum(dev_.found_inf, flag));
    flag.zero_();
  }
  if (!options_.dynamic_) {  // a static scale: only the skip count moves
    dev_.state.narrow(0, kernels::kSkippedStepsSlot, 1).add_(dev_.found_inf);
    dev_.found_inf.zero_();
    return;
  }
  kernels::ScaleUpdateParams p;
  p.growth_factor = options_.growth_factor_, p.backoff_factor = options_.backoff_factor_;
  p.growth_interval = options_.growth_interval_, p.hysteresis = options_.hysteresis_;
  p.min_scale = options_.min_scale_, p.max_scale = options_.max_scale_;
  kernels::scale_update (*device_)(kernels::view_of(dev_.state), kernels::view_of(dev_.found_inf),
                                   kernels::view_of(dev_.inv_scale), kernels::view_of(dev_.scale),
                                   p);
  for (const Tensor* t : {&dev_.state, &dev_.found_inf, &dev_.inv_scale, &dev_.scale})
    t->storage()->bump_version();  // written through raw pointers
}

const std::string& GradScaler::last_skip_reason() const {
  if (!device_ || !dev_.last_found_inf.defined() || !last_skip_reason_.empty())
    return last_skip_reason_;
  ++readbacks_;
  if (dev_.last_found_inf.item<float>() == 0.0f) return last_skip_reason_;
  std::ostringstream reason;
  reason << "non-finite gradients (the scale lives on " << device_->str()
         << ", so the parameters are not named: GradScalerOptions().device_state(false) names "
            "them, at one readback per step)";
  if (!dev_.last_anomaly.empty()) reason << "; first non-finite value: " << dev_.last_anomaly;
  last_skip_reason_ = reason.str();
  return last_skip_reason_;
}

}  // namespace hg::amp
