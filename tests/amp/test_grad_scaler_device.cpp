// GradScaler's device mode, forced on the CPU (GradScalerOptions::device_state(true)): the path a
// CUDA run takes, through the CPU kernel column. It must give weights, optimizer state and
// scaler state bit-identical to host mode, and read nothing back during SGD steps.
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "amp/scaler_run.h"
#include "test_util.h"

using namespace hg;
using hg::test::RunOptimizer;
using hg::test::ScalerRunResult;
using hg::test::ScalerRunSpec;
using hg::test::values;

namespace {

void expect_identical(const ScalerRunResult& device, const ScalerRunResult& host) {
  REQUIRE(device.params.size() == host.params.size());
  for (size_t i = 0; i < host.params.size(); ++i) {
    CAPTURE(i);
    CHECK(device.params[i].dtype() == host.params[i].dtype());
    CHECK(values(device.params[i]) == values(host.params[i]));
  }
  CHECK(device.opt_scalars == host.opt_scalars);  // includes every state.<i>.step
  REQUIRE(device.opt_tensors.size() == host.opt_tensors.size());
  for (const auto& [key, t] : host.opt_tensors) {
    CAPTURE(key);
    REQUIRE(device.opt_tensors.count(key) == 1);
    CHECK(values(device.opt_tensors.at(key)) == values(t));
  }
  CHECK(device.scaler_state == host.scaler_state);
  CHECK(device.stepped == host.stepped);
  CHECK(device.steps_taken == host.steps_taken);
}

struct Precision {
  DType param_dtype;
  bool masters;
};
constexpr Precision kFp32{kFloat32, false}, kO2{kFloat16, true};

ScalerRunResult run(RunOptimizer optimizer, Precision precision, bool device_state) {
  ScalerRunSpec spec;
  spec.optimizer = optimizer, spec.device_state = device_state;
  spec.param_dtype = precision.param_dtype, spec.masters = precision.masters;
  return hg::test::run_scaled_training(spec);
}

}  // namespace

TEST_CASE("device-state scaler: SGD (Nesterov, weight decay) is bit-identical and sync-free") {
  // fp32, fp64, O2 (fp16 and bf16 with fp32 masters), O3 (fp16 without)
  for (const Precision precision : {kFp32, Precision{kFloat64, false}, kO2,
                                    Precision{kBFloat16, true}, Precision{kFloat16, false}}) {
    CAPTURE(dtype_name(precision.param_dtype));
    CAPTURE(precision.masters);
    const ScalerRunResult host = run(RunOptimizer::SgdNesterov, precision, false);
    const ScalerRunResult device = run(RunOptimizer::SgdNesterov, precision, true);
    CHECK_FALSE(host.used_device_state);
    CHECK(device.used_device_state);
    expect_identical(device, host);
    CHECK(device.readbacks_during_steps == 0);
    CHECK(device.optimizer_readbacks == 0);  // the new run at step 4 needs no settling
    CHECK(device.decided_on_device == 12);
    CHECK(host.decided_on_device == 0);
    // the run did what it is meant to: 5 skips, scale 1024 -> x2 -> /2 -> x2 -> /2
    CHECK(host.scaler_state.at("skipped_steps") == 5);
    CHECK(host.scaler_state.at("scale") == 1024.0);
    CHECK(host.stepped == std::vector<bool>{false, true, true, true, false, false, true, true, true,
                                            false, false, true});
  }
}

TEST_CASE("device-state scaler: SGD with dampening reads the flag back only for first steps") {
  const ScalerRunResult host = run(RunOptimizer::SgdDampened, kFp32, false);
  const ScalerRunResult device = run(RunOptimizer::SgdDampened, kFp32, true);
  expect_identical(device, host);
  // steps 0 and 1 (no momentum buffers yet; step 0 skipped), 4, 5 and 6 (the third parameter's
  // buffer does not exist until its first applied step, 6); every other step stays on the device
  CHECK(device.readbacks_during_steps == 5);
  CHECK(device.decided_on_device == 7);
  // the optimizer's own: those 5 flags, and the settling of the steps 2-3 run at step 4
  CHECK(device.optimizer_readbacks == 6);
}

TEST_CASE("device-state scaler: Adam and AdamW are bit-identical and decide on the device") {
  for (RunOptimizer optimizer : {RunOptimizer::Adam, RunOptimizer::AdamW}) {
    for (const Precision precision : {kFp32, Precision{kFloat64, false}, kO2,
                                      Precision{kBFloat16, true}, Precision{kFloat16, false}}) {
      CAPTURE(dtype_name(precision.param_dtype));
      CAPTURE(precision.masters);
      const ScalerRunResult host = run(optimizer, precision, false);
      const ScalerRunResult device = run(optimizer, precision, true);
      expect_identical(device, host);  // the bias corrections used the applied step counts
      CHECK(device.readbacks_during_steps == 0);
      CHECK(device.decided_on_device == 12);
      // the third parameter joins at step 4: the step counts of the run so far are settled
      // (one readback) so that the new run's device skip count is all a step number needs
      CHECK(device.optimizer_readbacks == 1);
    }
  }
}

TEST_CASE("device-state scaler: RMSprop and Adagrad are bit-identical and decide on the device") {
  for (RunOptimizer optimizer : {RunOptimizer::RMSprop, RunOptimizer::Adagrad}) {
    for (const Precision precision : {kFp32, Precision{kFloat64, false}, kO2,
                                      Precision{kBFloat16, true}, Precision{kFloat16, false}}) {
      CAPTURE(optimizer == RunOptimizer::Adagrad);
      CAPTURE(dtype_name(precision.param_dtype));
      CAPTURE(precision.masters);
      const ScalerRunResult host = run(optimizer, precision, false);
      const ScalerRunResult device = run(optimizer, precision, true);
      expect_identical(device, host);  // the third parameter's state made by skipped steps too
      CHECK(device.readbacks_during_steps == 0);
      CHECK(device.decided_on_device == 12);
      // Adagrad's decayed lr reads step counts: settled where the third parameter joins, as Adam
      CHECK(device.optimizer_readbacks == (optimizer == RunOptimizer::Adagrad ? 1 : 0));
    }
  }
}

TEST_CASE("device-state scaler: a parameter whose every step was skipped has no state yet") {
  auto previous = set_warning_handler([](const std::string&) {});  // host mode warns per skip
  for (bool device_state : {false, true}) {
    CAPTURE(device_state);
    Tensor p = ones({3}).requires_grad_();
    optim::SGD opt({p}, optim::SGDOptions(0.1).momentum(0.9));
    amp::GradScaler scaler(amp::GradScalerOptions().device_state(device_state));
    for (int s = 0; s < 2; ++s) {
      scaler.scale(sum(p * 2.0)).backward();
      p.grad().fill_(INFINITY);
      const amp::StepResult stepped = scaler.step(opt);
      CHECK(stepped.decided_on_device() == device_state);
      CHECK_FALSE(stepped);
      scaler.update();
      opt.zero_grad();
    }
    CHECK(opt.state(p) == nullptr);
    CHECK(opt.steps_taken() == 0);
    CHECK(opt.steps_issued() == (device_state ? 2 : 0));
    CHECK(opt.state_dict().scalars.count("state.0.step") == 0);
    CHECK(scaler.skipped_steps() == 2);
    CHECK(scaler.get_scale() == 16384.0);
    CHECK(scaler.last_skip_reason().find("non-finite gradients") != std::string::npos);
    scaler.scale(sum(p * 2.0)).backward();  // a clean step now creates the state
    CHECK(scaler.step(opt));
    scaler.update();
    CHECK(opt.state(p)->step == 1);
    CHECK(values(p)[0] == doctest::Approx(0.8));
    CHECK(scaler.last_skip_reason().empty());
  }
  set_warning_handler(previous);
}

TEST_CASE("device-state scaler: the scaled loss is a float32 scalar, float64 for a float64 loss") {
  amp::GradScaler scaler(amp::GradScalerOptions().device_state(true).init_scale(256.0));
  Tensor p = ones({2}, kFloat16).requires_grad_();
  const Tensor scaled = scaler.scale(sum(p * 3.0));  // an fp16 loss
  CHECK(scaled.dtype() == kFloat32);
  CHECK(scaled.dim() == 0);
  CHECK(scaled.item<double>() == 6.0 * 256.0);
  scaled.backward();
  CHECK(p.grad().dtype() == kFloat16);
  CHECK(values(p.grad()) == std::vector<double>(2, 3.0 * 256.0));
  const Tensor wide = scaler.scale(ones({}, kFloat64) * 0.1);
  CHECK(wide.dtype() == kFloat64);
  CHECK(wide.item<double>() == 0.1 * 256.0);
  CHECK(scaler.host_readbacks() == 0);
}

TEST_CASE("device-state scaler: state_dict reads the device, load_state_dict writes it") {
  amp::GradScaler a(amp::GradScalerOptions().device_state(true).growth_interval(2));
  Tensor p = ones({2}).requires_grad_();
  optim::SGD opt({p}, optim::SGDOptions(0.1));
  for (double g : {1.0, double(INFINITY), 1.0, 1.0, 1.0}) {
    p.set_grad(full({2}, g));
    a.step(opt);
    a.update();
  }
  const auto state = a.state_dict();
  CHECK(state.at("scale") == 65536.0);  // halved once, doubled once
  CHECK(state.at("growth_tracker") == 1.0);
  CHECK(state.at("skipped_steps") == 1.0);
  amp::GradScaler b(amp::GradScalerOptions().device_state(true).growth_interval(2));
  b.load_state_dict(state);  // before b has a device state: seeds it
  CHECK(b.state_dict() == state);
  p.set_grad(full({2}, 1.0));
  b.step(opt);  // b's state is on the device now
  b.update();
  CHECK(b.get_scale() == 131072.0);  // the loaded growth tracker counted
  b.load_state_dict(state);          // written into the device state
  CHECK(b.state_dict() == state);
  CHECK(b.uses_device_state());
  const int64_t before = b.host_readbacks();
  p.set_grad(full({2}, INFINITY));
  b.step(opt);
  b.update();
  CHECK(b.host_readbacks() == before);
  CHECK(b.get_scale() == 32768.0);  // the loaded scale, backed off; inv_scale followed
  const amp::GradScaler copy = b;   // a copy has its own device state
  p.set_grad(full({2}, INFINITY));
  b.step(opt);
  b.update();
  CHECK(b.get_scale() == 16384.0);
  CHECK(copy.get_scale() == 32768.0);
  p.set_grad(full({2}, 16384.0 * 4.0));
  b.unscale_(opt);
  CHECK(values(p.grad()) == std::vector<double>(2, 4.0));
}

TEST_CASE("device-state scaler: a static scale counts skips on the device") {
  amp::GradScaler scaler(amp::GradScalerOptions().device_state(true).init_scale(8).dynamic(false));
  Tensor p = ones({1}).requires_grad_();
  optim::SGD opt({p}, optim::SGDOptions(0.1));
  for (double g : {double(INFINITY), 8.0, double(NAN)}) {
    p.set_grad(full({1}, g));
    scaler.step(opt);
    scaler.update();
  }
  const auto state = scaler.state_dict();
  CHECK(state.at("scale") == 8.0);
  CHECK(state.at("growth_tracker") == 0.0);
  CHECK(state.at("overflow_streak") == 0.0);
  CHECK(state.at("skipped_steps") == 2.0);
  CHECK(values(p)[0] == doctest::Approx(0.9));
}

TEST_CASE("device-state scaler: a Checkpoint saves and restores it") {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("hg_scaler_dev_" + std::to_string(::getpid())))
          .string();
  auto make = [] { return amp::GradScaler(amp::GradScalerOptions().device_state(true)); };
  amp::GradScaler a = make(), b = make();
  Tensor p = ones({2}).requires_grad_();
  optim::SGD opt({p}, optim::SGDOptions(0.1));
  for (double g : {double(INFINITY), double(NAN), 1.0}) {
    p.set_grad(full({2}, g));
    a.step(opt);
    a.update();
  }
  train::Checkpoint save;
  save.scaler(a).save(path);
  train::Checkpoint load;
  load.scaler(b).load(path);
  CHECK(b.state_dict() == a.state_dict());
  CHECK(b.get_scale() == 16384.0);
  std::filesystem::remove(path);
}

TEST_CASE("device-state scaler: unscale_ before clipping, and the per-optimizer checks") {
  Tensor p = ones({2}).requires_grad_();
  optim::SGD opt({p}, optim::SGDOptions(0.1).momentum(0.9));
  amp::GradScaler scaler(amp::GradScalerOptions().device_state(true).init_scale(4));
  scaler.scale(sum(p * 3.0)).backward();
  scaler.unscale_(opt);
  hg::test::expect_error([&] { scaler.unscale_(opt); }, {"unscale_", "already called"});
  CHECK(values(p.grad()) == std::vector<double>(2, 3.0));
  (void)optim::clip_grad_norm_({p}, 1.0);
  CHECK(scaler.step(opt));
  hg::test::expect_error([&] { scaler.step(opt); }, {"step", "already called"});
  scaler.update();
  // converting step()'s result read the flag back: the caller's readback, not the scaler's
  CHECK(scaler.host_readbacks() == 0);
}

TEST_CASE("device-state scaler: clipping before unscale_ warns without reading the scale") {
  Tensor p = ones({2}).requires_grad_();
  amp::GradScaler scaler(amp::GradScalerOptions().device_state(true));
  scaler.scale(sum(p * 3.0)).backward();
  std::vector<std::string> warnings;
  reset_warn_once();  // an earlier case in this process may have had the warning already
  auto previous = set_warning_handler([&](const std::string& m) { warnings.push_back(m); });
  (void)optim::clip_grad_norm_({p}, 1.0);
  set_warning_handler(previous);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("kept on the device") != std::string::npos);
  CHECK(warnings[0].find("unscale_") != std::string::npos);
  CHECK(scaler.host_readbacks() == 0);
}

TEST_CASE("device-state scaler: a copy keeps its own per-optimizer flags") {
  Tensor a = ones({2}).requires_grad_(), b = ones({2}).requires_grad_();
  optim::SGD opt_a({a}, optim::SGDOptions(0.1)), opt_b({b}, optim::SGDOptions(0.1));
  amp::GradScaler scaler(
      amp::GradScalerOptions().device_state(true).init_scale(8).growth_interval(1));
  a.set_grad(full({2}, 8.0)), b.set_grad(full({2}, 8.0));
  scaler.step(opt_a), scaler.step(opt_b);  // both flags assigned: the scaler's, and b's own
  scaler.update();
  amp::GradScaler copy = scaler;
  a.set_grad(full({2}, INFINITY)), b.set_grad(full({2}, INFINITY));
  copy.step(opt_a), copy.step(opt_b);  // the copy's flags, not the original's
  copy.update();
  CHECK(copy.get_scale() == 8);
  a.set_grad(full({2}, 16.0)), b.set_grad(full({2}, 16.0));
  CHECK(scaler.step(opt_a));
  CHECK(scaler.step(opt_b));
  scaler.update();
  CHECK(scaler.get_scale() == 32);  // two clean updates: 8 -> 16 -> 32
}
