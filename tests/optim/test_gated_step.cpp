// Optimizer::step_unless_found_inf (optim/gated_step.cpp): which steps the device decides, that
// they match host-decided steps, and the bookkeeping settled afterwards.
#include "test_util.h"

using namespace hg;
using hg::test::expect_error;
using hg::test::values;

namespace {
Tensor flag(bool set) { return full({1}, set ? 1.0 : 0.0); }

// Two identical parameters: one for the gated optimizer, one for a host-stepped twin.
struct Twins {
  Tensor gated = randn({40}).requires_grad_();
  Tensor host = gated.detach().clone().requires_grad_();
  void set_grads(const Tensor& g) {
    gated.set_grad(g.clone());
    host.set_grad(g.clone());
  }
};
}  // namespace

TEST_CASE("gated step: SGD decides on the device, bit-identical to host-decided steps") {
  manual_seed(7);
  for (const bool nesterov : {false, true}) {
    Twins p;
    const auto options = optim::SGDOptions(0.1).momentum(0.9).nesterov(nesterov).weight_decay(0.01);
    optim::SGD gated({p.gated}, options), host({p.host}, options);
    for (bool skip : {true, false, true, false, false}) {
      p.set_grads(randn({40}));
      CHECK(gated.step_unless_found_inf(flag(skip)) == optim::GatedStep::OnDevice);
      if (!skip) host.step();
    }
    CHECK(values(p.gated) == values(p.host));
    CHECK(gated.steps_issued() == 5);
    CHECK(gated.steps_taken() == 3);  // settles: a readback of the run's skip count
    CHECK(gated.state(p.gated)->step == 3);
    CHECK(values(gated.state(p.gated)->buffers.at("momentum_buffer")) ==
          values(host.state(p.host)->buffers.at("momentum_buffer")));
  }
}

TEST_CASE("gated step: Adam, lost-update counting and strided parameters read the flag back") {
  manual_seed(8);
  Twins p;
  optim::Adam adam({p.gated}, optim::AdamOptions(0.01));
  p.set_grads(randn({40}));
  CHECK(adam.step_unless_found_inf(flag(true)) == optim::GatedStep::Skipped);
  CHECK(adam.state(p.gated) == nullptr);
  CHECK(adam.step_unless_found_inf(flag(false)) == optim::GatedStep::Stepped);
  CHECK(adam.state(p.gated)->step == 1);

  optim::SGD counting({p.host}, optim::SGDOptions(0.1));
  counting.count_lost_updates(true);
  CHECK(counting.step_unless_found_inf(flag(false)) == optim::GatedStep::Stepped);

  Tensor strided = randn({8, 2}).requires_grad_();
  Tensor column = strided.detach().select(1, 0).requires_grad_();  // a strided leaf
  optim::SGD sgd({column}, optim::SGDOptions(0.1));
  column.set_grad(ones({8}));
  CHECK(sgd.step_unless_found_inf(flag(false)) == optim::GatedStep::Stepped);
  expect_error([&] { (void)sgd.step_unless_found_inf(zeros({1}, kFloat64)); },
               {"step_unless_found_inf", "float32"});
}

TEST_CASE("gated step: dampening decides a first step on the host, later steps on the device") {
  Tensor p = ones({4}).requires_grad_();
  optim::SGD sgd({p}, optim::SGDOptions(0.1).momentum(0.9).dampening(0.5));
  p.set_grad(ones({4}));
  CHECK(sgd.step_unless_found_inf(flag(true)) == optim::GatedStep::Skipped);   // no buffer yet
  CHECK(sgd.step_unless_found_inf(flag(false)) == optim::GatedStep::Stepped);  // creates it
  CHECK(sgd.step_unless_found_inf(flag(true)) == optim::GatedStep::OnDevice);
  CHECK(sgd.steps_taken() == 1);
}

TEST_CASE("gated step: parameter sets that change start new runs, all settled exactly") {
  Tensor a = ones({3}).requires_grad_(), b = ones({3}).requires_grad_();
  optim::SGD sgd({a, b}, optim::SGDOptions(0.5).momentum(0.9));
  a.set_grad(ones({3}));
  (void)sgd.step_unless_found_inf(flag(true));  // a only, skipped twice
  (void)sgd.step_unless_found_inf(flag(true));
  b.set_grad(ones({3}));
  (void)sgd.step_unless_found_inf(flag(false));  // both, applied
  a.set_grad(Tensor());
  (void)sgd.step_unless_found_inf(flag(false));  // b only
  CHECK(sgd.state(a)->step == 1);
  CHECK(sgd.state(b)->step == 2);
  CHECK(sgd.steps_taken() == 2);
  CHECK(sgd.steps_issued() == 4);
  // a's first applied step was a first step on the host's terms: buf = d, w = 1 - 0.5
  CHECK(values(a) == std::vector<double>(3, 0.5));
  CHECK(values(sgd.state(a)->buffers.at("momentum_buffer")) == std::vector<double>(3, 1.0));
}
