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
//
// Two homes for the scale, chosen at the first scale() or unscale_() and kept. Host mode keeps
// it in a double and reads the found-inf flag back after unscaling, to decide on the host
// whether to step. Device mode (the default when the loss or the gradients are on a CUDA
// device; GradScalerOptions::device_state forces either) keeps the state on that device, in a
// float64 [4] tensor (scale, growth tracker, overflow streak, skipped steps: the slots of
// kernels/amp_kernels.h) with a float32 [1] inverse scale and found-inf flag next to it, so a
// training step waits for nothing:
//   scale(loss)   loss * the device scale, in float32 (float64 for a float64 loss): an fp16 loss
//                 gives an fp32 result, as in PyTorch (host mode too); for an fp32 loss both
//                 modes compute the same bits
//   unscale_      one multi-tensor unscale launch; the flag stays on the device
//   step(opt)     opt.step_unless_found_inf(flag) (optim/optimizer.h). Sync-free: SGD with
//                 momentum, Nesterov and weight decay, and Adam/AdamW (their step number for
//                 the bias corrections is read on the device), on fp32/fp64 parameters or
//                 16-bit ones with or without fp32 masters (O2/O3): the fused kernels test the
//                 flag. Read back once per step, then decided on the host exactly as host mode
//                 decides: SGD with dampening != 0 until a parameter's first applied step,
//                 lost-update counting, non-contiguous parameters without masters
//   update()      one scale_update launch (backoff, hysteresis, growth, skip count)
// What reads the device state back, and so waits for the device, on request only: get_scale(),
// skipped_steps(), state_dict(), last_skip_reason(), and converting step()'s result to bool
// (load_state_dict() writes it); state_tensor() copies the state on the device, for loops that
// read many steps back at once (examples/common/step_readout.h). Every gradient must be on the
// state's device. Results are bit-identical to host mode on the same device
// (tests/amp/test_grad_scaler_device.cpp; but for a sign of zero, see optim/sgd.h). What is
// reported differs in three ways: a skipped step is not warned about; last_skip_reason() names no
// parameters (that would read every gradient back); and the skip count advances in update(), once
// per iteration with a non-finite gradient, where host mode counts each skipped optimizer step in
// step() (the same with one optimizer that steps every iteration).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "halfgrad/amp/scale_state.h"
#include "halfgrad/core/tensor.h"
#include "halfgrad/optim/optimizer.h"

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
  // true: the scale lives on the device of the loss/gradients even on the CPU (the path CUDA
  // takes, through the CPU kernel column); false: on the host even for CUDA gradients (named
  // skip reasons and per-skip warnings, one readback per step). Unset: device for CUDA.
  GradScalerOptions& device_state(bool v) {
    device_state_ = v;
    return *this;
  }

  double init_scale_ = 65536.0, growth_factor_ = 2.0, backoff_factor_ = 0.5;
  int64_t growth_interval_ = 2000, hysteresis_ = 1;
  // The largest power of two in float (~1.7e38): PyTorch's float32 scale grows as long as it
  // stays finite, so its ceiling is 2^127 too; a ceiling like 1e38 would make the scale (and
  // its unscale) inexact once reached.
  double min_scale_ = 0.0, max_scale_ = 0x1p127;
  bool dynamic_ = true, enabled_ = true;
  std::optional<bool> device_state_;
};

// What GradScaler::step() did. Converts to bool: whether the optimizer stepped. When the
// decision stayed on the device, the conversion reads the flag back (a host synchronisation),
// so a loop that ignores the result never waits for it.
class StepResult {
 public:
  StepResult(bool stepped) : stepped_(stepped) {}  // NOLINT: a decided result reads as a bool
  static StepResult on_device(Tensor found_inf) {
    StepResult r(true);
    r.found_inf_ = std::move(found_inf);
    return r;
  }
  operator bool() const;  // NOLINT: implicit, so `if (scaler.step(opt))` reads as it always did
  bool decided_on_device() const { return found_inf_.defined(); }

 private:
  bool stepped_;
  Tensor found_inf_;  // this step's flag (a copy), when the device decided
};

class GradScaler {
 public:
  explicit GradScaler(GradScalerOptions options = {});

  // loss * scale (the scalar kept in float). Marks gradients as scaled until unscale_/update.
  Tensor scale(const Tensor& loss);
  // Divides the gradients of opt's parameters by the scale (in fp32 arithmetic; float64
  // gradients in double, as PyTorch's) and records which are non-finite. Once per optimizer
  // per step: a second call is an error.
  void unscale_(optim::Optimizer& opt);
  // Unscales if needed, then runs opt.step() unless one of opt's gradients was non-finite (the
  // step is skipped: weights and optimizer state stay bit-identical). The check is per
  // optimizer, as in PyTorch: with several, an inf skips only the optimizer it is in. The
  // result says whether it stepped (in device mode, on request: see StepResult).
  StepResult step(optim::Optimizer& opt);
  // Adjusts the scale for the next iteration (dynamic mode: backs off if any optimizer found a
  // non-finite gradient) and resets the per-step state. Needs an unscale_() or step() since
  // the last update() (PyTorch's rule): an update per accumulation micro-batch is an error.
  void update();

  // The scale, the skip count, the state and the skip reason: in device mode each call reads the
  // device state back (see the top of this file). get_scale() is 1 for a disabled scaler, the
  // factor scale() applies (as in PyTorch).
  double get_scale() const;
  bool is_enabled() const { return options_.enabled_; }
  // Names for messages: "fc1.weight" instead of "parameter #0 [..]".
  void set_parameter_names(const std::vector<std::pair<std::string, Tensor>>& named);
  // Why the last step was skipped ("" when it was not): the non-finite gradients by name (in
  // device mode, without names).
  const std::string& last_skip_reason() const;
  int64_t skipped_steps() const;

  // scale, growth_tracker, overflow_streak, skipped_steps and, as PyTorch's, the options that
  // drive the scale (growth_factor, backoff_factor, growth_interval, hysteresis): loading
  // replaces this scaler's; a state without them (an older checkpoint) keeps its own.
  std::map<std::string, double> state_dict() const;
  void load_state_dict(const std::map<std::string, double>& state);
  // A copy of the state as float64 [4]: [0] scale, [1] growth_tracker, [2] overflow_streak,
  // [3] skipped_steps, where the state lives: on the device in device mode (no readback: a
  // training loop can collect these and read many steps back at once), else on the CPU.
  Tensor state_tensor() const;

  // Whether the state lives on a device (decided at the first scale() or unscale_()).
  bool uses_device_state() const { return device_.has_value(); }
  // How many times the scaler read device state back, counting an optimizer step decided on the
  // host as one (for tests and profiling; host mode counts nothing). Not counted: converting a
  // StepResult, and the optimizer settling its deferred bookkeeping (optim/optimizer.h).
  int64_t host_readbacks() const { return readbacks_; }

 private:
  enum class Stage { Ready, Unscaled, Stepped };
  // What this iteration did with one optimizer (PyTorch's per-optimizer state): its own inf
  // check, so an inf in one optimizer's gradients skips that optimizer only; update() backs off
  // if any of them found one.
  struct PerOptimizer {
    Stage stage = Stage::Ready;
    bool found_inf = false;          // host mode
    bool checked_gradients = false;  // the last unscale_ saw at least one gradient
    bool flag_assigned = false;      // device mode: the first optimizer uses dev_.found_inf,
    Tensor own_flag;                 // every later one its own float32 [1] flag
    std::string skip_reason;         // host mode, when found_inf

    PerOptimizer() = default;
    // A copied scaler gets its own flags, as it gets its own DeviceState.
    PerOptimizer(const PerOptimizer& other);
    PerOptimizer& operator=(const PerOptimizer& other);
    PerOptimizer(PerOptimizer&&) = default;
    PerOptimizer& operator=(PerOptimizer&&) = default;
    ~PerOptimizer() = default;
  };
  // The device-resident state (amp/grad_scaler_device.cpp).
  struct DeviceState {
    Tensor state;           // float64 [4]: kernels::ScaleStateSlot
    Tensor inv_scale;       // float32 [1]: float(1 / scale), for the next unscale
    Tensor scale;           // float32 [] (0-dim): float(scale), what scale() multiplies by
    Tensor found_inf;       // float32 [1]: set by unscale_ (any optimizer's), cleared by update()
    Tensor last_found_inf;  // a copy of found_inf as the last step() saw it
    std::string last_anomaly;

    DeviceState() = default;
    // A copied scaler gets its own device tensors, as it gets its own host state.
    DeviceState(const DeviceState& other);
    DeviceState& operator=(const DeviceState& other);
    DeviceState(DeviceState&&) = default;
    DeviceState& operator=(DeviceState&&) = default;
    ~DeviceState() = default;
  };
  const Tensor& device_flag(const PerOptimizer& record) const {
    return record.own_flag.defined() ? record.own_flag : dev_.found_inf;
  }
  std::string name_of(const Tensor& param, size_t index) const;
  void warn_if_no_masters(const optim::Optimizer& opt, const std::vector<Tensor>& params) const;
  void unscale_on_host(const std::vector<Tensor>& params, PerOptimizer& record);
  // Decides host or device mode on first use, from the device the loss or gradients are on.
  void choose_home(Device device);
  Tensor scale_on_device(const Tensor& loss);
  void unscale_on_device(const std::vector<Tensor>& params, PerOptimizer& record);
  StepResult step_on_device(optim::Optimizer& opt, const PerOptimizer& record);
  void update_on_device();
  std::vector<double> read_device_state() const;  // a readback
  void write_device_state();                      // from host_state()
  // scale_, growth_tracker_, overflow_streak_, skipped_steps_ in kernels::ScaleStateSlot order
  std::vector<double> host_state() const;

  GradScalerOptions options_;
  double scale_;  // in device mode: the value last loaded, which seeds the device state
  int64_t growth_tracker_ = 0, overflow_streak_ = 0, skipped_steps_ = 0;
  std::map<const optim::Optimizer*, PerOptimizer> per_optimizer_;  // kept across update()s
  std::map<const TensorImpl*, std::string> names_;
  mutable std::string last_skip_reason_;  // mutable: device mode fills it in on request
  bool home_chosen_ = false;
  std::optional<Device> device_;  // set in device mode
  DeviceState dev_;
  mutable int64_t readbacks_ = 0;
};

}  // namespace hg::amp
