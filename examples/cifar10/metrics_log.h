#pragma once
// hg_cifar10's --metrics file: JSON Lines, one object per line, appended, each with a "type":
//   "step"       every --log-every steps: the step's loss, lr, loss scale and skipped steps
//   "loss_scale" whenever the dynamic loss scale changes (an overflow halves it, 2000 clean
//                steps double it): the step and the old and new scale, so the trajectory of an
//                fp16 run is recorded exactly, not sampled
//   "epoch"      after each epoch: mean train loss, test accuracy (and with --tta the accuracy
//                with flip test-time augmentation), times, precision, scale
// An empty path writes nothing.
#include <cstdint>
#include <fstream>
#include <limits>
#include <string>

namespace hg::examples {

struct StepRecord {
  int64_t epoch = 0, step = 0;  // 1-based epoch, global step (1-based, over all epochs)
  double loss = 0, lr = 0, loss_scale = 1;
  int64_t skipped_steps = 0;
};

struct EpochRecord {
  int64_t epoch = 0, steps = 0, images = 0, batch = 0;
  double train_loss = 0, test_acc = 0;  // test_acc NaN: not evaluated (written as null)
  double test_acc_tta = std::numeric_limits<double>::quiet_NaN();  // --tta; NaN: not measured
  double seconds = 0;  // training time of this epoch (the evaluation excluded)
  double elapsed = 0;  // wall time since this process started training, evaluations included
  std::string precision, opt_level, device;
  double loss_scale = 1;
  int64_t skipped_steps = 0, nonfinite_losses = 0;
};

class MetricsLog {
 public:
  explicit MetricsLog(const std::string& path);
  bool enabled() const { return out_.is_open(); }
  void step(const StepRecord& r);
  void loss_scale_change(int64_t step, double from, double to, int64_t skipped_steps);
  void epoch(const EpochRecord& r);

 private:
  void write_number_or_null(double value);
  std::ofstream out_;
};

}  // namespace hg::examples
