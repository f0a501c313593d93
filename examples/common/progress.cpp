#include "progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace hg::examples {

namespace {
std::string clock_text(double seconds) {
  const int s = static_cast<int>(std::lround(std::max(0.0, seconds)));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%d:%02d", s / 60, s % 60);
  return buf;
}
}  // namespace

void LossAverage::add(double loss) {
  if (!std::isfinite(loss)) return;  // a skipped fp16 step's inf/NaN loss is reported apart
  sum_ = 0.95 * sum_ + 0.05 * loss;
  weight_ = 0.95 * weight_ + 0.05;
}

double LossAverage::value() const { return weight_ > 0 ? sum_ / weight_ : NAN; }

Progress::Progress(std::string title, int64_t total_steps, int64_t samples_per_step)
    : title_(std::move(title)),
      total_(total_steps),
      samples_per_step_(samples_per_step),
      tty_(::isatty(STDOUT_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::update(int64_t step, double loss) {
  loss_.add(loss);
  const double smoothed_loss = loss_.value();
  const auto now = std::chrono::steady_clock::now();
  const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  const bool last = step >= total_;
  if (!last && since_draw < (tty_ ? 0.1 : 10.0)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(step * samples_per_step_) / elapsed : 0;
  const double eta =
      step > 0 ? elapsed / static_cast<double>(step) * static_cast<double>(total_ - step) : 0;
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(kWidth * step / std::max<int64_t>(total_, 1));
    std::printf("\r%s [%s%s] %lld/%lld loss %.4f %.0f samples/s ETA %s ", title_.c_str(),
                std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(),
                static_cast<long long>(step), static_cast<long long>(total_), smoothed_loss, rate,
                clock_text(eta).c_str());
  } else {
    std::printf("%s step %lld/%lld loss %.4f %.0f samples/s ETA %s\n", title_.c_str(),
                static_cast<long long>(step), static_cast<long long>(total_), smoothed_loss, rate,
                clock_text(eta).c_str());
  }
  std::fflush(stdout);
}

double Progress::finish() {
  if (tty_) std::printf("\n");
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

}  // namespace hg::examples
