#pragma once
// Anomaly mode: while a DetectAnomalyGuard lives (per thread), every recorded forward output and
// every backward gradient is checked for NaN/inf, and the first offender is reported as an
// hg::Error naming the op, its print_tape number, the pass, the shape and the dtype.
// DetectAnomalyGuard(AnomalyAction::Record) does not throw: it remembers the first offender
// (first_anomaly()), which GradScaler adds to the reason of a skipped step, so an fp16 run can
// keep going and still say which op overflowed.
#include <string>
#include <vector>

#include "halfgrad/autograd/node.h"

namespace hg::autograd {

bool is_anomaly_enabled();

enum class AnomalyAction { Throw, Record };

class DetectAnomalyGuard {
 public:
  [[nodiscard("a guard acts while it lives: name it")]] explicit DetectAnomalyGuard(
      AnomalyAction action = AnomalyAction::Throw);
  ~DetectAnomalyGuard();
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool previous_;
  AnomalyAction previous_action_;
};

// Record mode: the first anomaly seen since the last clear ("" when none), and clearing it.
std::string first_anomaly();
void clear_first_anomaly();

// True when every element of t is finite (integer tensors always are).
bool all_finite(const Tensor& t);

// Called by record(): in anomaly mode, checks the op's outputs.
void check_forward_outputs(const Node& node, const std::vector<Tensor>& outputs);
// Called by the engine: the gradients a node returns must match its inputs' shapes (always
// checked: a mismatch is a bug in that op's backward); in anomaly mode they must be finite.
void check_backward_outputs(const Node& node, const std::vector<Tensor>& grads);

}  // namespace hg::autograd
