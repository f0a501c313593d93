// SGD against torch.optim.SGD (reference values: tools/reference/optim_reference.py).
#include "optim_util.h"

using namespace hg;
using namespace hg::test::optim_ref;
using hg::optim::SGD;
using hg::optim::SGDOptions;
using hg::test::check_reference;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::maker;
using hg::test::row;
using hg::test::values;

TEST_CASE("SGD: plain steps match torch.optim.SGD (fp64 and fp32)") {
  check_reference(maker<SGD>(SGDOptions(0.1)), kSgdPlainF64, kSgdPlainF32);
}

TEST_CASE("SGD: momentum matches PyTorch (first step buf = grad, no dampening)") {
  check_reference(maker<SGD>(SGDOptions(0.1).momentum(0.9)), kSgdMomentumF64, kSgdMomentumF32);
}

TEST_CASE("SGD: dampening matches PyTorch") {
  check_reference(maker<SGD>(SGDOptions(0.1).momentum(0.9).dampening(0.3)), kSgdDampeningF64,
                  kSgdDampeningF32);
}

TEST_CASE("SGD: nesterov matches PyTorch") {
  check_reference(maker<SGD>(SGDOptions(0.1).momentum(0.9).nesterov(true)), kSgdNesterovF64,
                  kSgdNesterovF32);
}

TEST_CASE("SGD: weight decay is added to the gradient first, as in PyTorch") {
  check_reference(maker<SGD>(SGDOptions(0.1).momentum(0.8).weight_decay(0.05)), kSgdWeightDecayF64,
                  kSgdWeightDecayF32);
}

TEST_CASE("SGD: parameter groups keep their own options") {
  Tensor a = from_vector(std::vector<double>(kInit, kInit + 3), kFloat64).requires_grad_();
  Tensor b = from_vector(std::vector<double>(kInit + 3, kInit + 6), kFloat64).requires_grad_();
  SGD opt({optim::ParamGroup({a}, SGDOptions(0.1).momentum(0.9)), optim::ParamGroup({b})},
          SGDOptions(0.01));
  REQUIRE(opt.param_groups().size() == 2);
  CHECK(opt.param_groups()[0].lr() == 0.1);
  CHECK(opt.param_groups()[1].lr() == 0.01);
  CHECK(opt.param_groups()[1].options_as<SGDOptions>().momentum() == 0.0);
  for (int t = 0; t < kSteps; ++t) {
    a.set_grad(from_vector(std::vector<double>(kGrads[t], kGrads[t] + 3), kFloat64));
    b.set_grad(from_vector(std::vector<double>(kGrads[t] + 3, kGrads[t] + 6), kFloat64));
    opt.step();
    std::vector<double> both = values(a);
    for (double v : values(b)) both.push_back(v);
    expect_close(both, row(kTwoGroups[t]), 1e-12, 1e-12);
  }
}

TEST_CASE("SGD: bad options raise hg::Error naming the option and its value") {
  Tensor w = zeros({3}).requires_grad_();
  expect_error([&] { SGD({w}, SGDOptions(-0.1)); }, {"SGD", "lr", "-0.1"});
  expect_error([&] { SGD({w}, SGDOptions(0.1).momentum(-0.5)); }, {"SGD", "momentum", "-0.5"});
  expect_error([&] { SGD({w}, SGDOptions(0.1).weight_decay(-1)); }, {"SGD", "weight_decay", "-1"});
  expect_error([&] { SGD({w}, SGDOptions(0.1).nesterov(true)); },
               {"SGD", "nesterov", "momentum > 0", "dampening == 0", "momentum 0"});
  expect_error([&] { SGD({w}, SGDOptions(0.1).momentum(0.9).dampening(0.1).nesterov(true)); },
               {"nesterov", "dampening 0.1"});
  expect_error([&] { SGD(std::vector<Tensor>{}, SGDOptions(0.1)); }, {"SGD", "empty"});
  SGD opt({w}, SGDOptions(0.1));
  expect_error([&] { opt.param_groups()[0].set_lr(-1e-3); }, {"lr", "-0.001"});
  // An option made invalid after construction is caught by the next step.
  opt.param_groups()[0].options_as<SGDOptions>().momentum(-2);
  w.set_grad(ones({3}));
  expect_error([&] { opt.step(); }, {"SGD", "momentum", "-2"});
}

TEST_CASE("SGD: a parameter whose gradient is undefined is skipped") {
  Tensor a = ones({2}).requires_grad_();
  Tensor b = ones({2}).requires_grad_();
  SGD opt({a, b}, SGDOptions(0.5).momentum(0.9));
  a.set_grad(full({2}, 2.0));
  opt.step();
  CHECK(values(a) == std::vector<double>{0.0, 0.0});
  CHECK(values(b) == std::vector<double>{1.0, 1.0});
  CHECK(opt.state(a) != nullptr);
  CHECK(opt.state(b) == nullptr);
}
