#pragma once
// A training progress display: a redrawn bar on a terminal (step, loss, samples/s, ETA), plain
// periodic lines when the output is not a TTY (logs, CI).
#include <chrono>
#include <cstdint>
#include <string>

namespace hg::examples {

// The loss the display shows: an exponential moving average (0.95 per step) from 0, divided by
// the weight it has gathered (1 - 0.95^steps), so each value weighs the recent steps, not the
// first one; non-finite losses (a skipped fp16 step) are left out. NaN before any finite loss.
class LossAverage {
 public:
  void add(double loss);
  double value() const;

 private:
  double sum_ = 0, weight_ = 0;
};

class Progress {
 public:
  Progress(std::string title, int64_t total_steps, int64_t samples_per_step);
  // Call after each step with the step's loss.
  void update(int64_t step, double loss);
  // Ends the bar line; returns the seconds since construction.
  double finish();

 private:
  std::string title_;
  int64_t total_, samples_per_step_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  LossAverage loss_;
};

}  // namespace hg::examples
