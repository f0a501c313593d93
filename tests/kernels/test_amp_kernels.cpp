// The CPU column of the AMP and fused-optimizer families (kernels/amp_kernels.h) against what
// amp/grad_scaler.cpp and the optimizers (SGD, Adam/AdamW, RMSprop, Adagrad) compute: bit for bit.
#include <doctest/doctest.h>

#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "halfgrad/kernels/amp_kernels.h"
#include "halfgrad/kernels/tensor_bridge.h"
#include "test_util.h"

using namespace hg;
using hg::kernels::view_of;

namespace {

// Every element bit-identical (as float64 values: each dtype widens exactly).
void expect_identical(const Tensor& a, const Tensor& b, const char* what) {
  REQUIRE(a.sizes() == b.sizes());
  const auto x = a.to(kFloat64).to_vector<double>(), y = b.to(kFloat64).to_vector<double>();
  int reported = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const bool same = std::memcmp(&x[i], &y[i], sizeof(double)) == 0;
    if (!same && reported++ < 5)
      FAIL_CHECK(what << " element " << i << ": " << x[i] << " vs " << y[i]);
  }
}

Tensor scalar_f32(double v) { return full({1}, v, TensorOptions(kFloat32)); }

}  // namespace

TEST_CASE(
    "unscale_grads: one call unscales every dtype as grad.to(float32) * inv does (fp64: in "
    "double)") {
  manual_seed(21);
  const double inv = 1.0 / 3072.0;                 // not a power of two: the product rounds
  const double inv_f32 = static_cast<float>(inv);  // the float32 inv_scale the kernel reads
  std::vector<Tensor> grads, outs, expected;
  for (DType dtype : {kFloat32, kFloat16, kBFloat16, kFloat64}) {
    const Tensor g = (randn({257}, TensorOptions(kFloat32)) * 4096.0).to(dtype);
    expected.push_back(dtype == kFloat64 ? g * inv_f32 : g.to(kFloat32) * inv);
    grads.push_back(g);
    outs.push_back(is_low_precision(dtype) ? empty({257}, TensorOptions(kFloat32)) : g);
  }
  std::vector<kernels::TensorView> in_views, out_views;
  for (size_t i = 0; i < grads.size(); ++i) {
    in_views.push_back(view_of(grads[i]));
    out_views.push_back(view_of(outs[i]));
  }
  const Tensor inv_t = scalar_f32(inv), found = zeros({1});
  kernels::unscale_grads(kCPU)(in_views.data(), out_views.data(), 4, view_of(inv_t),
                               view_of(found));
  for (size_t i = 0; i < outs.size(); ++i)
    expect_identical(outs[i], expected[i].to(outs[i].dtype()), "unscaled");
  CHECK(found.item<float>() == 0.0f);

  Tensor bad = from_vector<float>({1.0f, std::numeric_limits<float>::quiet_NaN()}, {2});
  const kernels::TensorView bad_view = view_of(bad);
  kernels::unscale_grads(kCPU)(&bad_view, &bad_view, 1, view_of(inv_t), view_of(found));
  CHECK(found.item<float>() == 1.0f);
  Tensor fine = from_vector<float>({1.0f, 2.0f}, {2});
  const kernels::TensorView fine_view = view_of(fine);
  kernels::unscale_grads(kCPU)(&fine_view, &fine_view, 1, view_of(inv_t), view_of(found));
  CHECK(found.item<float>() == 1.0f);  // never cleared by the unscale

  // a float64 gradient into a float32 output: checked as stored (1e300 is inf in float)
  const Tensor huge = from_vector(std::vector<double>{1e300}, kFloat64), narrow = empty({1});
  const Tensor cleared = zeros({1});
  const kernels::TensorView huge_view = view_of(huge), narrow_view = view_of(narrow);
  kernels::unscale_grads(kCPU)(&huge_view, &narrow_view, 1, view_of(inv_t), view_of(cleared));
  CHECK(std::isinf(narrow.item<float>()));
  CHECK(cleared.item<float>() == 1.0f);
}

TEST_CASE("scale_update follows GradScaler::update: growth, hysteresis, backoff, bounds") {
  const auto options = amp::GradScalerOptions()
                           .init_scale(1000.0)
                           .growth_interval(3)
                           .hysteresis(2)
                           .growth_factor(3.0)
                           .backoff_factor(0.25)
                           .min_scale(10.0)
                           .max_scale(20000.0);
  amp::GradScaler scaler(options);
  Tensor p = zeros({2}).requires_grad_();
  optim::SGD opt({p}, optim::SGDOptions(0.0));
  kernels::ScaleUpdateParams params;
  params.growth_factor = 3.0, params.backoff_factor = 0.25, params.growth_interval = 3;
  params.hysteresis = 2, params.min_scale = 10.0, params.max_scale = 20000.0;
  const Tensor state = from_vector<double>({1000.0, 0, 0, 0}, {4}, kFloat64);
  Tensor found = zeros({1}), inv = zeros({1}), scale = zeros({1});
  const bool overflow[] = {0, 0, 0, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                           0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  for (bool inf : overflow) {
    p.set_grad(from_vector<float>({1.0f, inf ? INFINITY : 2.0f}, {2}));
    scaler.step(opt);
    scaler.update();
    found.fill_(inf ? 1.0 : 0.0);
    kernels::scale_update(kCPU)(view_of(state), view_of(found), view_of(inv), view_of(scale),
                                params);
    const auto s = state.to_vector<double>();
    const auto host = scaler.state_dict();
    REQUIRE(s[kernels::kScaleSlot] == scaler.get_scale());
    CHECK(s[kernels::kGrowthTrackerSlot] == host.at("growth_tracker"));
    CHECK(s[kernels::kOverflowStreakSlot] == host.at("overflow_streak"));
    CHECK(s[kernels::kSkippedStepsSlot] == host.at("skipped_steps"));
    CHECK(inv.item<float>() == static_cast<float>(1.0 / scaler.get_scale()));
    CHECK(scale.item<float>() == static_cast<float>(scaler.get_scale()));
    CHECK(found.item<float>() == 0.0f);
  }
}

namespace {

struct FusedCase {
  DType param_dtype;
  bool master;
  double grad_scale;
};

// Runs `steps` optimizer steps with the CPU loops on one parameter and the fused CPU kernel on
// a copy, and checks weight, parameter copy and state bit for bit after every step.
template <typename MakeOpt, typename Fused>
void check_fused(const FusedCase& c, MakeOpt make_opt, Fused fused, const char* what) {
  manual_seed(22);
  Tensor p = randn({300}).to(c.param_dtype).requires_grad_();
  auto opt = make_opt(p);
  if (c.master) opt->set_master_weights(true);
  Tensor weight = c.master ? p.detach().to(kFloat32) : p.detach().clone();
  Tensor param_copy = p.detach().clone();
  std::vector<Tensor> state;
  for (int step = 1; step <= 3; ++step) {
    CAPTURE(step);
    const Tensor g = (randn({300}) * c.grad_scale).to(c.param_dtype);
    p.set_grad(g);
    opt->step_scaled(c.grad_scale);
    fused(weight, g, c.master ? &param_copy : nullptr, 1.0 / c.grad_scale, step, state);
    if (c.master) {
      expect_identical(weight, opt->master_weight(p), what);
      expect_identical(param_copy, p.detach(), what);
    } else {
      expect_identical(weight, p.detach(), what);
    }
  }
}

}  // namespace

TEST_CASE("fused_sgd reproduces optim::SGD bit for bit (fp32, fp64, fp16 with master weights)") {
  const auto options = optim::SGDOptions(0.05).momentum(0.9).nesterov(true).weight_decay(1e-3);
  for (const FusedCase& c : {FusedCase{kFloat32, false, 1.0}, FusedCase{kFloat64, false, 4.0},
                             FusedCase{kFloat16, true, 1024.0}, FusedCase{kBFloat16, true, 8.0},
                             FusedCase{kFloat16, false, 1.0}}) {
    CAPTURE(dtype_name(c.param_dtype));
    auto make = [&](const Tensor& p) {
      return std::make_unique<optim::SGD>(std::vector<Tensor>{p}, options);
    };
    auto fused = [&](Tensor& w, const Tensor& g, Tensor* out, double factor, int step,
                     std::vector<Tensor>& state) {
      if (state.empty())
        state.push_back(zeros({300}, TensorOptions(w.dtype() == kFloat64 ? kFloat64 : kFloat32)));
      kernels::FusedSgdParams params;
      params.lr = 0.05, params.momentum = 0.9, params.nesterov = true, params.weight_decay = 1e-3;
      const kernels::FusedSgdTensor t{view_of(w), view_of(g), view_of(state[0]),
                                      out ? view_of(*out) : kernels::TensorView{}, step == 1};
      kernels::fused_sgd(kCPU)(&t, 1, {}, factor, params);
    };
    check_fused(c, make, fused, "fused_sgd");
  }
}

TEST_CASE("fused_adam reproduces optim::AdamW and Adam (amsgrad) bit for bit") {
  for (bool decoupled : {true, false}) {
    for (const FusedCase& c : {FusedCase{kFloat32, false, 1.0}, FusedCase{kFloat64, false, 2.0},
                               FusedCase{kFloat16, true, 512.0}, FusedCase{kBFloat16, true, 1.0}}) {
      CAPTURE(dtype_name(c.param_dtype));
      CAPTURE(decoupled);
      auto make = [&](const Tensor& p) -> std::unique_ptr<optim::Optimizer> {
        if (decoupled)
          return std::make_unique<optim::AdamW>(std::vector<Tensor>{p},
                                                optim::AdamWOptions(1e-2).weight_decay(0.1));
        return std::make_unique<optim::Adam>(
            std::vector<Tensor>{p}, optim::AdamOptions(1e-2).weight_decay(0.1).amsgrad(true));
      };
      auto fused = [&](Tensor& w, const Tensor& g, Tensor* out, double factor, int step,
                       std::vector<Tensor>& state) {
        const TensorOptions o(w.dtype() == kFloat64 ? kFloat64 : kFloat32);
        while (state.size() < 3) state.push_back(zeros({300}, o));
        kernels::FusedAdamParams params;
        params.lr = 1e-2, params.weight_decay = 0.1, params.decoupled = decoupled;
        params.amsgrad = !decoupled, params.step = step;
        const kernels::FusedAdamTensor t{view_of(w),
                                         view_of(g),
                                         view_of(state[0]),
                                         view_of(state[1]),
                                         decoupled ? kernels::TensorView{} : view_of(state[2]),
                                         out ? view_of(*out) : kernels::TensorView{}};
        kernels::fused_adam(kCPU)(&t, 1, {}, factor, params);
      };
      check_fused(c, make, fused, decoupled ? "fused AdamW" : "fused Adam");
    }
  }
}

TEST_CASE("fused_rmsprop reproduces optim::RMSprop bit for bit (centered, momentum, decay)") {
  const auto options =
      optim::RMSpropOptions(0.01).alpha(0.9).momentum(0.8).centered(true).weight_decay(0.05);
  for (const FusedCase& c : {FusedCase{kFloat32, false, 1.0}, FusedCase{kFloat64, false, 4.0},
                             FusedCase{kFloat16, true, 1024.0}, FusedCase{kBFloat16, true, 8.0},
                             FusedCase{kFloat16, false, 1.0}}) {
    CAPTURE(dtype_name(c.param_dtype));
    auto make = [&](const Tensor& p) {
      return std::make_unique<optim::RMSprop>(std::vector<Tensor>{p}, options);
    };
    auto fused = [&](Tensor& w, const Tensor& g, Tensor* out, double factor, int,
                     std::vector<Tensor>& state) {
      const TensorOptions o(w.dtype() == kFloat64 ? kFloat64 : kFloat32);
      while (state.size() < 3) state.push_back(zeros({300}, o));
      kernels::FusedRmspropParams params;
      params.lr = 0.01, params.alpha = 0.9, params.momentum = 0.8, params.weight_decay = 0.05;
      const kernels::FusedRmspropTensor t{
          view_of(w),        view_of(g),        view_of(state[0]),
          view_of(state[1]), view_of(state[2]), out ? view_of(*out) : kernels::TensorView{}};
      kernels::fused_rmsprop(kCPU)(&t, 1, {}, factor, params);
    };
    check_fused(c, make, fused, "fused_rmsprop");
  }
}

TEST_CASE("fused_adagrad reproduces optim::Adagrad bit for bit (lr_decay by the step number)") {
  const auto options =
      optim::AdagradOptions(0.1).lr_decay(0.3).weight_decay(0.05).initial_accumulator_value(0.2);
  for (const FusedCase& c : {FusedCase{kFloat32, false, 1.0}, FusedCase{kFloat64, false, 2.0},
                             FusedCase{kFloat16, true, 512.0}, FusedCase{kBFloat16, true, 1.0},
                             FusedCase{kBFloat16, false, 1.0}}) {
    CAPTURE(dtype_name(c.param_dtype));
    auto make = [&](const Tensor& p) {
      return std::make_unique<optim::Adagrad>(std::vector<Tensor>{p}, options);
    };
    auto fused = [&](Tensor& w, const Tensor& g, Tensor* out, double factor, int step,
                     std::vector<Tensor>& state) {
      if (state.empty())
        state.push_back(
            full({300}, 0.2, TensorOptions(w.dtype() == kFloat64 ? kFloat64 : kFloat32)));
      kernels::FusedAdagradParams params;
      params.lr = 0.1, params.lr_decay = 0.3, params.weight_decay = 0.05, params.step = step;
      const kernels::FusedAdagradTensor t{view_of(w), view_of(g), view_of(state[0]),
                                          out ? view_of(*out) : kernels::TensorView{}};
      kernels::fused_adagrad(kCPU)(&t, 1, {}, factor, params);
    };
    check_fused(c, make, fused, "fused_adagrad");
  }
}

TEST_CASE("fused optimizer kernels read the inverse scale and skip the step on found_inf") {
  Tensor w = from_vector<float>({1.0f, 2.0f}, {2}), buf = zeros({2});
  const Tensor g = from_vector<float>({64.0f, 128.0f}, {2});
  Tensor inv = scalar_f32(1.0 / 64.0), found = scalar_f32(1.0);
  kernels::FusedSgdParams params;
  params.lr = 0.5, params.momentum = 0.9;
  const kernels::TensorView iv = view_of(inv), fv = view_of(found);
  kernels::FusedStepInputs inputs;
  inputs.inv_scale = &iv, inputs.found_inf = &fv;
  const kernels::FusedSgdTensor t{view_of(w), view_of(g), view_of(buf), {}, true};
  kernels::fused_sgd(kCPU)(&t, 1, inputs, 1.0, params);
  hg::test::expect_close(hg::test::values(w), {1.0, 2.0}, 0, 0);  // skipped
  found.fill_(0.0);
  kernels::fused_sgd(kCPU)(&t, 1, inputs, 1.0, params);
  hg::test::expect_close(hg::test::values(w), {0.5, 1.0}, 0, 0);  // w - 0.5 * g / 64
  hg::test::expect_close(hg::test::values(buf), {1.0, 2.0}, 0, 0);
}

TEST_CASE("fused_sgd counts the step into count_applied: 1 - found_inf, once a call") {
  Tensor w = from_vector<float>({1.0f, 2.0f}, {2}), w2 = w.clone();
  const Tensor g = from_vector<float>({1.0f, 1.0f}, {2});
  Tensor found = scalar_f32(0.0), applied = scalar_f32(5.0);
  kernels::FusedSgdParams params;
  params.lr = 0.5;
  const kernels::TensorView fv = view_of(found), av = view_of(applied);
  kernels::FusedStepInputs inputs;
  inputs.found_inf = &fv, inputs.count_applied = &av;
  const kernels::FusedSgdTensor two[2] = {{view_of(w), view_of(g), {}, {}, false},
                                          {view_of(w2), view_of(g), {}, {}, false}};
  kernels::fused_sgd(kCPU)(two, 2, inputs, 1.0, params);  // two tensors, one count
  CHECK(applied.item<float>() == 6.0f);
  found.fill_(1.0);
  kernels::fused_sgd(kCPU)(two, 2, inputs, 1.0, params);  // skipped: counted as 0
  CHECK(applied.item<float>() == 6.0f);
  hg::test::expect_close(hg::test::values(w), {0.5, 1.5}, 0, 0);  // one step applied
  found.fill_(0.0);
  kernels::fused_sgd(kCPU)(two, 0, inputs, 1.0, params);  // no tensors: still a step to count
  CHECK(applied.item<float>() == 7.0f);
  inputs.found_inf = nullptr;  // no flag: never skipped
  kernels::fused_sgd(kCPU)(two, 1, inputs, 1.0, params);
  CHECK(applied.item<float>() == 8.0f);
}

TEST_CASE("fused_rmsprop counts the step into count_applied as fused_sgd does") {
  Tensor w = from_vector<float>({1.0f, 2.0f}, {2}), square_avg = zeros({2});
  const Tensor g = from_vector<float>({1.0f, 1.0f}, {2});
  Tensor found = scalar_f32(1.0), applied = scalar_f32(5.0);
  kernels::FusedRmspropParams params;
  params.lr = 0.5, params.alpha = 0.5, params.eps = 0.0;
  const kernels::TensorView fv = view_of(found), av = view_of(applied);
  kernels::FusedStepInputs inputs;
  inputs.found_inf = &fv, inputs.count_applied = &av;
  const kernels::FusedRmspropTensor one{view_of(w), view_of(g), view_of(square_avg), {}, {}, {}};
  kernels::fused_rmsprop(kCPU)(&one, 1, inputs, 1.0, params);  // skipped: counted as 0
  CHECK(applied.item<float>() == 5.0f);
  CHECK(square_avg.abs().sum().item<float>() == 0.0f);  // and nothing written
  found.fill_(0.0);
  kernels::fused_rmsprop(kCPU)(&one, 1, inputs, 1.0, params);
  kernels::fused_rmsprop(kCPU)(&one, 0, inputs, 1.0, params);  // no tensors: still counted
  CHECK(applied.item<float>() == 7.0f);
  // square_avg = 0.5 * 1 = 0.5; w -= 0.5 * 1 / sqrt(0.5)
  hg::test::expect_close(hg::test::values(w),
                         {1.0 - 0.5 / std::sqrt(0.5), 2.0 - 0.5 / std::sqrt(0.5)}, 1e-6, 0);
}

TEST_CASE("fused optimizer kernels take the lr from memory when given, not from the params") {
  const Tensor g = from_vector<float>({1.0f, -2.0f}, {2}), lr = full({1}, 0.25, kFloat64);
  const kernels::TensorView lv = view_of(lr);
  kernels::FusedStepInputs inputs;
  inputs.lr = &lv;
  Tensor w = from_vector<float>({1.0f, 2.0f}, {2});
  kernels::FusedSgdParams sgd;
  sgd.lr = 99.0;  // ignored
  const kernels::FusedSgdTensor t{view_of(w), view_of(g), {}, {}, false};
  kernels::fused_sgd(kCPU)(&t, 1, inputs, 1.0, sgd);
  hg::test::expect_close(hg::test::values(w), {0.75, 2.5}, 0, 0);  // w - 0.25 * g
  // Adam: the result of params.lr = 0.25, bit for bit
  Tensor w1 = from_vector<float>({1.0f, 2.0f}, {2}), w2 = w1.clone();
  Tensor m1 = zeros({2}), v1 = zeros({2}), m2 = zeros({2}), v2 = zeros({2});
  kernels::FusedAdamParams adam;
  adam.lr = 0.25, adam.weight_decay = 0.1;
  const kernels::FusedAdamTensor t1{view_of(w1), view_of(g), view_of(m1), view_of(v1), {}, {}};
  kernels::fused_adam(kCPU)(&t1, 1, {}, 1.0, adam);
  adam.lr = 99.0;
  const kernels::FusedAdamTensor t2{view_of(w2), view_of(g), view_of(m2), view_of(v2), {}, {}};
  kernels::fused_adam(kCPU)(&t2, 1, inputs, 1.0, adam);
  CHECK(hg::test::values(w2) == hg::test::values(w1));
}
