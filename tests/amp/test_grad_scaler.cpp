// Loss scaling, as the lecture tells it: gradients below 2^-24 vanish in fp16 and come back
// under a static (c = 8) or dynamic scale; the dynamic trajectory; skipped steps change nothing.
#include <cmath>

#include "test_util.h"

using namespace hg;
using hg::test::expect_error;
using hg::test::values;

namespace {
// d loss / d p = 2^-26 exactly, but the path runs through fp16, where 2^-26 flushes to zero.
Tensor tiny_gradient_loss(const Tensor& p) {
  const Tensor h = p.to(kFloat16);
  const Tensor a = full({4}, std::ldexp(1.0, -12), kFloat16);
  return sum(h * a).to(kFloat16) * std::ldexp(1.0, -14);
}
}  // namespace

TEST_CASE("grad scaler: a 2^-26 gradient vanishes in fp16 and returns under scaling") {
  Tensor p = ones({4}).requires_grad_();
  tiny_gradient_loss(p).backward();
  CHECK(values(p.grad()) == std::vector<double>(4, 0.0));  // flushed to zero

  // static c = 8, and a dynamic scale (2^12: this loss is fp16, so d(scaled)/d(loss) = scale
  // itself must fit in fp16; real losses are fp32 under autocast)
  for (double scale : {8.0, 4096.0}) {
    CAPTURE(scale);
    p.set_grad(Tensor());
    optim::SGD opt({p}, optim::SGDOptions(0.0));
    amp::GradScaler scaler(amp::GradScalerOptions().init_scale(scale).dynamic(scale != 8.0));
    scaler.scale(tiny_gradient_loss(p)).backward();
    scaler.unscale_(opt);
    CHECK(values(p.grad()) == std::vector<double>(4, std::ldexp(1.0, -26)));
  }
}

TEST_CASE("grad scaler: a disabled scaler's get_scale is 1, the factor its scale() applies") {
  amp::GradScaler off(amp::GradScalerOptions().enabled(false));
  CHECK(off.get_scale() == 1.0);
  CHECK(off.scale(full({}, 3.0)).item<double>() == 3.0);
}

TEST_CASE("grad scaler: the dynamic scale halves on inf, doubles after the growth interval") {
  Tensor p = ones({2}).requires_grad_();
  optim::SGD opt({p}, optim::SGDOptions(0.1));
  amp::GradScaler scaler(amp::GradScalerOptions().init_scale(1024).growth_interval(3));
  auto step_with = [&](double g) {
    p.set_grad(full({2}, g * scaler.get_scale()));
    const bool stepped = scaler.step(opt);
    scaler.update();
    return stepped;
  };
  CHECK_FALSE(step_with(INFINITY));
  CHECK(scaler.get_scale() == 512);
  CHECK(step_with(1.0));
  CHECK(step_with(1.0));
  CHECK(scaler.get_scale() == 512);
  CHECK(amp::GradScaler(amp::GradScalerOptions().enabled(false)).get_scale() == 1.0);
  CHECK(step_with(1.0));
  CHECK(scaler.get_scale() == 1024);  // 3 clean steps
  CHECK_FALSE(step_with(NAN));
  CHECK(scaler.get_scale() == 512);
  CHECK(amp::GradScaler(amp::GradScalerOptions().enabled(false)).get_scale() == 1.0);
  CHECK(scaler.skipped_steps() == 2);
}

TEST_CASE("grad scaler: hysteresis tolerates isolated overflows, min/max clamp") {
  Tensor p = ones({1}).requires_grad_();
  optim::SGD opt({p}, optim::SGDOptions(0.1));
  amp::GradScaler scaler(amp::GradScalerOptions()
                             .init_scale(8)
                             .hysteresis(2)
                             .min_scale(4)
                             .growth_interval(1)
                             .max_scale(16));
  auto step_with = [&](double g) {
    p.set_grad(full({1}, g));
    scaler.step(opt);
    scaler.update();
  };
  step_with(INFINITY);
  CHECK(scaler.get_scale() == 8);  // first overflow tolerated
  step_with(INFINITY);
  CHECK(scaler.get_scale() == 4);  // second in a row backs off
  step_with(INFINITY);
  step_with(INFINITY);
  CHECK(scaler.get_scale() == 4);  // min_scale
  step_with(1.0);
  step_with(1.0);
  step_with(1.0);
  CHECK(scaler.get_scale() == 16);  // max_scale
}

TEST_CASE("grad scaler: by default the scale stops at 2^127, the largest power of two in float") {
  // as PyTorch's float32 scale, which grows while it stays finite; a ceiling of 1e38 made the
  // scale (and every unscale after) inexact
  Tensor p = ones({1}).requires_grad_();
  optim::SGD opt({p}, optim::SGDOptions(0.0));
  amp::GradScaler scaler(amp::GradScalerOptions().init_scale(0x1p125).growth_interval(1));
  for (int step = 0; step < 4; ++step) {
    p.set_grad(zeros({1}));
    scaler.step(opt);
    scaler.update();
  }
  CHECK(scaler.get_scale() == 0x1p127);
}

TEST_CASE("grad scaler: a skipped step leaves weights and optimizer state bit-identical") {
  manual_seed(3);
  nn::Linear fc(4, 3);
  optim::SGD opt(fc.parameters(), optim::SGDOptions(0.1).momentum(0.9));
  amp::GradScaler scaler;
  scaler.set_parameter_names(fc.named_parameters());
  scaler.scale(sum(fc(randn({2, 4})))).backward();
  scaler.step(opt);
  scaler.update();
  const auto weight = values(fc.weight);
  const auto momentum = values(opt.state(fc.weight)->buffers.at("momentum_buffer"));
  scaler.scale(sum(fc(randn({2, 4})))).backward();
  fc.bias.grad().fill_(INFINITY);  // inject an inf into one gradient
  std::string warning;
  auto previous = set_warning_handler([&](const std::string& m) { warning = m; });
  CHECK_FALSE(scaler.step(opt));
  set_warning_handler(previous);
  scaler.update();
  CHECK(values(fc.weight) == weight);
  CHECK(values(opt.state(fc.weight)->buffers.at("momentum_buffer")) == momentum);
  CHECK(scaler.last_skip_reason().find("bias") != std::string::npos);
  CHECK(warning.find("skipped the optimizer step") != std::string::npos);
  CHECK(scaler.get_scale() == 32768);
}

TEST_CASE("grad scaler: a scale backed off below 2^-128 (1 / scale past float32) skips") {
  nn::Linear fc(4, 3);
  optim::SGD opt(fc.parameters(), optim::SGDOptions(0.1));
  amp::GradScaler scaler(amp::GradScalerOptions().init_scale(0x1p-120).backoff_factor(1e-6));
  const auto weight = values(fc.weight);
  auto previous = set_warning_handler([](const std::string&) {});
  scaler.scale(sum(fc(full({2, 4}, INFINITY)))).backward();  // skipped: backs off to ~7.5e-43
  CHECK_FALSE(scaler.step(opt));
  scaler.update();
  CHECK(scaler.get_scale() < 0x1p-128);
  opt.zero_grad();
  scaler.scale(sum(fc(randn({2, 4})))).backward();
  CHECK_FALSE(scaler.step(opt));  // inv_scale is inf: every unscaled gradient is inf or NaN
  scaler.update();
  set_warning_handler(previous);
  CHECK(values(fc.weight) == weight);
}

TEST_CASE("grad scaler: a scale whose inverse is not finite in float32 is refused up front") {
  // 1e-40 would skip every step, with warnings that blame the gradients
  expect_error([] { amp::GradScaler(amp::GradScalerOptions().init_scale(1e-40)); },
               {"GradScaler: init_scale must be in [1/FLT_MAX, FLT_MAX]", "got 1e-40"});
  expect_error([] { amp::GradScaler(amp::GradScalerOptions().init_scale(1e39)); },
               {"init_scale", "got 1e+39"});
  expect_error([] { amp::GradScaler(amp::GradScalerOptions().min_scale(10).max_scale(1)); },
               {"GradScaler: expected 0 <= min_scale <= max_scale", "min_scale 10", "max_scale 1"});
}

TEST_CASE("grad scaler: state_dict carries the growth and backoff options, as PyTorch's") {
  amp::GradScaler saved(amp::GradScalerOptions()
                            .init_scale(1024)
                            .growth_factor(4)
                            .backoff_factor(0.25)
                            .growth_interval(1)
                            .hysteresis(2));
  const auto state = saved.state_dict();
  CHECK(state.at("growth_factor") == 4.0);
  CHECK(state.at("backoff_factor") == 0.25);
  CHECK(state.at("growth_interval") == 1.0);
  CHECK(state.at("hysteresis") == 2.0);
  amp::GradScaler resumed;  // default options: the state's replace them
  resumed.load_state_dict(state);
  Tensor p = ones({1}).requires_grad_();
  optim::SGD opt({p}, optim::SGDOptions(0.1));
  p.set_grad(ones({1}));
  resumed.step(opt);
  resumed.update();
  CHECK(resumed.get_scale() == 4096.0);  // grown by 4 after one clean step
  for (int i = 0; i < 2; ++i) {          // backs off after two non-finite steps in a row
    p.set_grad(full({1}, INFINITY));
    resumed.step(opt);
    resumed.update();
  }
  CHECK(resumed.get_scale() == 1024.0);

  auto old_state = state;  // a state without the options (an older checkpoint) keeps the scaler's
  for (const char* key : {"growth_factor", "backoff_factor", "growth_interval", "hysteresis"})
    old_state.erase(key);
  amp::GradScaler keeps(amp::GradScalerOptions().growth_interval(7));
  keeps.load_state_dict(old_state);
  CHECK(keeps.state_dict().at("growth_interval") == 7.0);

  auto bad = state;
  bad["backoff_factor"] = 1.5;
  expect_error([&] { resumed.load_state_dict(bad); },
               {"GradScaler.load_state_dict", "backoff_factor", "(0, 1)", "1.5"});
  bad = state;
  bad["growth_interval"] = 0.5;
  expect_error([&] { resumed.load_state_dict(bad); },
               {"GradScaler.load_state_dict", "growth_interval", "whole number"});
}

TEST_CASE("grad scaler: unscale_ twice is an error, state_dict round trip, bf16 warning") {
  Tensor p = ones({1}).requires_grad_();
  optim::SGD opt({p}, optim::SGDOptions(0.1));
  amp::GradScaler scaler;
  scaler.scale(p.sum()).backward();
  scaler.unscale_(opt);
  expect_error([&] { scaler.unscale_(opt); }, {"unscale_", "already called", "SGD"});
  scaler.step(opt);
  expect_error([&] { scaler.step(opt); }, {"step", "already called"});
  scaler.update();
  amp::GradScaler other;
  other.load_state_dict(scaler.state_dict());
  CHECK(other.get_scale() == scaler.get_scale());
  std::vector<std::string> warnings;
  auto previous = set_warning_handler([&](const std::string& m) { warnings.push_back(m); });
  (void)scaler.scale(ones({}, kBFloat16));
  (void)scaler.scale(ones({}, kBFloat16));
  set_warning_handler(previous);
  CHECK(warnings.size() == 1);  // said once
  CHECK(warnings[0].find("not needed") != std::string::npos);
}

TEST_CASE("grad scaler: unscaling keeps fp16 gradients below 2^-24 (O2 parameters)") {
  Tensor p = ones({4}, kFloat16).requires_grad_();  // an fp16 parameter, as under O2
  optim::SGD opt({p}, optim::SGDOptions(1024.0));   // update 2^10 * 2^-26 = 2^-16
  opt.set_master_weights(true);
  amp::GradScaler scaler(amp::GradScalerOptions().init_scale(4096));
  scaler.scale(tiny_gradient_loss(p)).backward();  // 2^-26 * 2^12 = 2^-14 in fp16
  scaler.unscale_(opt);
  CHECK(p.grad().dtype() == kFloat32);  // fp32 after unscaling: 2^-26 survives
  CHECK(values(p.grad()) == std::vector<double>(4, std::ldexp(1.0, -26)));
  scaler.step(opt);
  scaler.update();
  CHECK(values(opt.master_weight(p)) == std::vector<double>(4, 1.0 - std::ldexp(1.0, -16)));
}

TEST_CASE("grad scaler: with anomaly mode recording, a skipped step names the op that overflowed") {
  Tensor p = full({2}, 300.0).requires_grad_();
  optim::SGD opt({p}, optim::SGDOptions(0.1));
  amp::GradScaler scaler;
  scaler.set_parameter_names({{"p", p}});
  autograd::DetectAnomalyGuard anomaly(autograd::AnomalyAction::Record);
  const Tensor y = p.to(kFloat16);
  auto previous = set_warning_handler([](const std::string&) {});
  scaler.scale(sum(square(y).to(kFloat32))).backward();
  CHECK_FALSE(scaler.step(opt));
  set_warning_handler(previous);
  const std::string reason = scaler.last_skip_reason();
  CHECK(reason.find("p") != std::string::npos);
  CHECK(reason.find("first non-finite value: anomaly: ") != std::string::npos);
  // 300^2 = 90000 > 65504: the square overflowed already in the fp16 forward pass
  CHECK_MESSAGE(reason.find("SquareBackward (#") != std::string::npos, reason);
  CHECK(reason.find("forward output 0 [2] float16") != std::string::npos);
  scaler.update();
  CHECK(autograd::first_anomaly().empty());
}

TEST_CASE("grad scaler: with two optimizers, an inf skips only the optimizer it is in") {
  for (const bool device_state : {false, true}) {
    for (const bool a_first : {true, false}) {
      CAPTURE(device_state);
      CAPTURE(a_first);
      Tensor a = ones({2}).requires_grad_(), b = ones({2}).requires_grad_();
      optim::SGD opt_a({a}, optim::SGDOptions(0.5)), opt_b({b}, optim::SGDOptions(0.5));
      amp::GradScaler scaler(amp::GradScalerOptions().init_scale(8).device_state(device_state));
      for (int iteration = 0; iteration < 2; ++iteration) {  // the flags reset in between
        opt_a.zero_grad(), opt_b.zero_grad();
        const double bad = iteration == 0 ? INFINITY : 1.0;
        scaler.scale(sum(a * bad) + sum(b * 2.0)).backward();
        const bool a_stepped = a_first ? bool(scaler.step(opt_a)) : false;
        const bool b_stepped = scaler.step(opt_b);
        const bool a_later = a_first ? a_stepped : bool(scaler.step(opt_a));
        scaler.update();
        CHECK(a_later == (iteration == 1));
        CHECK(b_stepped);  // PyTorch keeps found-inf per optimizer: b's gradients were finite
      }
      CHECK(values(a) == std::vector<double>(2, 0.5));   // one step of lr 0.5, gradient 1
      CHECK(values(b) == std::vector<double>(2, -1.0));  // two steps, gradient 2
      CHECK(scaler.get_scale() == 4);                    // backed off once, for a's inf
    }
  }
}

TEST_CASE("grad scaler: update() without an unscale_ or step since the last one is refused") {
  for (const bool device_state : {false, true}) {
    CAPTURE(device_state);
    Tensor p = ones({2}).requires_grad_();
    optim::SGD opt({p}, optim::SGDOptions(0.1));
    amp::GradScaler scaler(
        amp::GradScalerOptions().init_scale(8).growth_interval(1).device_state(device_state));
    scaler.scale(sum(p)).backward();
    // a gradient-accumulation loop that updates per micro-batch would grow the scale unseen
    expect_error([&] { scaler.update(); }, {"GradScaler.update", "no unscale_() or step()"});
    CHECK(scaler.get_scale() == 8);
    scaler.step(opt);
    scaler.update();
    CHECK(scaler.get_scale() == 16);
    expect_error([&] { scaler.update(); }, {"GradScaler.update", "since the last update()"});
    amp::GradScaler(amp::GradScalerOptions().enabled(false)).update();  // disabled: a no-op
  }
}

TEST_CASE("grad scaler: an fp16 loss is scaled in float32, as PyTorch's, in both modes") {
  // 2 * 65536 overflows fp16: scaled in its own dtype every step would be skipped
  for (bool device_state : {false, true}) {
    CAPTURE(device_state);
    amp::GradScaler scaler(amp::GradScalerOptions().device_state(device_state));
    Tensor w = full({1}, 2.0, kFloat16).requires_grad_();
    const Tensor scaled = scaler.scale(w.sum());
    CHECK(scaled.dtype() == kFloat32);
    CHECK(scaled.item<float>() == 131072.0f);
    scaled.backward();
    CHECK(w.grad().dtype() == kFloat16);
    CHECK(std::isinf(w.grad().item<float>()));  // 65536 is past fp16's max: a step to skip
  }
}
