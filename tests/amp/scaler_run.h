#pragma once
// A short AMP training run with dynamic loss scaling and injected non-finite gradients, shared by
// the device-state tests (tests/amp/test_grad_scaler_device.cpp) and their CUDA counterpart
// (tests/cuda/test_grad_scaler_device.cpp): the same run with the scale on the host or on a
// device, on any device, gives results to compare.
//
// Steps 0, 4, 5 and 10 get an inf and step 9 a NaN, so (growth_interval 3, hysteresis 2) the
// run skips five steps, tolerates one overflow (step 0), backs off twice (steps 5 and 10),
// grows twice (steps 3 and 8), and its third parameter, which gets gradients from step 4 on,
// has its first two steps skipped.
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "halfgrad/halfgrad.h"

namespace hg::test {

enum class RunOptimizer { SgdNesterov, SgdDampened, Adam, AdamW, RMSprop, Adagrad };

struct ScalerRunSpec {
  RunOptimizer optimizer = RunOptimizer::SgdNesterov;
  DType param_dtype = kFloat32;
  bool masters = false;              // fp32 master weights (with 16-bit parameters: O2)
  std::optional<bool> device_state;  // the scaler's option (unset: its default)
  Device device = kCPU;
  int steps = 12;
};

struct ScalerRunResult {
  std::vector<Tensor> params;                 // on the CPU
  std::map<std::string, Tensor> opt_tensors;  // on the CPU
  std::map<std::string, double> opt_scalars;
  std::map<std::string, double> scaler_state;
  std::vector<bool> stepped;
  int64_t decided_on_device = 0;       // steps whose skip decision stayed on the device
  int64_t readbacks_during_steps = 0;  // the scaler's, before anything asked for its state
  int64_t optimizer_readbacks = 0;     // the optimizer's (settling gated runs), likewise
  int64_t steps_taken = 0;
  bool used_device_state = false;
};

inline std::unique_ptr<optim::Optimizer> make_run_optimizer(RunOptimizer which,
                                                            std::vector<Tensor> params) {
  switch (which) {
    case RunOptimizer::SgdNesterov:
      return std::make_unique<optim::SGD>(
          std::move(params),
          optim::SGDOptions(0.05).momentum(0.9).nesterov(true).weight_decay(1e-2));
    case RunOptimizer::SgdDampened:
      return std::make_unique<optim::SGD>(std::move(params),
                                          optim::SGDOptions(0.05).momentum(0.9).dampening(0.25));
    case RunOptimizer::Adam:
      return std::make_unique<optim::Adam>(std::move(params),
                                           optim::AdamOptions(1e-2).weight_decay(1e-2));
    case RunOptimizer::AdamW:
      return std::make_unique<optim::AdamW>(std::move(params), optim::AdamWOptions(1e-2));
    case RunOptimizer::RMSprop:  // every option that changes the arithmetic
      return std::make_unique<optim::RMSprop>(
          std::move(params),
          optim::RMSpropOptions(1e-2).momentum(0.9).centered(true).weight_decay(1e-2));
    case RunOptimizer::Adagrad: {  // the decayed lr reads the step number
      auto options = optim::AdagradOptions(5e-2).lr_decay(0.1).weight_decay(1e-2);
      options.initial_accumulator_value(0.1);
      return std::make_unique<optim::Adagrad>(std::move(params), options);
    }
  }
  return nullptr;
}

inline ScalerRunResult run_scaled_training(const ScalerRunSpec& spec) {
  manual_seed(1234);
  std::vector<Tensor> params;
  for (const Shape& shape : {Shape{6, 5}, Shape{5}, Shape{4}})
    params.push_back(randn(shape).to(spec.param_dtype).to(spec.device).requires_grad_());
  std::vector<Tensor> inputs;  // one per step and parameter, drawn before the run
  for (int s = 0; s < spec.steps; ++s)
    for (const Tensor& p : params) inputs.push_back(randn(p.sizes()).to(spec.device));

  auto opt = make_run_optimizer(spec.optimizer, params);
  if (spec.masters) opt->set_master_weights(true);
  auto options = amp::GradScalerOptions().init_scale(1024.0).growth_interval(3).hysteresis(2);
  if (spec.device_state) options.device_state(*spec.device_state);
  amp::GradScaler scaler(options);

  std::vector<amp::StepResult> results;
  // host mode warns at each skip, which this run provokes on purpose
  struct Quiet {
    WarningHandler previous = set_warning_handler([](const std::string&) {});
    ~Quiet() { set_warning_handler(previous); }
  } quiet;
  for (int s = 0; s < spec.steps; ++s) {
    opt->zero_grad();
    Tensor loss = zeros({}, TensorOptions(kFloat32).device(spec.device));
    for (size_t i = 0; i < params.size(); ++i) {
      if (i == 2 && s < 4) continue;  // the third parameter joins at step 4
      const Tensor& x = inputs[static_cast<size_t>(s) * params.size() + i];
      loss = loss + sum(params[i].to(kFloat32) * x) + 0.5 * sum(square(params[i].to(kFloat32)));
    }
    scaler.scale(loss).backward();
    if (s == 0 || s == 4 || s == 5 || s == 10) params[0].grad().select(0, 1).fill_(INFINITY);
    if (s == 9) params[1].grad().narrow(0, 2, 1).fill_(NAN);
    results.push_back(scaler.step(*opt));
    scaler.update();
  }

  ScalerRunResult r;
  r.readbacks_during_steps = scaler.host_readbacks();
  r.optimizer_readbacks = opt->host_readbacks();
  r.used_device_state = scaler.uses_device_state();
  for (const amp::StepResult& stepped : results) {
    r.decided_on_device += stepped.decided_on_device() ? 1 : 0;
    r.stepped.push_back(stepped);
  }
  for (const Tensor& p : params) r.params.push_back(p.detach().to(kCPU));
  const optim::OptimizerStateDict state = opt->state_dict();
  for (const auto& [key, t] : state.tensors) r.opt_tensors[key] = t.to(kCPU);
  r.opt_scalars = state.scalars;
  r.scaler_state = scaler.state_dict();
  r.steps_taken = opt->steps_taken();
  return r;
}

}  // namespace hg::test
