#pragma once
// The MNIST training runs behind chapters 3, 4, 5 and 7: the recipe of examples/mnist (SGD,
// nesterov momentum 0.9, weight decay 5e-4, one-cycle lr, batch 128, seed 1) at a chosen
// precision, opt level and loss scaling, recording what the chapters show: the loss scale and
// the lost-update share at every step, and (fp32 runs) the activation gradients at chosen steps.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <halfgrad/halfgrad.h>

namespace hg::tour {

struct RunSpec {
  std::string precision = "fp32";   // fp32, fp16 or bf16
  std::string level = "O0";         // O0 (fp32) .. O3
  std::string loss_scale = "none";  // none, dynamic, or a number (a static scale)
  int64_t growth_interval = 2000;   // of the dynamic scale (PyTorch's default)
  double lr = 0.05;                 // peak of the one-cycle schedule
  // The loss is multiplied by this power of two and lr / weight decay are compensated (lr /
  // factor, weight decay * factor): in exact arithmetic the same training, with every gradient
  // `factor` times smaller. Shows loss scaling failing without a scaler.
  double loss_factor = 1.0;

  std::string label() const;  // "fp16 O2, dynamic loss scale"
  std::string key() const;    // every field, for memoizing
};

// The gradients of every layer output of the model at one step (fp32 runs only).
struct Capture {
  int64_t step = 0;
  amp::PrecisionStats all;  // all layers merged, judged against fp16
  std::vector<std::pair<std::string, amp::PrecisionStats>> layers;
};

struct RunResult {
  RunSpec spec;
  double accuracy = 0, final_loss = 0, seconds = 0, final_scale = 1;
  int64_t steps = 0, skipped = 0, nonfinite_losses = 0;
  std::vector<double> scale_per_step;  // the loss scale each step used (1 without scaling)
  std::vector<std::pair<int64_t, double>> lost_share;  // (step, lost / updated), 16-bit runs
  optim::LostUpdateCount lost_total;
  std::vector<Capture> captures;
};

struct TrainerOptions {
  std::string data = "datasets/mnist";
  std::string model = "cnn";
  int64_t epochs = 1, limit = 0, batch = 128;
  uint64_t seed = 1;
  std::vector<int64_t> capture_steps;  // 1-based; empty: 1, 10%, 50% and the last step
};

class Trainer {
 public:
  explicit Trainer(TrainerOptions options);
  ~Trainer();
  // Trains spec (once: later calls return the stored result) and prints a one-line summary.
  const RunResult& run(const RunSpec& spec);
  const TrainerOptions& options() const { return options_; }
  std::string describe() const;  // the recipe and data, for headings
  int64_t steps_per_epoch();
  std::vector<int64_t> capture_steps();

 private:
  struct Data;
  void load();
  RunResult train(const RunSpec& spec);

  TrainerOptions options_;
  std::unique_ptr<Data> data_;
  std::map<std::string, RunResult> runs_;
};

// Merges b's counts and histogram into a (same dtype).
void merge_into(amp::PrecisionStats& a, const amp::PrecisionStats& b);
// The share of all values (zeros included) whose magnitude is below 2^exponent, from the log2
// histogram (exact: floor(log2|x|) < e <=> |x| < 2^e).
double share_below(const amp::PrecisionStats& s, int exponent);
double share_at_or_above(const amp::PrecisionStats& s, int exponent);

}  // namespace hg::tour
