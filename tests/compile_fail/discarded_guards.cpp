// Not built: tests/CMakeLists.txt compiles it with -Werror=unused-result and expects the
// [[nodiscard]] message. Each line is a guard that would end at once (a silent no-op).
#include "amp/autocast.h"
#include "amp/initialize.h"
#include "autograd/anomaly.h"
#include "autograd/grad_mode.h"

void discarded(const hg::amp::AmpConfig& config) {
  hg::NoGradGuard();
  hg::amp::AutocastGuard(hg::kFloat16);
  hg::autograd::DetectAnomalyGuard();
  config.autocast();
}
