#include "autograd/anomaly.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "core/error.h"

namespace hg::autograd {

namespace {
thread_local bool anomaly_enabled = false;
}

bool is_anomaly_enabled() { return anomaly_enabled; }
DetectAnomalyGuard::DetectAnomalyGuard() : previous_(anomaly_enabled) { anomaly_enabled = true; }
DetectAnomalyGuard::~DetectAnomalyGuard() { anomaly_enabled = previous_; }

bool all_finite(const Tensor& t) {
  if (!t.is_floating_point() || t.numel() == 0) return true;
  NoGradGuard no_grad;
  return std::isfinite(t.abs().max().item<double>());
}

void check_forward_outputs(const Node& node, const std::vector<Tensor>& outputs) {
  if (!anomaly_enabled) return;
  for (size_t i = 0; i < outputs.size(); ++i) {
    HG_CHECK(all_finite(outputs[i]), "anomaly: ", node.name(), " (tape position ",
             node.sequence_nr, ") produced NaN/inf in forward output ", i, " ",
             describe(outputs[i]));
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
    if (anomaly_enabled) {
      HG_CHECK(all_finite(grads[i]), "anomaly: ", node.name(), " (tape position ",
               node.sequence_nr, ") produced NaN/inf in backward, gradient of input ", i, " ",
               describe(grads[i]));
    }
  }
}

}  // namespace hg::autograd
