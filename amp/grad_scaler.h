#pragma once
// GradScaler: dynamic (or static) loss scaling with PyTorch's semantics and defaults.
//
//   amp::GradScaler scaler;                       // init 2^16, x2 after 2000 clean steps, x0.5
//   scaler.scale(loss).backward();                //   on a non-finite gradient
//   scaler.unscale_(opt);                         // optional: before clipping
//   optim::clip_grad_norm_(params, 1.0);
//   scaler.step(opt);                             // skips the step on inf/NaN gradients
//   scaler.update();
//
// Why: fp16 gradients below 2^-24 flush to zero; multiplying the loss by S shifts every
// gradient up by log2(S) binades, and unscaling in fp32 shifts them back.
#include <map>
#include <string>
#include <vector>

#include "amp/scale_state.h"
#include "core/tensor.h"
#include "optim/optimizer.h"

namespace hg::amp {

class GradScalerOptions {
 public:
  GradScalerOptions& init_scale(double v) {
    init_scale_ = v;
    return *this;
  }
  GradScalerOptions& growth_factor(double v) {
    growth_factor_ = v;
    return *this;
  }
  GradScalerOptions& backoff_factor(double v) {
    backoff_factor_ = v;
    return *this;
  }
  GradScalerOptions& growth_interval(int64_t v) {
    growth_interval_ = v;
    return *this;
  }
  // Back off only after this many consecutive non-finite steps (1 = PyTorch's behaviour).
  GradScalerOptions& hysteresis(int64_t v) {
    hysteresis_ = v;
    return *this;
  }
  GradScalerOptions& min_scale(double v) {
    min_scale_ = v;
    return *this;
  }
  GradScalerOptions& max_scale(double v) {
    max_scale_ = v;
    return *this;
  }
  // false: a static scale (init_scale never changes), e.g. the lecture's c = 8.
  GradScalerOptions& dynamic(bool v) {
    dynamic_ = v;
    return *this;
  }
  GradScalerOptions& enabled(bool v) {
    enabled_ = v;
    return *this;
  }

  double init_scale_ = 65536.0, growth_factor_ = 2.0, backoff_factor_ = 0.5;
  int64_t growth_interval_ = 2000, hysteresis_ = 1;
  double min_scale_ = 0.0, max_scale_ = 1e38;  // ~ the largest float
  bool dynamic_ = true, enabled_ = true;
};

class GradScaler {
 public:
  explicit GradScaler(GradScalerOptions options = {});

  // loss * scale (the scalar kept in float). Marks gradients as scaled until unscale_/update.
  Tensor scale(const Tensor& loss);
  // Divides the gradients of opt's parameters by the scale (in fp32 arithmetic) and records
  // which are non-finite. Once per optimizer per step: a second call is an error.
  void unscale_(optim::Optimizer& opt);
  // Unscales if needed, then runs opt.step() unless a gradient was non-finite (the step is
  // skipped: weights and optimizer state stay bit-identical). Returns whether it stepped.
  bool step(optim::Optimizer& opt);
  // Adjusts the scale for the next iteration (dynamic mode) and resets the per-step state.
  void update();

  double get_scale() const { return scale_; }
  bool is_enabled() const { return options_.enabled_; }
  // Names for messages: "fc1.weight" instead of "parameter #0 [..]".
  void set_parameter_names(const std::vector<std::pair<std::string, Tensor>>& named);
  // Why the last step was skipped ("" when it was not): the non-finite gradients by name.
  const std::string& last_skip_reason() const { return last_skip_reason_; }
  int64_t skipped_steps() const { return skipped_steps_; }

  std::map<std::string, double> state_dict() const;
  void load_state_dict(const std::map<std::string, double>& state);

 private:
  enum class Stage { Ready, Unscaled, Stepped };
  std::string name_of(const Tensor& param, size_t index) const;
  void warn_if_no_masters(const optim::Optimizer& opt, const std::vector<Tensor>& params) const;

  GradScalerOptions options_;
  double scale_;
  int64_t growth_tracker_ = 0, overflow_streak_ = 0, skipped_steps_ = 0;
  bool found_inf_ = false;
  std::map<const optim::Optimizer*, Stage> stages_;
  std::map<const TensorImpl*, std::string> names_;
  std::string last_skip_reason_;
};

}  // namespace hg::amp
