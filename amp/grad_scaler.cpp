#include "halfgrad/amp/grad_scaler.h"

#include <cmath>
#include <limits>
#include <sstream>

#include "halfgrad/amp/autocast.h"
#include "halfgrad/amp/unscale.h"
#include "halfgrad/autograd/anomaly.h"
#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/core/warning.h"
#include "halfgrad/kernels/amp_kernels.h"
#include "halfgrad/kernels/tensor_bridge.h"

namespace hg::amp {

namespace {
thread_local double pending_scale = 0.0;

// Whether every value of t is finite (the rare path that names the offending parameters).
bool all_finite(const Tensor& t) {
  const Tensor wide = t.dtype() == kFloat64 ? t : t.to(kFloat32);  // float64 checked as it is
  return std::isfinite(abs(wide).max().item<double>());
}

}  // namespace

// A 16-bit gradient is replaced by its fp32 unscaled copy: written back in 16 bits, every value
// below 2^-24 would flush to zero again, undoing what the loss scale was for. The optimizer
// reads gradients of any float dtype, and later accumulation promotes into the fp32 gradient.
// fp32/fp64 gradients are unscaled in place (through a contiguous copy when they are strided).
detail::UnscaleTarget detail::unscale_target(const Tensor& param) {
  const Tensor grad = param.grad();
  UnscaleTarget t{param, grad.contiguous(), Tensor(), is_low_precision(grad.dtype())};
  t.out = t.replace ? empty(grad.sizes(), TensorOptions(kFloat32).device(grad.device())) : t.in;
  return t;
}

void detail::unscale_into_params(std::vector<UnscaleTarget>& targets, const Tensor& inv_scale,
                                 const Tensor& found_inf) {
  if (targets.empty()) return;
  std::vector<kernels::TensorView> in, out;
  for (const auto& t : targets) {
    in.push_back(kernels::view_of(t.in));
    out.push_back(kernels::view_of(t.out));
  }
  kernels::unscale_grads(inv_scale.device())(in.data(), out.data(), static_cast<int64_t>(in.size()),
                                             kernels::view_of(inv_scale),
                                             kernels::view_of(found_inf));
  for (auto& t : targets) {
    if (t.replace) {
      t.param.set_grad(t.out);
    } else if (!t.in.is_same(t.param.grad())) {
      t.param.grad().copy_(t.out);
    } else {
      t.out.storage()->bump_version();  // written in place through raw pointers
    }
  }
}

namespace {
// Host mode: unscales the gradients of params on one device by inv_scale and says whether any
// unscaled value is inf or NaN (one flag read back per device).
bool unscale_and_check(std::vector<detail::UnscaleTarget>& targets, double inv_scale,
                       Device device) {
  const TensorOptions f32 = TensorOptions(kFloat32).device(device);
  // float(1 / scale), inf once the scale falls below 2^-128 (a diverged run): every step is
  // then skipped, as before the fill range check (which refuses 1e39 as a value to fill)
  const auto inv_f32 = static_cast<double>(static_cast<float>(inv_scale));
  const Tensor inv = full({1}, inv_f32, f32), found = zeros({1}, f32);
  detail::unscale_into_params(targets, inv, found);
  return found.item<float>() != 0.0f;
}
}  // namespace

double pending_gradient_scale() { return pending_scale; }
void set_pending_gradient_scale(double scale) { pending_scale = scale; }

namespace {

// The rules of the options that shape the dynamic scale (the constructor's, and load_state_dict's
// for the values a checkpoint brings).
void check_dynamics(const GradScalerOptions& o, const char* where) {
  HG_CHECK(o.growth_factor_ > 1.0, where, ": growth_factor must be > 1, got ", o.growth_factor_);
  HG_CHECK(o.backoff_factor_ > 0.0 && o.backoff_factor_ < 1.0, where,
           ": backoff_factor must be in (0, 1), got ", o.backoff_factor_);
  HG_CHECK(o.growth_interval_ >= 1 && o.hysteresis_ >= 1, where,
           ": growth_interval and hysteresis must be >= 1, got ", o.growth_interval_, " and ",
           o.hysteresis_);
  HG_CHECK(o.min_scale_ >= 0.0 && o.min_scale_ <= o.max_scale_ &&
               o.max_scale_ <= std::numeric_limits<float>::max(),
           where, ": expected 0 <= min_scale <= max_scale <= FLT_MAX, got min_scale ", o.min_scale_,
           " and max_scale ", o.max_scale_);
}

}  // namespace

GradScaler::GradScaler(GradScalerOptions options) : options_(options), scale_(options.init_scale_) {
  // The scale and its inverse are float32 values (as PyTorch's): outside this range one of them
  // is inf and every step would be skipped. (A dynamic scale may still back off below it.)
  constexpr double kLargest = std::numeric_limits<float>::max();
  HG_CHECK(options.init_scale_ >= 1.0 / kLargest && options.init_scale_ <= kLargest,
           "GradScaler: init_scale must be in [1/FLT_MAX, FLT_MAX] (~[2.9e-39, 3.4e38]) so that "
           "it and its inverse are finite in float32, got ",
           options.init_scale_);
  check_dynamics(options, "GradScaler");
}

Tensor GradScaler::scale(const Tensor& loss) {
  if (!options_.enabled_) return loss;
  HG_CHECK(loss.defined() && loss.is_floating_point(),
           "GradScaler.scale: expected a floating "
           "loss, got ",
           describe(loss));
  if (loss.dtype() == kBFloat16 || (is_autocast_enabled() && autocast_dtype() == kBFloat16)) {
    warn_once("GradScaler.bf16",
              "GradScaler: bfloat16 has float32's exponent range, so its "
              "gradients do not underflow the way float16's do; loss scaling is not needed");
  }
  choose_home(loss.device());
  if (device_) return scale_on_device(loss);
  pending_scale = scale_;
  // in float32 at least, as PyTorch's (its scale is a float32 tensor): an fp16 loss of 2 times
  // 65536 would overflow to inf in its own dtype and skip every step
  return loss.to(promote_types(loss.dtype(), kFloat32)) * scale_;
}

void GradScaler::unscale_(optim::Optimizer& opt) {
  if (!options_.enabled_) return;
  PerOptimizer& record = per_optimizer_[&opt];
  HG_CHECK(record.stage != Stage::Stepped, "GradScaler.unscale_: called after step() on this ",
           opt.name(),
           " optimizer, which unscaled already; call unscale_ before step() (to clip, "
           "say), once per step");
  HG_CHECK(record.stage == Stage::Ready, "GradScaler.unscale_: already called on this ", opt.name(),
           " optimizer since the last update(); unscale_ runs once per step");
  NoGradGuard no_grad;
  const std::vector<Tensor> params = opt.parameters();
  warn_if_no_masters(opt, params);
  record.checked_gradients = false;
  for (const auto& p : params) {  // the first gradient's device, unless scale() chose already
    if (!p.grad().defined()) continue;
    choose_home(p.grad().device());
    record.checked_gradients = true;
  }
  choose_home(kCPU);  // no gradient at all
  if (device_) {
    unscale_on_device(params, record);
  } else {
    unscale_on_host(params, record);
  }
  record.stage = Stage::Unscaled;
  pending_scale = 0.0;
}

void GradScaler::unscale_on_host(const std::vector<Tensor>& params, PerOptimizer& record) {
  const double inv = 1.0 / scale_;
  std::vector<std::string> bad;
  std::map<std::pair<int, int>, std::vector<detail::UnscaleTarget>> by_device;  // (type, index)
  for (const auto& p : params) {
    if (!p.grad().defined()) continue;
    const Device d = p.grad().device();
    by_device[{static_cast<int>(d.type), d.index}].push_back(detail::unscale_target(p));
  }
  bool found_inf = false;
  for (auto& [key, targets] : by_device) {
    const Device device(static_cast<DeviceType>(key.first), key.second);
    found_inf = unscale_and_check(targets, inv, device) || found_inf;
  }
  for (size_t i = 0; found_inf && i < params.size(); ++i) {
    if (params[i].grad().defined() && !all_finite(params[i].grad()))
      bad.push_back(name_of(params[i], i));
  }
  record.found_inf = found_inf;
  if (found_inf) {
    std::ostringstream reason;
    reason << "non-finite gradients at scale " << scale_ << " in " << bad.size() << " of "
           << params.size() << " parameters:";
    for (const auto& name : bad) reason << ' ' << name;
    if (!autograd::first_anomaly().empty())  // anomaly mode (Record): which op overflowed
      reason << "; first non-finite value: " << autograd::first_anomaly();
    record.skip_reason = reason.str();
  }
}

StepResult GradScaler::step(optim::Optimizer& opt) {
  if (!options_.enabled_) {
    opt.step();
    return true;
  }
  PerOptimizer& record = per_optimizer_[&opt];  // a map: unscale_ inserting keeps it valid
  HG_CHECK(record.stage != Stage::Stepped, "GradScaler.step: already called on this ", opt.name(),
           " optimizer since the last update()");
  if (record.stage == Stage::Ready) unscale_(opt);
  // as PyTorch's "No inf checks were recorded": an unscale_ that saw no gradient (called before
  // backward, say) checked nothing, and a step would apply gradients still scaled
  HG_CHECK(record.checked_gradients, "GradScaler.step: the unscale_ of this ", opt.name(),
           " optimizer saw no gradient among its ", opt.parameters().size(),
           " parameters, so nothing was checked for inf/NaN: call unscale_ (if at all) after "
           "backward() on scaler.scale(loss)");
  record.stage = Stage::Stepped;
  if (device_) return step_on_device(opt, record);
  if (record.found_inf) {
    ++skipped_steps_;
    last_skip_reason_ = record.skip_reason;
    warn("GradScaler: skipped the optimizer step: " + last_skip_reason_);
    return false;
  }
  last_skip_reason_.clear();
  opt.step();
  return true;
}

void GradScaler::update() {
  if (!options_.enabled_) return;
  bool checked = false, found_inf = false;  // any optimizer unscaled (or stepped) / found inf
  for (const auto& [opt, record] : per_optimizer_) {
    checked = checked || record.stage != Stage::Ready;
    found_inf = found_inf || record.found_inf;
  }
  HG_CHECK(checked,
           "GradScaler.update: no unscale_() or step() since the last update(), so "
           "there is no inf check to adjust the scale by (as PyTorch, this is refused: with "
           "gradient accumulation, call update() once per optimizer step, not per micro-batch)");
  if (device_) {
    update_on_device();
  } else if (options_.dynamic_) {
    if (found_inf) {
      growth_tracker_ = 0;
      if (++overflow_streak_ >= options_.hysteresis_) {
        scale_ = std::max(options_.min_scale_, scale_ * options_.backoff_factor_);
        overflow_streak_ = 0;
      }
    } else {
      overflow_streak_ = 0;
      if (++growth_tracker_ == options_.growth_interval_) {
        scale_ = std::min(options_.max_scale_, scale_ * options_.growth_factor_);
        growth_tracker_ = 0;
      }
    }
  }
  for (auto& [opt, record] : per_optimizer_) {
    record.stage = Stage::Ready;
    record.found_inf = false;
    record.checked_gradients = false;
    record.skip_reason.clear();
  }
  autograd::clear_first_anomaly();
  pending_scale = 0.0;
}

void GradScaler::set_parameter_names(const std::vector<std::pair<std::string, Tensor>>& named) {
  for (const auto& [name, t] : named) names_[t.impl()] = name;
}

void GradScaler::warn_if_no_masters(const optim::Optimizer& opt,
                                    const std::vector<Tensor>& params) const {
  if (opt.master_weights()) return;
  for (size_t i = 0; i < params.size(); ++i) {
    if (params[i].dtype() != kFloat16 || !params[i].grad().defined()) continue;
    warn_once("GradScaler.no_masters",
              "GradScaler: " + name_of(params[i], i) + " is float16 and the " + opt.name() +
                  " optimizer keeps no float32 master weights, so updates below half "
                  "an ulp of a weight are lost (AMP O3); call set_master_weights(true) on the "
                  "optimizer (O2) unless that is the point");
    return;
  }
}

std::string GradScaler::name_of(const Tensor& param, size_t index) const {
  auto found = names_.find(param.impl());
  if (found != names_.end()) return found->second;
  return "parameter#" + std::to_string(index) + "(" + describe(param) + ")";
}

double GradScaler::get_scale() const {
  if (!is_enabled()) return 1.0;
  return device_ ? read_device_state()[kernels::kScaleSlot] : scale_;
}

int64_t GradScaler::skipped_steps() const {
  return device_ ? static_cast<int64_t>(read_device_state()[kernels::kSkippedStepsSlot])
                 : skipped_steps_;
}

std::vector<double> GradScaler::host_state() const {
  return {scale_, static_cast<double>(growth_tracker_), static_cast<double>(overflow_streak_),
          static_cast<double>(skipped_steps_)};
}

Tensor GradScaler::state_tensor() const {
  if (device_) return dev_.state.clone();
  return from_vector(host_state(), {kernels::kScaleStateSize}, kFloat64);
}

// The state and, as PyTorch's, the options that drive it: a resumed run backs off and grows as
// the saved one did.
std::map<std::string, double> GradScaler::state_dict() const {
  const std::vector<double> s = device_ ? read_device_state() : host_state();
  return {{"scale", s[kernels::kScaleSlot]},
          {"growth_tracker", s[kernels::kGrowthTrackerSlot]},
          {"overflow_streak", s[kernels::kOverflowStreakSlot]},
          {"skipped_steps", s[kernels::kSkippedStepsSlot]},
          {"growth_factor", options_.growth_factor_},
          {"backoff_factor", options_.backoff_factor_},
          {"growth_interval", static_cast<double>(options_.growth_interval_)},
          {"hysteresis", static_cast<double>(options_.hysteresis_)}};
}

namespace {

void check_count(const std::map<std::string, double>& state, const char* key) {
  const double v = state.at(key);  // whole numbers a double holds exactly, so the casts are safe
  HG_CHECK(v >= 0 && v <= 9007199254740992.0 && v == std::floor(v),
           "GradScaler.load_state_dict: \"", key, "\" must be a whole number in [0, 2^53], got ",
           v);
}

// The options a state brings (checkpoints older than these keys bring none: the scaler keeps
// its own), checked as the constructor checks them.
GradScalerOptions options_from(const std::map<std::string, double>& state,
                               GradScalerOptions options) {
  if (state.count("growth_factor")) options.growth_factor_ = state.at("growth_factor");
  if (state.count("backoff_factor")) options.backoff_factor_ = state.at("backoff_factor");
  if (state.count("growth_interval")) {
    check_count(state, "growth_interval");
    options.growth_interval_ = static_cast<int64_t>(state.at("growth_interval"));
  }
  if (state.count("hysteresis")) {
    check_count(state, "hysteresis");
    options.hysteresis_ = static_cast<int64_t>(state.at("hysteresis"));
  }
  check_dynamics(options, "GradScaler.load_state_dict");
  return options;
}

}  // namespace

void GradScaler::load_state_dict(const std::map<std::string, double>& state) {
  for (const char* key : {"scale", "growth_tracker", "overflow_streak", "skipped_steps"})
    HG_CHECK(state.count(key), "GradScaler.load_state_dict: missing \"", key, "\"");
  const double scale = state.at("scale");
  HG_CHECK(scale > 0 && std::isfinite(scale),
           "GradScaler.load_state_dict: scale must be positive and finite, got ", scale);
  for (const char* key : {"growth_tracker", "overflow_streak", "skipped_steps"})
    check_count(state, key);
  options_ = options_from(state, options_);
  scale_ = state.at("scale");
  growth_tracker_ = static_cast<int64_t>(state.at("growth_tracker"));
  overflow_streak_ = static_cast<int64_t>(state.at("overflow_streak"));
  skipped_steps_ = static_cast<int64_t>(state.at("skipped_steps"));
  if (device_) write_device_state();
}

}  // namespace hg::amp
