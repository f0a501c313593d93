#pragma once
// Learning-rate schedulers (torch.optim.lr_scheduler names): StepLR, MultiStepLR,
// ExponentialLR, CosineAnnealingLR, CosineAnnealingWarmRestarts, OneCycleLR, LinearWarmup
// (= LinearLR), ConstantLR, PolynomialLR, LambdaLR and SequentialLR (ReduceLROnPlateau, which
// follows a metric, stands apart: optim/reduce_lr_on_plateau.h).
// Every scheduler computes the lr of epoch t in closed form from the group's base lr, so a
// scheduler is fully described by its epoch counter (and base lrs), which is what
// state_dict() saves.
//
//   optim::StepLR sched(opt, /*step_size=*/30, /*gamma=*/0.1);
//   for (...) { train_one_epoch(); sched.step(); }
//
// As in PyTorch, constructing a scheduler takes its first step: the group lrs are set to the
// values of epoch 0, and each step() advances one epoch and writes the new lrs into the groups.
// The schedule owns the lrs: a set_lr() between steps is overwritten by the next step, and two
// schedulers stepped on one optimizer overwrite each other (PyTorch's recursive forms would
// compose them); to run one schedule after another, use SequentialLR.
// The scheduler keeps a reference to the optimizer, which must outlive it.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "halfgrad/optim/optimizer.h"

namespace hg::optim {

// "last_epoch" and "base_lrs.<group>".
using SchedulerStateDict = std::map<std::string, double>;

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Advances one epoch and sets every group's lr; on error (e.g. OneCycleLR stepped past its
  // total_steps) nothing changes. Warns (once per process) when the optimizer took no step since
  // the previous step(), e.g. because a GradScaler skipped it: the schedule still advances, as
  // PyTorch's does, so a run with many skipped steps ends its schedule early. (A step that a
  // device-resident GradScaler skips on the device goes unnoticed: telling would cost a readback.)
  void step();
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  const std::string& name() const { return name_; }

  SchedulerStateDict state_dict() const;
  // Restores the epoch counter and base lrs, and sets the groups' lrs to that epoch's values.
  void load_state_dict(const SchedulerStateDict& dict);

 protected:
  // Records each group's current lr as its base lr.
  LRScheduler(Optimizer& optimizer, std::string name);
  // The lr of group g at `epoch` (>= 0), from base_lr (base_lrs()[g], or a SequentialLR's).
  virtual double lr_at(int64_t epoch, size_t g, double base_lr) const = 0;
  // Takes the first step (to epoch 0): derived constructors call it last.
  void initial_step() { step(); }
  friend class SequentialLR;  // reads the lrs of the schedules it chains

  Optimizer& optimizer_;
  std::string name_;
  std::vector<double> base_lrs_;

 private:
  void apply(int64_t epoch);

  int64_t last_epoch_ = -1;
  std::vector<double> last_lr_;
  int64_t optimizer_steps_ = 0;  // optimizer_.steps_issued() at the last step()
  int64_t graph_replays_ = 0;    // cuda::graph_replays() then: a replay may have stepped
};

}  // namespace hg::optim
