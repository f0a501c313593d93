// kl_div (autograd/regression_loss_ops.cpp): values and gradients against PyTorch 1.13 for each
// reduction and target form, a zero target's finite gradient, 16-bit and autocast, errors.
#include <cmath>
#include <vector>

#include "grad_util.h"

using namespace hg;
using hg::test::check_grad;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::values;

namespace {

Tensor kl_input() {
  return from_vector<double>({-1.5, -0.5, -2.0, -0.25, -3.0, -0.125, -1.0, -0.75}, {2, 4},
                             kFloat64);
}
Tensor kl_target() {
  return from_vector<double>({0.25, 0.0, 0.5, 0.25, 0.125, 0.375, 0.0, 0.5}, {2, 4}, kFloat64);
}
Tensor kl_upstream() {
  return from_vector<double>({0.5, -1.0, 2.0, 1.5, -0.5, 1.0, 0.25, -2.0}, {2, 4}, kFloat64);
}

}  // namespace

TEST_CASE("kl_div: PyTorch's values and gradients") {
  // torch 1.13: F.kl_div(x, t, reduction=..., log_target=...), float64
  Tensor x = kl_input().requires_grad_(), t = kl_target().requires_grad_();
  const Tensor none = kl_div(x, t, Reduction::None);
  (none * kl_upstream()).sum().backward();
  expect_close(values(none),
               {0.028426409720027357, 0.0, 0.6534264097200273, -0.28407359027997264,
                0.11506980729002053, -0.3209359698793973, 0.0, 0.028426409720027357},
               1e-14, 1e-14);
  CHECK(values(x.grad()) ==
        std::vector<double>{-0.125, 0.0, -1.0, -0.375, 0.0625, -0.375, 0.0, 1.0});
  // where t > 0 torch's target gradient, g (log t + 1 - x); where t = 0 torch's is NaN, ours
  // the guarded branch's -g x
  expect_close(values(t.grad()),
               {0.5568528194400547, -0.5, 4.613705638880109, -0.20444154167983575,
                -0.9602792291600821, 0.1441707469882738, 0.25, -2.113705638880109},
               1e-14, 1e-14);

  x.grad().zero_();
  const Tensor mean = kl_div(x, t);
  mean.backward();
  expect_close({mean.item<double>()}, {0.027542434536341573}, 1e-15, 1e-14);
  CHECK(values(x.grad()) ==
        std::vector<double>{-0.03125, 0.0, -0.0625, -0.03125, -0.015625, -0.046875, 0.0, -0.0625});
  // torch's "batchmean": the sum over the batch size
  expect_close({(kl_div(x, t, Reduction::Sum) / 2.0).item<double>()}, {0.11016973814536629}, 1e-15,
               1e-14);

  Tensor lx = kl_input().requires_grad_(), lt = kl_target().requires_grad_();
  const Tensor log_sum = kl_div(lx, lt, Reduction::Sum, /*log_target=*/true);
  log_sum.backward();
  expect_close({log_sum.item<double>()}, {14.84034657581583}, 1e-13, 1e-14);
  expect_close(values(lx.grad()),
               {-1.2840254166877414, -1.0, -1.6487212707001282, -1.2840254166877414,
                -1.1331484530668263, -1.4549914146182013, -1.0, -1.6487212707001282},
               1e-14, 1e-14);
  expect_close(values(lt.grad()),
               {3.5310698958912887, 1.5, 5.770524447450449, 1.926038125031612, 4.674237368900658,
                2.182487121927302, 2.0, 3.7096228590752887},
               1e-14, 1e-14);
}

TEST_CASE("kl_div: gradcheck, a negative target is NaN, 16-bit and autocast, errors") {
  manual_seed(44);
  const Tensor x = hg::test::leaf({3, 5});
  check_grad([](const std::vector<Tensor>& in) { return kl_div(in[0], in[1], Reduction::Sum); },
             {x, hg::test::leaf_in({3, 5}, 0.1, 1.0)});
  check_grad(
      [](const std::vector<Tensor>& in) { return kl_div(in[0], in[1], Reduction::Mean, true); },
      {x, hg::test::leaf({3, 5})});
  CHECK(std::isnan(kl_div(zeros({1}, kFloat64), full({1}, -0.5, kFloat64)).item<double>()));

  const auto fn = [](const std::vector<Tensor>& in) {
    return kl_div(in[0], in[1], Reduction::None);
  };
  const std::vector<Tensor> inputs{log_softmax(randn({4, 6}, kFloat64), 1),
                                   softmax(randn({4, 6}, kFloat64), 1)};
  hg::test::check_lowp(fn, inputs, kFloat16, 2e-3, "kl_div fp16");
  hg::test::check_lowp(fn, inputs, kBFloat16, 1.6e-2, "kl_div bf16");
  {
    amp::AutocastGuard autocast(kFloat16);  // in PyTorch's fp32 list
    CHECK(kl_div(randn({2, 3}, kFloat16), rand({2, 3}, kFloat16)).dtype() == kFloat32);
  }
  CHECK(nn::KLDivLoss(Reduction::Sum, true).describe() ==
        "KLDivLoss(reduction=sum, log_target=true)");
  CHECK(hg::test::same_bits(nn::KLDivLoss()(inputs[0], inputs[1]), kl_div(inputs[0], inputs[1])));
  expect_error(
      [] {
        kl_div(zeros({2, 3}), zeros({3, 2}));
      },
      {"kl_div", "[2, 3]", "[3, 2]", "differ in shape"});
  expect_error([] { kl_div(zeros({2}, kInt64), zeros({2})); }, {"kl_div", "int64"});
}
