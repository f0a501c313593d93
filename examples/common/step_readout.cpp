#include "step_readout.h"

namespace hg::examples {

void StepReadout::push(const Tensor& loss, const amp::GradScaler& scaler) {
  HG_CHECK(loss.numel() == 1, "StepReadout::push: the loss must have one element, got ",
           describe(loss));
  losses_.push_back(loss.detach().reshape({1}).to(kFloat64));
  if (scaler.is_enabled()) scales_.push_back(scaler.state_tensor());
}

std::vector<StepValues> StepReadout::drain() {
  std::vector<StepValues> steps(losses_.size());
  if (steps.empty()) return steps;
  const std::vector<double> losses = cat(losses_, 0).to(kCPU).to_vector<double>();
  for (size_t i = 0; i < steps.size(); ++i) steps[i].loss = losses[i];
  if (!scales_.empty()) {
    const std::vector<double> states = stack(scales_, 0).to(kCPU).to_vector<double>();
    constexpr size_t kWidth = 4, kScale = 0, kSkipped = 3;  // GradScaler::state_tensor's layout
    for (size_t i = 0; i < steps.size(); ++i) {
      steps[i].loss_scale = states[i * kWidth + kScale];
      steps[i].skipped_steps = static_cast<int64_t>(states[i * kWidth + kSkipped]);
    }
  }
  losses_.clear();
  scales_.clear();
  return steps;
}

}  // namespace hg::examples
