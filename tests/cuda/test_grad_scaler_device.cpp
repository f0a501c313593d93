// GradScaler on CUDA gradients: the scale lives on the device by default, and a run with
// injected inf/NaN gradients follows the CPU's host-mode run (amp/scaler_run.h): the same
// skipped steps and scale trajectory exactly, weights and optimizer state to the parity
// tolerances. SGD, Adam, AdamW, RMSprop and Adagrad steps read nothing back (dampened SGD reads
// the flag while a momentum buffer is missing; Adam and Adagrad settle their step counts once,
// where the parameter set changes). Skipped without a GPU.
#include "amp/scaler_run.h"
#include "parity.h"

using namespace hg;
using cuda_test::Kind;
using hg::test::RunOptimizer;
using hg::test::ScalerRunResult;
using hg::test::ScalerRunSpec;

namespace {

void expect_follows(const ScalerRunResult& gpu, const ScalerRunResult& cpu) {
  CHECK(gpu.scaler_state == cpu.scaler_state);
  CHECK(gpu.stepped == cpu.stepped);
  CHECK(gpu.steps_taken == cpu.steps_taken);
  CHECK(gpu.opt_scalars == cpu.opt_scalars);
  REQUIRE(gpu.params.size() == cpu.params.size());
  for (size_t i = 0; i < cpu.params.size(); ++i)
    cuda_test::check_same("parameter " + std::to_string(i), gpu.params[i].to(kCUDA), cpu.params[i],
                          Kind::Reduction);
  REQUIRE(gpu.opt_tensors.size() == cpu.opt_tensors.size());
  for (const auto& [key, t] : cpu.opt_tensors) {
    REQUIRE(gpu.opt_tensors.count(key) == 1);
    cuda_test::check_same(key, gpu.opt_tensors.at(key).to(kCUDA), t, Kind::Reduction);
  }
}

}  // namespace

TEST_CASE("GradScaler keeps its scale on CUDA and follows the CPU host-mode run") {
  HG_REQUIRE_CUDA();
  for (RunOptimizer optimizer :
       {RunOptimizer::SgdNesterov, RunOptimizer::SgdDampened, RunOptimizer::Adam,
        RunOptimizer::AdamW, RunOptimizer::RMSprop, RunOptimizer::Adagrad}) {
    for (bool o2 : {false, true}) {
      CAPTURE(static_cast<int>(optimizer));
      CAPTURE(o2);
      ScalerRunSpec spec;
      spec.optimizer = optimizer, spec.masters = o2;
      spec.param_dtype = o2 ? kFloat16 : kFloat32;
      spec.device_state = false;
      const ScalerRunResult cpu = hg::test::run_scaled_training(spec);
      spec.device = kCUDA;
      spec.device_state.reset();  // the default: device state for CUDA gradients
      const ScalerRunResult gpu = hg::test::run_scaled_training(spec);
      CHECK(gpu.used_device_state);
      expect_follows(gpu, cpu);
      // (Adagrad reads step counts as Adam does: settled once, where the parameter set changes)
      const bool adam = optimizer == RunOptimizer::Adam || optimizer == RunOptimizer::AdamW ||
                        optimizer == RunOptimizer::Adagrad;
      CHECK(gpu.readbacks_during_steps == (optimizer == RunOptimizer::SgdDampened ? 5 : 0));
      // as the CPU's device-state run (tests/amp/test_grad_scaler_device.cpp)
      CHECK(gpu.optimizer_readbacks ==
            (optimizer == RunOptimizer::SgdDampened ? 6 : (adam ? 1 : 0)));
    }
  }
}

TEST_CASE("GradScaler on CUDA: device_state(false) keeps the host mode and names parameters") {
  HG_REQUIRE_CUDA();
  Tensor p = ones({3}).to(kCUDA).requires_grad_();
  optim::SGD opt({p}, optim::SGDOptions(0.1).momentum(0.9));
  amp::GradScaler scaler(amp::GradScalerOptions().device_state(false));
  scaler.set_parameter_names({{"w", p}});
  scaler.scale(sum(p * 2.0)).backward();
  p.grad().fill_(INFINITY);
  auto previous = set_warning_handler([](const std::string&) {});
  CHECK_FALSE(scaler.step(opt));
  set_warning_handler(previous);
  scaler.update();
  CHECK_FALSE(scaler.uses_device_state());
  CHECK(scaler.last_skip_reason().find("w") != std::string::npos);
}
