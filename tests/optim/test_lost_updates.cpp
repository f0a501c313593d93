// Optimizer::count_lost_updates: which nonzero updates a 16-bit parameter could not absorb.
#include "optim_util.h"

using namespace hg;
using hg::optim::Adam;
using hg::optim::AdamOptions;
using hg::optim::SGD;
using hg::optim::SGDOptions;
using hg::test::values;

namespace {

// Weights of 1.0 (fp16 ulp 2^-10, so updates below 2^-11 round away) with updates -lr * grad:
// element 0 gets 2^-13 (lost), element 1 gets 2^-8 (kept), element 2 gets 0 (no update).
std::vector<double> mixed_grads() { return {std::ldexp(1.0, -13), std::ldexp(1.0, -8), 0.0}; }

}  // namespace

TEST_CASE("lost updates: counts nonzero updates that leave the fp16 weight unchanged") {
  for (bool cpu_loops : {true, false}) {
    for (bool masters : {false, true}) {
      CAPTURE(cpu_loops);
      CAPTURE(masters);
      Tensor w = ones({3}, kFloat16).requires_grad_();
      SGD opt({w}, SGDOptions(1.0));
      opt.set_cpu_loops(cpu_loops);
      opt.set_master_weights(masters);
      opt.count_lost_updates(true);
      CHECK(opt.counts_lost_updates());
      w.set_grad(from_vector(mixed_grads(), kFloat16));
      opt.step();
      const optim::LostUpdateCount& last = opt.last_step_lost_updates();
      CHECK(last.elements == 3);
      CHECK(last.updated == 2);
      CHECK(last.lost == 1);
      CHECK(last.share() == doctest::Approx(0.5));
      CHECK(values(w) == std::vector<double>{1.0, 1.0 - std::ldexp(1.0, -8), 1.0});
      opt.step();
      CHECK(opt.total_lost_updates().lost == 2);
      CHECK(opt.total_lost_updates().updated == 4);
      CHECK(opt.last_step_lost_updates().lost == 1);
    }
  }
}

TEST_CASE("lost updates: the master keeps what the fp16 weight loses, until it shows") {
  // 2^-13 per step on 1.0 (fp16's spacing just below 1.0 is 2^-11): the master moves every
  // step, the fp16 weight stays at 1.0 for two steps (1 - 2^-12 is a tie, rounded to the even
  // 1.0) and moves to 1 - 2^-11 on the third.
  Tensor w = ones({1}, kFloat16).requires_grad_();
  SGD opt({w}, SGDOptions(1.0));
  opt.set_master_weights(true);
  opt.count_lost_updates(true);
  int64_t lost_steps = 0;
  for (int i = 0; i < 3; ++i) {
    w.set_grad(from_vector(std::vector<double>{std::ldexp(1.0, -13)}, kFloat16));
    opt.step();
    lost_steps += opt.last_step_lost_updates().lost;
  }
  CHECK(lost_steps == 2);
  CHECK(values(w)[0] == 1.0 - std::ldexp(1.0, -11));
}

TEST_CASE("lost updates: counting changes no result, and ignores fp32 parameters") {
  manual_seed(5);
  const Tensor init = randn({300}).to(kFloat16);
  const Tensor grad = (randn({300}) * 1e-3).to(kFloat16);
  auto run = [&](bool count) {
    Tensor w = init.clone().requires_grad_();
    Tensor f = randn({4}).requires_grad_();
    Adam opt({w, f}, AdamOptions(1e-3));
    opt.count_lost_updates(count);
    for (int i = 0; i < 3; ++i) {
      w.set_grad(grad);
      f.set_grad(ones({4}));
      opt.step();
    }
    if (count) CHECK(opt.total_lost_updates().elements == 3 * 300);
    return values(w);
  };
  CHECK(run(true) == run(false));
  // Off by default: nothing counted.
  Tensor w = ones({2}, kFloat16).requires_grad_();
  SGD opt({w}, SGDOptions(1.0));
  w.set_grad(ones({2}, kFloat16));
  opt.step();
  CHECK(opt.total_lost_updates().elements == 0);
}
