// Adam and AdamW against torch.optim (reference values: tools/reference/optim_reference.py).
#include "optim_util.h"

using namespace hg;
using namespace hg::test::optim_ref;
using hg::optim::Adam;
using hg::optim::AdamOptions;
using hg::optim::AdamW;
using hg::optim::AdamWOptions;
using hg::test::check_reference;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::maker;
using hg::test::row;
using hg::test::values;

TEST_CASE("Adam: steps match torch.optim.Adam (bias corrections, eps after sqrt)") {
  check_reference(maker<Adam>(AdamOptions(0.01)), kAdamF64, kAdamF32);
}

TEST_CASE("Adam: betas, eps and weight decay (L2, added to the gradient) match PyTorch") {
  check_reference(maker<Adam>(AdamOptions(0.01).betas({0.8, 0.99}).eps(1e-6).weight_decay(0.1)),
                  kAdamWeightDecayF64, kAdamWeightDecayF32);
}

TEST_CASE("Adam: AMSGrad matches PyTorch") {
  check_reference(maker<Adam>(AdamOptions(0.01).amsgrad(true)), kAdamAmsgradF64, kAdamAmsgradF32);
}

TEST_CASE("AdamW: decoupled weight decay matches torch.optim.AdamW") {
  check_reference(maker<AdamW>(AdamWOptions(0.01)), kAdamWF64, kAdamWF32);
  check_reference(maker<AdamW>(AdamWOptions(0.02).weight_decay(0.3).amsgrad(true)),
                  kAdamWAmsgradF64, kAdamWAmsgradF32);
}

TEST_CASE("Adam: gradients from backward() on a quadratic loss match PyTorch") {
  Tensor w = from_vector(row(kInit), kFloat64).requires_grad_();
  const Tensor target = from_vector(row(kQuadraticTarget), kFloat64);
  Adam opt({w}, AdamOptions(0.05));
  for (int t = 0; t < kSteps; ++t) {
    opt.zero_grad();
    const Tensor diff = w - target;
    sum(diff * diff).backward();
    opt.step();
    expect_close(values(w), row(kQuadraticAdam[t]), 1e-12, 1e-12);
  }
  CHECK(opt.state(w)->step == kSteps);
}

TEST_CASE("Adam/AdamW: defaults as in PyTorch") {
  const AdamOptions adam;
  CHECK(adam.lr() == 1e-3);
  CHECK(adam.betas()[0] == 0.9);
  CHECK(adam.betas()[1] == 0.999);
  CHECK(adam.eps() == 1e-8);
  CHECK(adam.weight_decay() == 0.0);
  CHECK(!adam.amsgrad());
  CHECK(AdamWOptions().weight_decay() == 1e-2);
  CHECK(AdamWOptions(0.5).lr() == 0.5);
}

TEST_CASE("Adam: state is fp32 for fp32/16-bit parameters and fp64 for fp64 ones") {
  for (DType d : {kFloat32, kFloat16, kBFloat16, kFloat64}) {
    CAPTURE(d);
    Tensor w = ones({4}, d).requires_grad_();
    Adam opt({w}, AdamOptions(0.1).amsgrad(true));
    w.set_grad(full({4}, 0.5, d));
    opt.step();
    const optim::ParamState* st = opt.state(w);
    REQUIRE(st != nullptr);
    CHECK(st->step == 1);
    for (const char* name : {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}) {
      REQUIRE(st->buffers.count(name) == 1);
      CHECK(st->buffers.at(name).dtype() == (d == kFloat64 ? kFloat64 : kFloat32));
    }
    CHECK(w.dtype() == d);
    // First Adam step: w - lr * sign(g) (up to eps).
    expect_close(values(w), std::vector<double>(4, 0.9), d == kFloat64 ? 1e-7 : 4e-3, 0.0);
  }
}

TEST_CASE("Adam/AdamW: bad options raise hg::Error naming the option and its value") {
  Tensor w = zeros({3}).requires_grad_();
  expect_error([&] { Adam({w}, AdamOptions(-1.0)); }, {"Adam", "lr", "-1"});
  expect_error(
      [&] {
        Adam({w}, AdamOptions().betas({1.0, 0.999}));
      },
      {"Adam", "betas[0]", "1", "[0, 1)"});
  expect_error(
      [&] {
        Adam({w}, AdamOptions().betas({0.9, -0.5}));
      },
      {"Adam", "betas[1]", "-0.5", "[0, 1)"});
  expect_error([&] { Adam({w}, AdamOptions().eps(-1e-8)); }, {"Adam", "eps", "-1e-08"});
  expect_error([&] { AdamW({w}, AdamWOptions().weight_decay(-0.01)); },
               {"AdamW", "weight_decay", "-0.01"});
  expect_error([&] { AdamW({w}, AdamWOptions().betas({0.9, 1.0})); }, {"AdamW", "betas[1]"});
}

TEST_CASE("Adam: a non-finite gradient does not crash the step") {
  Tensor w = ones({3}).requires_grad_();
  Adam opt({w}, AdamOptions(0.1));
  w.set_grad(from_vector(std::vector<float>{1.0f, INFINITY, NAN}));
  CHECK_NOTHROW(opt.step());
  const auto v = values(w);
  CHECK(v[0] == doctest::Approx(0.9).epsilon(1e-6));
  CHECK(std::isnan(v[1]));  // inf / sqrt(inf^2) = NaN, as in PyTorch
  CHECK(std::isnan(v[2]));
}
