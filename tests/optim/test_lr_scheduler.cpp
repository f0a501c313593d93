// Learning-rate schedulers against torch.optim.lr_scheduler (reference values:
// tools/reference/optim_reference.py). PyTorch's StepLR, CosineAnnealingLR and LinearLR step
// recursively; halfgrad uses their closed forms, equal up to rounding (tolerance 1e-12).
#include "optim_util.h"

using namespace hg;
using namespace hg::test::optim_ref;
using hg::optim::AnnealStrategy;
using hg::optim::SGD;
using hg::optim::SGDOptions;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::row;

namespace {

// An SGD optimizer with one group per lr.
std::unique_ptr<SGD> make_sgd(const std::vector<double>& lrs) {
  std::vector<optim::ParamGroup> groups;
  for (double lr : lrs)
    groups.emplace_back(std::vector<Tensor>{zeros({1}).requires_grad_()}, SGDOptions(lr));
  return std::make_unique<SGD>(std::move(groups), SGDOptions(lrs[0]));
}

std::vector<double> group_lrs(const optim::Optimizer& opt) {
  std::vector<double> lrs;
  for (const auto& g : opt.param_groups()) lrs.push_back(g.lr());
  return lrs;
}

// get_last_lr() after construction and after each step, against expected rows.
template <size_t Rows, size_t Groups>
void check_sequence(optim::LRScheduler& sched, optim::Optimizer& opt,
                    const double (&expected)[Rows][Groups]) {
  for (size_t e = 0; e < Rows; ++e) {
    CAPTURE(e);
    if (e > 0) sched.step();
    CHECK(sched.last_epoch() == static_cast<int64_t>(e));
    expect_close(sched.get_last_lr(), row(expected[e]), 1e-12, 1e-12);
    CHECK(group_lrs(opt) == sched.get_last_lr());
  }
}

}  // namespace

TEST_CASE("StepLR: lr sequence matches PyTorch, per group") {
  auto opt = make_sgd({0.1, 0.5});
  optim::StepLR sched(*opt, 3, 0.1);
  check_sequence(sched, *opt, kStepLR);
}

TEST_CASE("MultiStepLR: lr sequence matches PyTorch, a repeated milestone counting twice") {
  auto opt = make_sgd({0.1, 0.4});
  optim::MultiStepLR sched(*opt, {9, 5, 2, 5}, 0.5);  // unsorted: sorted on construction
  check_sequence(sched, *opt, kMultiStepLR);
}

TEST_CASE("ExponentialLR: lr sequence matches PyTorch") {
  auto opt = make_sgd({0.3});
  optim::ExponentialLR sched(*opt, 0.9);
  check_sequence(sched, *opt, kExponentialLR);
}

namespace {
// The chain of tools/reference/optim_reference.py: 3 warm-up steps, 6 of cosine, then StepLR.
optim::SequentialLR warmup_cosine_steps(optim::Optimizer& opt) {
  return optim::SequentialLR(opt,
                             {std::make_shared<optim::LinearWarmup>(opt, 3, 0.25),
                              std::make_shared<optim::CosineAnnealingLR>(opt, 6, 0.001),
                              std::make_shared<optim::StepLR>(opt, 2, 0.5)},
                             {3, 9});
}
}  // namespace

TEST_CASE("SequentialLR: warm-up, cosine, then steps match PyTorch, and resume exactly") {
  auto opt = make_sgd({0.1, 0.2});
  optim::SequentialLR sched = warmup_cosine_steps(*opt);
  CHECK(sched.base_lrs() == std::vector<double>{0.1, 0.2});  // not the warm-up's 0.025
  check_sequence(sched, *opt, kSequentialLR);
  // the state is the chain's epoch and base lrs: a fresh chain on other lrs resumes exactly
  auto opt2 = make_sgd({0.7, 0.7});
  optim::SequentialLR resumed = warmup_cosine_steps(*opt2);
  auto replay = make_sgd({0.1, 0.2});
  optim::SequentialLR reference = warmup_cosine_steps(*replay);
  for (int i = 0; i < 5; ++i) reference.step();
  resumed.load_state_dict(reference.state_dict());
  for (int i = 0; i < 6; ++i) {
    reference.step(), resumed.step();
    CHECK(resumed.get_last_lr() == reference.get_last_lr());
  }
  // stages for the misuse checks
  auto warmup = std::make_shared<optim::LinearWarmup>(*opt, 3, 0.25);
  auto cosine = std::make_shared<optim::CosineAnnealingLR>(*opt, 6, 0.001);
  auto steps = std::make_shared<optim::StepLR>(*opt, 2, 0.5);
  expect_error(
      [&] {
        optim::SequentialLR(*opt, {warmup, cosine}, {});
      },
      {"SequentialLR", "2 schedulers need 1 milestones, got 0"});
  expect_error(
      [&] {
        optim::SequentialLR(*opt, {warmup, cosine, steps}, {4, 4});
      },
      {"SequentialLR", "milestones", "increasing"});
  auto other = make_sgd({0.1, 0.2});
  expect_error(
      [&] {
        optim::SequentialLR(*other, {warmup, cosine}, {3});
      },
      {"SequentialLR", "scheduler 0", "another optimizer"});
}

TEST_CASE("CosineAnnealingLR: lr sequence matches PyTorch, also past T_max") {
  auto opt = make_sgd({0.1});
  optim::CosineAnnealingLR sched(*opt, 10, 0.001);
  check_sequence(sched, *opt, kCosineAnnealingLR);
}

TEST_CASE("OneCycleLR: cos, linear and three-phase sequences match PyTorch") {
  SUBCASE("cos") {
    auto opt = make_sgd({0.1});
    optim::OneCycleLR sched(*opt, 0.1, 20);
    CHECK(sched.base_lrs() == std::vector<double>{0.1 / 25.0});
    check_sequence(sched, *opt, kOneCycleCos);
  }
  SUBCASE("linear") {
    auto opt = make_sgd({0.1});
    optim::OneCycleLR sched(*opt, 0.2, 15, 0.4, AnnealStrategy::Linear, 10.0, 100.0);
    check_sequence(sched, *opt, kOneCycleLinear);
  }
  SUBCASE("three phase") {
    auto opt = make_sgd({0.1});
    optim::OneCycleLR sched(*opt, 0.1, 20, 0.25, AnnealStrategy::Cos, 25.0, 1e4, true);
    check_sequence(sched, *opt, kOneCycleThreePhase);
  }
}

TEST_CASE("OneCycleLR: the total_steps-th step (after a loop's last optimizer step) is valid") {
  // A PyTorch-style loop of total_steps iterations: optimizer step, then scheduler step. The
  // linear anneal extrapolated to a negative lr there, which made the last step throw.
  for (const AnnealStrategy anneal : {AnnealStrategy::Linear, AnnealStrategy::Cos}) {
    auto opt = make_sgd({0.1});
    optim::OneCycleLR sched(*opt, 1.0, 4, 0.3, anneal);
    for (int i = 0; i < 4; ++i) sched.step();
    CHECK(sched.get_last_lr()[0] == doctest::Approx(1.0 / 25.0 / 1e4));  // min_lr, held
    expect_error([&] { sched.step(); }, {"OneCycleLR", "5", "total_steps is 4"});
  }
}

TEST_CASE("OneCycleLR: a warm-up of one step (pct_start * total_steps == 1) starts at the peak") {
  // PyTorch divides by zero here; the CIFAR-10 example met it with --warmup 0.2 over 5 steps.
  for (const bool three_phase : {false, true}) {
    auto opt = make_sgd({0.1});
    optim::OneCycleLR sched(*opt, 0.4, 5, 0.2, AnnealStrategy::Linear, 100.0, 1e4, three_phase);
    std::vector<double> lrs{sched.get_last_lr()[0]};
    for (int i = 0; i < 5; ++i) {
      sched.step();
      lrs.push_back(sched.get_last_lr()[0]);
    }
    const double low = 0.4 / 100.0 / 1e4;
    if (three_phase) {  // the second phase (back down to the start) is empty too
      CHECK(lrs[0] == doctest::Approx(0.4));
      CHECK(lrs[1] == doctest::Approx(0.004 + (low - 0.004) * 1.0 / 4.0));
    } else {
      CHECK(lrs[0] == doctest::Approx(0.4));
      CHECK(lrs[1] == doctest::Approx(0.4 + (low - 0.4) * 1.0 / 4.0));
    }
    CHECK(lrs[4] == doctest::Approx(low));
    CHECK(lrs[5] == doctest::Approx(low));  // the total_steps-th step holds it
  }
}

TEST_CASE("OneCycleLR: stepping past total_steps is an error that changes nothing") {
  auto opt = make_sgd({0.1});
  optim::OneCycleLR sched(*opt, 0.1, 5);
  for (int i = 0; i < 5; ++i) sched.step();  // epoch 5 == total_steps is allowed, as in PyTorch
  const double lr = opt->param_groups()[0].lr();
  expect_error([&] { sched.step(); }, {"OneCycleLR", "6", "total_steps is 5"});
  CHECK(sched.last_epoch() == 5);
  CHECK(opt->param_groups()[0].lr() == lr);
}

TEST_CASE("LinearWarmup: ramp matches PyTorch's LinearLR, then stays at base_lr") {
  auto opt = make_sgd({0.2});
  optim::LinearWarmup sched(*opt, 5, 0.25);
  check_sequence(sched, *opt, kLinearWarmup);
  auto from_zero = make_sgd({0.1});
  optim::LinearWarmup warm(*from_zero, 4, 0.0);
  CHECK(warm.get_last_lr()[0] == 0.0);
  warm.step();
  CHECK(warm.get_last_lr()[0] == doctest::Approx(0.025));
}

TEST_CASE("schedulers: state_dict resumes the sequence exactly") {
  auto opt = make_sgd({0.1, 0.3});
  optim::CosineAnnealingLR sched(*opt, 12, 0.002);
  for (int i = 0; i < 7; ++i) sched.step();
  const optim::SchedulerStateDict saved = sched.state_dict();
  CHECK(saved.at("last_epoch") == 7.0);
  CHECK(saved.at("base_lrs.1") == 0.3);
  std::vector<std::vector<double>> expected;
  for (int i = 0; i < 5; ++i) {
    sched.step();
    expected.push_back(sched.get_last_lr());
  }
  // A fresh optimizer whose lrs were already changed, and a fresh scheduler.
  auto opt2 = make_sgd({0.5, 0.5});
  optim::CosineAnnealingLR resumed(*opt2, 12, 0.002);
  resumed.load_state_dict(saved);
  CHECK(resumed.last_epoch() == 7);
  CHECK(resumed.base_lrs() == std::vector<double>{0.1, 0.3});
  for (int i = 0; i < 5; ++i) {
    resumed.step();
    CHECK(resumed.get_last_lr() == expected[static_cast<size_t>(i)]);  // bit for bit
    CHECK(group_lrs(*opt2) == expected[static_cast<size_t>(i)]);
  }
  expect_error(
      [&] {
        resumed.load_state_dict({{"last_epoch", 3.0}});
      },
      {"CosineAnnealingLR", "base_lrs.0"});
  CHECK(resumed.last_epoch() == 12);
}

TEST_CASE("schedulers: bad arguments raise hg::Error naming them") {
  auto opt = make_sgd({0.1});
  expect_error([&] { optim::StepLR(*opt, 0, 0.1); }, {"StepLR", "step_size", "0"});
  expect_error([&] { optim::StepLR(*opt, 2, -0.5); }, {"StepLR", "gamma", "-0.5"});
  expect_error([&] { optim::CosineAnnealingLR(*opt, 0); }, {"CosineAnnealingLR", "T_max"});
  expect_error([&] { optim::MultiStepLR(*opt, {3, -1}); }, {"MultiStepLR", "milestones", "-1"});
  expect_error([&] { optim::MultiStepLR(*opt, {3}, NAN); }, {"MultiStepLR", "gamma", "nan"});
  expect_error([&] { optim::ExponentialLR(*opt, -0.9); }, {"ExponentialLR", "gamma", "-0.9"});
  expect_error([&] { optim::OneCycleLR(*opt, 0.1, 0); }, {"OneCycleLR", "total_steps", "0"});
  expect_error([&] { optim::OneCycleLR(*opt, 0.1, 10, 1.5); }, {"OneCycleLR", "pct_start", "1.5"});
  expect_error(
      [&] {
        optim::OneCycleLR(*opt, std::vector<double>{0.1, 0.2}, 10);
      },
      {"OneCycleLR", "expected 1 values", "got 2"});
  expect_error([&] { optim::LinearWarmup(*opt, 0); }, {"LinearWarmup", "warmup_steps", "0"});
  expect_error([&] { optim::LinearWarmup(*opt, 3, 1.5); }, {"LinearWarmup", "start_factor"});
  CHECK(opt->param_groups()[0].lr() == 0.1);  // failed constructions changed nothing
}
