// Not built: tests/CMakeLists.txt compiles it with -Werror=unused-result and expects the
// [[nodiscard]] message. Each line is a guard that would end at once (a silent no-op).
#include "halfgrad/amp/autocast.h"
#include "halfgrad/amp/initialize.h"
#include "halfgrad/autograd/anomaly.h"
#include "halfgrad/autograd/grad_mode.h"

void discarded(const hg::amp::AmpConfig& config) {
  hg::NoGradGuard();
  hg::EnableGradGuard();
  hg::GradModeGuard(true);
  hg::amp::AutocastGuard(hg::kFloat16);
  hg::autograd::DetectAnomalyGuard();
  config.autocast();
}
