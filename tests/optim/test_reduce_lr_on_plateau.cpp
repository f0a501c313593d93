// ReduceLROnPlateau: the lrs PyTorch 1.13's scheduler sets for the same metrics (min and max
// modes, relative and absolute thresholds, cooldown, per-group min_lr, NaN metrics), its state
// dict, and its errors.
#include <cmath>
#include <vector>

#include "test_util.h"

using namespace hg;
using hg::test::expect_close;
using hg::test::expect_error;
using optim::ReduceLROnPlateau;
using optim::ReduceLROnPlateauOptions;

namespace {

// Two groups, lr 1 and 0.5, as the reference script's SGD.
struct TwoGroups {
  Tensor a = zeros({1}).requires_grad_(), b = zeros({1}).requires_grad_();
  optim::SGD sgd{std::vector<optim::ParamGroup>{optim::ParamGroup({a}),
                                                optim::ParamGroup({b}, optim::SGDOptions(0.5))},
                 optim::SGDOptions(1.0)};
};

// The lrs of both groups after each step.
std::vector<std::vector<double>> run(ReduceLROnPlateau& plateau,
                                     const std::vector<double>& metrics) {
  std::vector<std::vector<double>> lrs(2);
  for (const double metric : metrics) {
    plateau.step(metric);
    lrs[0].push_back(plateau.get_last_lr()[0]);
    lrs[1].push_back(plateau.get_last_lr()[1]);
  }
  return lrs;
}

}  // namespace

TEST_CASE("ReduceLROnPlateau: PyTorch's lrs in min mode with cooldown and per-group min_lr") {
  // torch 1.13: ReduceLROnPlateau(opt, patience=2, factor=0.5, cooldown=1, min_lr=[0.1, 0.2],
  // threshold=0.01), then step(m) for each m
  TwoGroups model;
  ReduceLROnPlateau plateau(model.sgd, ReduceLROnPlateauOptions()
                                           .patience(2)
                                           .factor(0.5)
                                           .cooldown(1)
                                           .min_lr({0.1, 0.2})
                                           .threshold(0.01));
  const auto lrs = run(plateau, {1.0, 0.9, 0.895, 0.899, 0.91, 0.92, 0.89, 0.95, 0.96, 0.97, 0.98,
                                 0.99, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0});
  expect_close(lrs[0],
               {1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25,
                0.125, 0.125, 0.125},
               0, 1e-15);
  expect_close(lrs[1],
               {0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2,
                0.2, 0.2},
               0, 1e-15);
  CHECK(plateau.best() == 0.5);
  CHECK(plateau.num_bad_epochs() == 1);
  CHECK(plateau.cooldown_counter() == 0);
  CHECK(plateau.last_epoch() == 18);
  CHECK(model.sgd.param_groups()[0].lr() == 0.125);  // the optimizer's own lrs
}

TEST_CASE("ReduceLROnPlateau: PyTorch's lrs in max mode with an absolute threshold and a NaN") {
  // torch 1.13: mode='max', threshold_mode='abs', threshold=1.0, patience=1, factor=0.3
  TwoGroups model;
  ReduceLROnPlateau plateau(model.sgd,
                            ReduceLROnPlateauOptions()
                                .mode(ReduceLROnPlateauOptions::Mode::Max)
                                .threshold_mode(ReduceLROnPlateauOptions::ThresholdMode::Abs)
                                .threshold(1.0)
                                .patience(1)
                                .factor(0.3));
  const auto lrs = run(plateau, {50, 60, 60.5, 60.9, 61.2, 61.0, 70, 70, 70, 70, 70, 70, NAN, 71});
  expect_close(lrs[0],
               {1.0, 1.0, 1.0, 0.3, 0.3, 0.3, 0.3, 0.3, 0.09, 0.09, 0.027, 0.027, 0.0081, 0.0081},
               0, 1e-15);
  expect_close(
      lrs[1],
      {0.5, 0.5, 0.5, 0.15, 0.15, 0.15, 0.15, 0.15, 0.045, 0.045, 0.0135, 0.0135, 0.00405, 0.00405},
      0, 1e-15);
  CHECK(plateau.best() == 70.0);
}

TEST_CASE("ReduceLROnPlateau: state dict, eps, and errors") {
  TwoGroups model;
  ReduceLROnPlateau plateau(model.sgd, ReduceLROnPlateauOptions().patience(0).factor(0.5));
  CHECK(plateau.get_last_lr() == std::vector<double>{1.0, 0.5});  // before any step
  plateau.step(1.0);
  plateau.step(2.0);  // worse: patience 0 reduces at once
  CHECK(plateau.get_last_lr() == std::vector<double>{0.5, 0.25});
  const optim::SchedulerStateDict saved = plateau.state_dict();
  CHECK(saved.at("best") == 1.0);
  CHECK(saved.at("last_epoch") == 2.0);
  // a fresh scheduler with the saved state continues where the first one was
  TwoGroups other;
  ReduceLROnPlateau resumed(other.sgd, ReduceLROnPlateauOptions().patience(0).factor(0.5));
  resumed.load_state_dict(saved);
  CHECK(resumed.best() == 1.0);
  CHECK(resumed.last_epoch() == 2);
  resumed.step(0.5);  // better: no reduction
  CHECK(resumed.get_last_lr() == std::vector<double>{1.0, 0.5});
  optim::SchedulerStateDict bad = saved;
  bad.erase("best");
  expect_error([&] { resumed.load_state_dict(bad); }, {"ReduceLROnPlateau", "\"best\""});
  bad = saved;
  bad["num_bad_epochs"] = -1;
  expect_error([&] { resumed.load_state_dict(bad); }, {"num_bad_epochs -1"});
  CHECK(resumed.last_epoch() == 3);  // unchanged by the refused dicts
  // a reduction smaller than eps is not made
  TwoGroups tiny;
  tiny.sgd.param_groups()[0].set_lr(1e-9);
  ReduceLROnPlateau small(tiny.sgd, ReduceLROnPlateauOptions().patience(0));
  small.step(1.0);
  small.step(1.0);
  CHECK(small.get_last_lr() == std::vector<double>{1e-9, 0.05});
  // options
  expect_error([&] { ReduceLROnPlateau(model.sgd, ReduceLROnPlateauOptions().factor(1.0)); },
               {"ReduceLROnPlateau", "factor", "[0, 1)"});
  expect_error([&] { ReduceLROnPlateau(model.sgd, ReduceLROnPlateauOptions().patience(-1)); },
               {"patience"});
  expect_error(
      [&] {
        ReduceLROnPlateau(model.sgd, ReduceLROnPlateauOptions().min_lr({0, 0, 0}));
      },
      {"one min_lr or one per parameter group (2), got 3"});
  expect_error([&] { ReduceLROnPlateau(model.sgd, ReduceLROnPlateauOptions().min_lr(-1.0)); },
               {"min_lr"});
}
