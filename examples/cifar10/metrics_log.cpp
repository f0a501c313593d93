#include "metrics_log.h"

#include <halfgrad/halfgrad.h>

#include <cmath>

namespace hg::examples {

MetricsLog::MetricsLog(const std::string& path) {
  if (path.empty()) return;
  out_.open(path, std::ios::app);
  HG_CHECK(out_.is_open(), "hg_cifar10: cannot open the metrics file ", path);
  out_.precision(10);
}

void MetricsLog::step(const StepRecord& r) {
  if (!enabled()) return;
  out_ << "{\"type\":\"step\",\"epoch\":" << r.epoch << ",\"step\":" << r.step
       << ",\"loss\":" << r.loss << ",\"lr\":" << r.lr << ",\"loss_scale\":" << r.loss_scale
       << ",\"skipped_steps\":" << r.skipped_steps << "}\n";
}

void MetricsLog::loss_scale_change(int64_t step, double from, double to, int64_t skipped_steps) {
  if (!enabled()) return;
  out_ << "{\"type\":\"loss_scale\",\"step\":" << step << ",\"from\":" << from << ",\"to\":" << to
       << ",\"skipped_steps\":" << skipped_steps << "}\n";
}

void MetricsLog::epoch(const EpochRecord& r) {
  if (!enabled()) return;
  out_ << "{\"type\":\"epoch\",\"epoch\":" << r.epoch << ",\"train_loss\":" << r.train_loss
       << ",\"test_acc\":";
  write_number_or_null(r.test_acc);  // null: an epoch that --eval-every skipped
  out_ << ",\"test_acc_tta\":";
  write_number_or_null(r.test_acc_tta);  // null: no --tta, or not evaluated
  out_ << ",\"seconds\":" << r.seconds << ",\"elapsed\":" << r.elapsed << ",\"steps\":" << r.steps
       << ",\"images\":" << r.images << ",\"batch\":" << r.batch << ",\"precision\":\""
       << r.precision << "\",\"opt_level\":\"" << r.opt_level << "\",\"device\":\"" << r.device
       << "\",\"loss_scale\":" << r.loss_scale << ",\"skipped_steps\":" << r.skipped_steps
       << ",\"nonfinite_losses\":" << r.nonfinite_losses << "}"
       << std::endl;  // flushed: readable mid-run
}

void MetricsLog::write_number_or_null(double value) {
  if (std::isnan(value))
    out_ << "null";
  else
    out_ << value;
}

}  // namespace hg::examples
