// examples/common/step_readout: the per-step values a training loop reads back in batches.
#include "common/step_readout.h"

#include <cmath>

#include "test_util.h"

using namespace hg;

namespace {
// One training-like step of a scaled loss: the scaler's state moves when the gradient overflows.
Tensor scaled_step(amp::GradScaler& scaler, optim::Optimizer& opt, const Tensor& p, double value,
                   bool overflow) {
  opt.zero_grad();
  const Tensor loss = sum(p * value);
  scaler.scale(loss).backward();
  if (overflow) p.grad().fill_(INFINITY);
  scaler.step(opt);
  scaler.update();
  return loss;
}
}  // namespace

TEST_CASE("step readout: queued losses and scaler states come back in order") {
  auto quiet = set_warning_handler([](const std::string&) {});  // the host-mode skip warning
  for (const bool device_state : {false, true}) {
    CAPTURE(device_state);
    Tensor p = ones({2}).requires_grad_();
    optim::SGD opt({p}, optim::SGDOptions(0.01));
    amp::GradScaler scaler(
        amp::GradScalerOptions().init_scale(256.0).growth_interval(2).device_state(device_state));
    examples::StepReadout readout(3);
    for (int s = 0; s < 5; ++s) {
      readout.push(scaled_step(scaler, opt, p, 1.0 + s, s == 1), scaler);
      CHECK(readout.due() == (s == 2));
      if (s == 2) {
        const auto first = readout.drain();
        REQUIRE(first.size() == 3);
        CHECK(first[0].loss == 2.0);
        CHECK(first[0].loss_scale == 256.0);
        CHECK(first[1].loss_scale == 128.0);  // step 1 overflowed: backoff, one skipped step
        CHECK(first[1].skipped_steps == 1);
        CHECK(first[2].loss_scale == 128.0);
        CHECK_FALSE(readout.due());
      }
    }
    const auto rest = readout.drain();
    REQUIRE(rest.size() == 2);
    CHECK(rest[0].loss_scale == 256.0);  // two clean steps since the backoff: growth
    CHECK(rest[1].skipped_steps == 1);
    CHECK(rest[1].loss_scale == scaler.get_scale());
    CHECK(readout.drain().empty());
  }
  set_warning_handler(quiet);
}

TEST_CASE("step readout: without loss scaling the scale reads 1, and a NaN loss comes back") {
  examples::StepReadout readout;
  amp::GradScaler off(amp::GradScalerOptions().enabled(false));
  readout.push(full({}, NAN), off);
  readout.push(full({1}, 2.5, kFloat16), off);
  const auto steps = readout.drain();
  REQUIRE(steps.size() == 2);
  CHECK(std::isnan(steps[0].loss));
  CHECK(steps[1].loss == 2.5);
  CHECK(steps[1].loss_scale == 1.0);
  CHECK(steps[1].skipped_steps == 0);
  hg::test::expect_error([&] { readout.push(ones({2}), off); }, {"StepReadout", "one element"});
}

TEST_CASE("GradScaler::state_tensor: the state_dict values, float64 [4], no readback") {
  for (const bool device_state : {false, true}) {
    CAPTURE(device_state);
    Tensor p = ones({2}).requires_grad_();
    optim::SGD opt({p}, optim::SGDOptions(0.01));
    amp::GradScaler scaler(amp::GradScalerOptions().init_scale(64.0).device_state(device_state));
    (void)scaled_step(scaler, opt, p, 1.0, false);
    const int64_t readbacks = scaler.host_readbacks();
    const Tensor state = scaler.state_tensor();
    CHECK(scaler.host_readbacks() == readbacks);
    CHECK(state.dtype() == kFloat64);
    CHECK(state.sizes() == Shape{4});
    const auto dict = scaler.state_dict();
    CHECK(state.to_vector<double>() ==
          std::vector<double>{dict.at("scale"), dict.at("growth_tracker"),
                              dict.at("overflow_streak"), dict.at("skipped_steps")});
  }
}

TEST_CASE("step readout: for_device drains every step on the CPU") {
  amp::GradScaler off(amp::GradScalerOptions().enabled(false));
  auto readout = examples::StepReadout::for_device(kCPU);
  readout.push(full({}, 1.0), off);
  CHECK(readout.due());
  auto queued = examples::StepReadout::for_device(kCUDA);  // 16 on CUDA (CPU tensors here)
  for (int i = 0; i < 15; ++i) queued.push(full({}, 1.0), off);
  CHECK_FALSE(queued.due());
  queued.push(full({}, 1.0), off);
  CHECK(queued.due());
}
