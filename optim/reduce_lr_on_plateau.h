#pragma once
// ReduceLROnPlateau: multiplies every group's lr by `factor` once a metric (a validation loss,
// an accuracy) has stopped improving for more than `patience` epochs, as
// torch.optim.lr_scheduler.ReduceLROnPlateau does, rule for rule:
//
//   optim::ReduceLROnPlateau plateau(opt, optim::ReduceLROnPlateauOptions().patience(2));
//   for (...) { train_one_epoch(); plateau.step(validation_loss); }
//
// "Improving" is a threshold away from the best value so far: relative (best * (1 - threshold)
// for Mode::Min) or absolute (best - threshold). After a reduction, `cooldown` epochs pass
// before bad epochs count again. No lr goes below its group's min_lr, and a reduction smaller
// than eps is not made. Unlike the epoch schedules (lr_scheduler.h) its lrs depend on the
// metrics seen, so it is not an LRScheduler; it changes the lrs only when it reduces them, so it
// can follow a warm-up or be combined with set_lr. train::Checkpoint saves it (scheduler()).
// The optimizer must outlive it.
#include <cstdint>
#include <vector>

#include "halfgrad/optim/lr_scheduler.h"

namespace hg::optim {

struct ReduceLROnPlateauOptions {
  enum class Mode { Min, Max };  // lower is better (a loss) or higher is (an accuracy)
  enum class ThresholdMode { Rel, Abs };

  ReduceLROnPlateauOptions& mode(Mode m) {
    mode_ = m;
    return *this;
  }
  ReduceLROnPlateauOptions& factor(double f) {
    factor_ = f;
    return *this;
  }
  ReduceLROnPlateauOptions& patience(int64_t p) {
    patience_ = p;
    return *this;
  }
  ReduceLROnPlateauOptions& threshold(double t) {
    threshold_ = t;
    return *this;
  }
  ReduceLROnPlateauOptions& threshold_mode(ThresholdMode m) {
    threshold_mode_ = m;
    return *this;
  }
  ReduceLROnPlateauOptions& cooldown(int64_t c) {
    cooldown_ = c;
    return *this;
  }
  ReduceLROnPlateauOptions& min_lr(double lr) {  // for every group
    min_lrs_ = {lr};
    return *this;
  }
  ReduceLROnPlateauOptions& min_lr(std::vector<double> lrs) {  // one per group
    min_lrs_ = std::move(lrs);
    return *this;
  }
  ReduceLROnPlateauOptions& eps(double e) {
    eps_ = e;
    return *this;
  }

  Mode mode_ = Mode::Min;
  double factor_ = 0.1;
  int64_t patience_ = 10;
  double threshold_ = 1e-4;
  ThresholdMode threshold_mode_ = ThresholdMode::Rel;
  int64_t cooldown_ = 0;
  std::vector<double> min_lrs_ = {0.0};
  double eps_ = 1e-8;
};

class ReduceLROnPlateau {
 public:
  explicit ReduceLROnPlateau(Optimizer& optimizer,
                             const ReduceLROnPlateauOptions& options = ReduceLROnPlateauOptions());
  ReduceLROnPlateau(const ReduceLROnPlateau&) = delete;
  ReduceLROnPlateau& operator=(const ReduceLROnPlateau&) = delete;

  // One epoch's metric. A NaN metric is never better, so it counts as a bad epoch (PyTorch's
  // comparisons do the same).
  void step(double metric);
  // The groups' lrs after the last step (the current ones before the first).
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  int64_t cooldown_counter() const { return cooldown_counter_; }
  const ReduceLROnPlateauOptions& options() const { return options_; }

  // "last_epoch", "best", "num_bad_epochs", "cooldown_counter"; the lrs live in the optimizer's
  // own state dict.
  SchedulerStateDict state_dict() const;
  void load_state_dict(const SchedulerStateDict& dict);

 private:
  bool is_better(double metric) const;
  void reduce_lrs();

  Optimizer& optimizer_;
  ReduceLROnPlateauOptions options_;
  std::vector<double> min_lrs_;  // one per group
  double best_;
  int64_t num_bad_epochs_ = 0;
  int64_t cooldown_counter_ = 0;
  int64_t last_epoch_ = 0;
  std::vector<double> last_lr_;
};

}  // namespace hg::optim
