// CosineAnnealingWarmRestarts, PolynomialLR, ConstantLR and LambdaLR: the lr sequences of
// PyTorch 1.13's schedulers (SGD with lr 0.5, one optimizer step per scheduler step), per-group
// lambdas, state_dict round trips, option errors.
#include <cmath>
#include <vector>

#include "optim_util.h"

using namespace hg;
using hg::test::expect_close;
using hg::test::expect_error;

namespace {

// The lr of the first group at epochs 0 .. n-1.
template <class MakeScheduler>
std::vector<double> schedule_lrs(int n, MakeScheduler make) {
  Tensor w = zeros({1}).requires_grad_();
  optim::SGD opt({w}, optim::SGDOptions(0.5));
  auto scheduler = make(opt);
  std::vector<double> lrs{opt.param_groups()[0].lr()};
  for (int i = 1; i < n; ++i) {
    w.set_grad(ones({1}));
    opt.step();
    scheduler.step();
    lrs.push_back(opt.param_groups()[0].lr());
  }
  return lrs;
}

}  // namespace

TEST_CASE("CosineAnnealingWarmRestarts: PyTorch's lrs, restarts on their epochs") {
  // torch: CosineAnnealingWarmRestarts(opt, 3, 2, 0.01): cycles of 3, 6, 12 epochs
  expect_close(schedule_lrs(14,
                            [](optim::Optimizer& o) {
                              return optim::CosineAnnealingWarmRestarts(o, 3, 2, 0.01);
                            }),
               {0.5, 0.3775, 0.13250000000000006, 0.5, 0.4671762239271875, 0.3775, 0.255,
                0.13250000000000006, 0.04282377607281252, 0.5, 0.4916518274408217,
                0.4671762239271875, 0.4282411613907041, 0.3775},
               1e-15, 1e-14);
  expect_close(
      schedule_lrs(14,
                   [](optim::Optimizer& o) { return optim::CosineAnnealingWarmRestarts(o, 4); }),
      {0.5, 0.42677669529663687, 0.25, 0.07322330470336313, 0.5, 0.42677669529663687, 0.25,
       0.07322330470336313, 0.5, 0.42677669529663687, 0.25, 0.07322330470336313, 0.5,
       0.42677669529663687},
      1e-15, 1e-14);
}

TEST_CASE("PolynomialLR, ConstantLR, LambdaLR: PyTorch's lrs") {
  expect_close(schedule_lrs(10, [](optim::Optimizer& o) { return optim::PolynomialLR(o, 6, 2.0); }),
               {0.5, 0.34722222222222227, 0.2222222222222223, 0.12500000000000003,
                0.05555555555555558, 0.013888888888888886, 0.0, 0.0, 0.0, 0.0},
               1e-15, 1e-14);
  CHECK(schedule_lrs(6, [](optim::Optimizer& o) { return optim::ConstantLR(o, 0.25, 3); }) ==
        std::vector<double>{0.125, 0.125, 0.125, 0.5, 0.5, 0.5});
  expect_close(schedule_lrs(6,
                            [](optim::Optimizer& o) {
                              return optim::LambdaLR(
                                  o, [](int64_t epoch) { return std::pow(0.9, epoch); });
                            }),
               {0.5, 0.45, 0.405, 0.36450000000000005, 0.32805, 0.29524500000000004}, 1e-15, 1e-14);
}

TEST_CASE("LambdaLR: one function per group, state_dict, errors") {
  Tensor a = zeros({1}).requires_grad_(), b = zeros({1}).requires_grad_();
  optim::SGD opt(std::vector<optim::ParamGroup>{{{a}}, {{b}, optim::SGDOptions(0.2)}},
                 optim::SGDOptions(0.1));
  optim::LambdaLR per_group(opt, std::vector<optim::LambdaLR::Lambda>{
                                     [](int64_t e) { return 1.0 / (1.0 + static_cast<double>(e)); },
                                     [](int64_t e) { return e < 2 ? 0.0 : 1.0; }});
  per_group.step();
  per_group.step();
  expect_close(per_group.get_last_lr(), {0.1 / 3.0, 0.2}, 1e-16, 1e-15);
  // a restored scheduler (the same functions) continues from the saved epoch
  const optim::SchedulerStateDict saved = per_group.state_dict();
  per_group.step();
  per_group.load_state_dict(saved);
  expect_close({opt.param_groups()[0].lr()}, {0.1 / 3.0}, 1e-16, 1e-15);
  expect_error(
      [&] {
        optim::LambdaLR(opt, std::vector<optim::LambdaLR::Lambda>{[](int64_t) { return 1.0; }});
      },
      {"LambdaLR", "1 functions for 2 parameter groups"});
  expect_error([&] { optim::LambdaLR(opt, [](int64_t) { return -1.0; }); },
               {"LambdaLR", "returned -1", "epoch 0"});
  expect_error([&] { optim::LambdaLR(opt, optim::LambdaLR::Lambda()); },
               {"LambdaLR", "group 0", "empty"});
  expect_error([&] { optim::CosineAnnealingWarmRestarts(opt, 0); },
               {"CosineAnnealingWarmRestarts", "T_0", "0"});
  expect_error([&] { optim::CosineAnnealingWarmRestarts(opt, 2, 0); },
               {"CosineAnnealingWarmRestarts", "T_mult", "0"});
  expect_error([&] { optim::PolynomialLR(opt, 0); }, {"PolynomialLR", "total_iters", "0"});
  expect_error([&] { optim::ConstantLR(opt, 1.5); }, {"ConstantLR", "factor", "1.5"});
}
