#pragma once
// A training progress display: a redrawn bar on a terminal (step, loss, samples/s, ETA), plain
// periodic lines when the output is not a TTY (logs, CI).
#include <chrono>
#include <cstdint>
#include <string>

namespace hg::examples {

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
  // an exponential moving average of the loss (0.95 per step) from 0, over the weight it has
  // gathered (1 - 0.95^steps): each shown value weighs the recent steps, not the first one
  double loss_average_ = 0, average_weight_ = 0;
};

}  // namespace hg::examples
