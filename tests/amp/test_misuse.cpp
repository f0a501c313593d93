// Misuse table, the AMP workflow: each mistake gives one clear hg::Error or warning, and a
// GradScaler error leaves weights, gradients and the scaler as they were.
#include "misuse_util.h"

using namespace hg;
using hg::test::bits;
using hg::test::expect_misuse_error;
using hg::test::expect_misuse_warning;

namespace {
struct Fp16Setup {  // a float16 Linear with gradients from a scaled loss
  explicit Fp16Setup(bool masters) {
    fc.to(kFloat16);
    opt.set_master_weights(masters);
    const Tensor x = randn({4, 3}).to(kFloat16);
    scaler.scale(fc(x).to(kFloat32).pow(2.0).sum()).backward();
  }
  nn::Linear fc{3, 2};
  optim::SGD opt{fc.parameters(), optim::SGDOptions(0.1)};
  amp::GradScaler scaler{amp::GradScalerOptions().init_scale(256)};
};
}  // namespace

TEST_CASE("misuse: GradScaler calls out of order") {
  Fp16Setup s(true);
  s.scaler.unscale_(s.opt);
  const auto grad_bits = bits(s.fc.weight.grad()), w_bits = bits(s.fc.weight);
  expect_misuse_error("amp", "unscale_ twice in one step", [&] { s.scaler.unscale_(s.opt); },
                      {"unscale_: already called", "once per step"});
  CHECK(bits(s.fc.weight.grad()) == grad_bits);  // not divided by the scale a second time
  s.scaler.step(s.opt);
  const auto stepped_bits = bits(s.fc.weight);
  CHECK(stepped_bits != w_bits);
  expect_misuse_error("amp", "step twice without update", [&] { s.scaler.step(s.opt); },
                      {"GradScaler.step: already called"});
  CHECK(bits(s.fc.weight) == stepped_bits);  // not updated twice
  expect_misuse_error("amp", "unscale_ after step", [&] { s.scaler.unscale_(s.opt); },
                      {"GradScaler.unscale_: called after step()", "unscaled already"});
  CHECK(s.scaler.get_scale() == 256);
  s.scaler.update();
  expect_misuse_error("amp", "update twice (no step in between)", [&] { s.scaler.update(); },
                      {"GradScaler.update: no unscale_() or step() since the last update()"});
  CHECK(s.scaler.get_scale() == 256);  // not counted as a clean step
}

TEST_CASE("misuse: GradScaler step without any gradient") {
  nn::Linear fc{3, 2};  // no backward: nothing to check for inf/NaN, as PyTorch refuses
  optim::SGD opt{fc.parameters(), optim::SGDOptions(0.1)};
  amp::GradScaler scaler;
  expect_misuse_error("amp", "step with no gradients", [&] { scaler.step(opt); },
                      {"GradScaler.step: the unscale_ of this SGD optimizer saw no gradient",
                       "among its 2 parameters"});
  // unscale_ before backward checked nothing: the step would apply scaled gradients
  amp::GradScaler early;
  optim::SGD opt2{fc.parameters(), optim::SGDOptions(0.1)};
  early.unscale_(opt2);
  early.scale(fc(ones({1, 3})).sum()).backward();
  const auto w_bits = bits(fc.weight);
  expect_misuse_error("amp", "unscale_ before backward, then step", [&] { early.step(opt2); },
                      {"GradScaler.step", "saw no gradient", "after backward()"});
  CHECK(bits(fc.weight) == w_bits);
}

TEST_CASE("misuse: GradScaler options and inputs") {
  expect_misuse_error("amp", "GradScaler with a negative init_scale",
                      [] { amp::GradScaler bad(amp::GradScalerOptions().init_scale(-1)); },
                      {"init_scale must be in [1/FLT_MAX, FLT_MAX]", "got -1"});
  expect_misuse_error("amp", "GradScaler with backoff_factor 2",
                      [] { amp::GradScaler bad(amp::GradScalerOptions().backoff_factor(2)); },
                      {"backoff_factor must be in (0, 1)"});
  amp::GradScaler scaler;
  expect_misuse_error("amp", "scale() of an integer loss",
                      [&] { (void)scaler.scale(arange(2, kInt64)); },
                      {"GradScaler.scale: expected a floating loss", "int64"});
  expect_misuse_error("amp", "load_state_dict with a non-finite scale",
                      [&] {
                        scaler.load_state_dict({{"scale", INFINITY},
                                                {"growth_tracker", 0},
                                                {"overflow_streak", 0},
                                                {"skipped_steps", 0}});
                      },
                      {"scale must be positive and finite"});
  CHECK(scaler.get_scale() == 65536.0);
}

TEST_CASE("misuse: clipping gradients that are still scaled warns") {
  Fp16Setup s(true);
  const auto grad_bits = bits(s.fc.weight.grad());
  expect_misuse_warning("amp", "clip_grad_norm_ before unscale_",
                        [&] { optim::clip_grad_norm_(s.fc.parameters(), 1e9); },
                        {"still multiplied by the GradScaler's scale (256)", "unscale_"});
  CHECK(bits(s.fc.weight.grad()) == grad_bits);  // max_norm 1e9: nothing clipped
}

TEST_CASE("misuse: float16 parameters without master weights under a GradScaler warns") {
  Fp16Setup s(false);
  expect_misuse_warning("amp", "fp16 parameters, no master weights, with a GradScaler",
                        [&] { s.scaler.step(s.opt); },
                        {"float16", "no float32 master weights", "set_master_weights(true)"});
}

TEST_CASE("misuse: a scheduler stepped after a skipped optimizer step warns") {
  Fp16Setup s(true);
  optim::StepLR sched(s.opt, 1, 0.5);
  s.fc.weight.set_grad(full({2, 3}, INFINITY, kFloat16));
  const auto w_bits = bits(s.fc.weight);
  std::vector<std::string> ignore;
  const WarningHandler previous =
      set_warning_handler([&](const std::string& m) { ignore.push_back(m); });
  CHECK_FALSE(s.scaler.step(s.opt));  // skipped: "GradScaler: skipped the optimizer step"
  set_warning_handler(previous);
  s.scaler.update();
  expect_misuse_warning("amp", "scheduler.step() after a skipped optimizer step",
                        [&] { sched.step(); }, {"StepLR.step", "took no step", "GradScaler skip"});
  CHECK(bits(s.fc.weight) == w_bits);
  CHECK(s.scaler.get_scale() == 128);
}

TEST_CASE("misuse: autocast") {
  expect_misuse_error("amp", "a custom op without a cast policy under autocast",
                      [] {
                        amp::AutocastGuard guard(kFloat16);
                        (void)amp::autocast_custom("my_fused_op", {randn({2})});
                      },
                      {"autocast: op \"my_fused_op\" has no cast policy", "register_policy"});
  expect_misuse_error("amp", "AutocastGuard with float32",
                      [] { amp::AutocastGuard guard(kFloat32); }, {"AutocastGuard"});
  expect_misuse_error("amp", "an unknown opt level", [] { (void)amp::parse_opt_level("O4"); },
                      {"unknown opt level \"O4\""});
  CHECK_FALSE(amp::is_autocast_enabled());  // the failed guard left autocast off
}

TEST_CASE("misuse: GradScaler with bfloat16 warns") {
  amp::GradScaler scaler;
  expect_misuse_warning("amp", "GradScaler on a bfloat16 loss",
                        [&] { (void)scaler.scale(ones({1}, kBFloat16).sum()); },
                        {"bfloat16", "loss scaling is not needed"});
}
