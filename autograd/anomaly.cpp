#include "halfgrad/autograd/anomaly.h"

#include <cmath>

#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/core/error.h"

namespace hg::autograd {

namespace {
thread_local bool anomaly_enabled = false;
thread_local AnomalyAction anomaly_action = AnomalyAction::Throw;
thread_local std::string first_recorded;

void report(bool ok, const std::string& message) {
  if (ok) return;
  if (anomaly_action == AnomalyAction::Throw) throw Error(message);
  if (first_recorded.empty()) first_recorded = message;
}
}  // namespace

bool is_anomaly_enabled() { return anomaly_enabled; }
DetectAnomalyGuard::DetectAnomalyGuard(AnomalyAction action)
    : previous_(anomaly_enabled), previous_action_(anomaly_action) {
  anomaly_enabled = true;
  anomaly_action = action;
}
DetectAnomalyGuard::~DetectAnomalyGuard() {
  anomaly_enabled = previous_;
  anomaly_action = previous_action_;
}
std::string first_anomaly() { return first_recorded; }
void clear_first_anomaly() { first_recorded.clear(); }

bool all_finite(const Tensor& t) {
  if (!t.is_floating_point() || t.numel() == 0) return true;
  NoGradGuard no_grad;
  return std::isfinite(t.abs().max().item<double>());
}

void check_forward_outputs(const Node& node, const std::vector<Tensor>& outputs) {
  if (!anomaly_enabled) return;
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (all_finite(outputs[i])) continue;
    report(false,
           detail::concat("anomaly: ", node.name(), " (#", node.sequence_nr, " in print_tape",
                          ") produced NaN/inf in forward output ", i, " ", describe(outputs[i])));
  }
}

void check_backward_outputs(const Node& node, const std::vector<Tensor>& grads) {
  HG_CHECK(grads.size() == node.next_edges.size(), node.name(), ": backward returned ",
           grads.size(), " gradients for ", node.next_edges.size(), " inputs");
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined() || !node.next_edges[i].active()) continue;
    HG_CHECK(grads[i].sizes() == node.inputs[i].shape, node.name(), ": backward produced a ",
             "gradient ", describe(grads[i]), " for input ", i, " of shape ",
             shape_str(node.inputs[i].shape));
    if (anomaly_enabled && !all_finite(grads[i])) {
      report(false,
             detail::concat("anomaly: ", node.name(), " (#", node.sequence_nr, " in print_tape",
                            ") produced NaN/inf in backward, gradient of input ", i, " ",
                            describe(grads[i])));
    }
  }
}

}  // namespace hg::autograd
