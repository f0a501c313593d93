// Autocast: the policy table's effect on outputs, casts as taped ops, the weight-cast cache,
// custom and banned ops, and the plan dump.
#include <sstream>

#include "test_util.h"

using namespace hg;
using hg::test::expect_error;
using hg::test::values;

TEST_CASE("autocast: 16-bit matmul/linear/conv, fp32 softmax/losses/sums, relu passes through") {
  manual_seed(1);
  Tensor x = randn({4, 8});
  Tensor w = randn({3, 8}).requires_grad_();
  amp::AutocastGuard ac(kFloat16);
  Tensor y = linear(x, w);
  CHECK(y.dtype() == kFloat16);
  CHECK(matmul(x, w.t()).dtype() == kFloat16);
  CHECK(conv2d(randn({1, 2, 5, 5}), randn({4, 2, 3, 3})).dtype() == kFloat16);
  CHECK(relu(y).dtype() == kFloat16);
  CHECK(softmax(y, 1).dtype() == kFloat32);
  CHECK(log_softmax(y, 1).dtype() == kFloat32);
  CHECK(sum(y).dtype() == kFloat32);
  CHECK(mean(y).dtype() == kFloat16);  // as PyTorch: not on its lists (it accumulates in float)
  CHECK(exp(y).dtype() == kFloat32);
  CHECK(square(y).dtype() == kFloat32);  // PyTorch's square is pow(x, 2), an fp32 op
  CHECK(cross_entropy(y, from_vector(std::vector<int64_t>{0, 1, 2, 0}, kInt64)).dtype() ==
        kFloat32);
  CHECK((y + x.narrow(1, 0, 3)).dtype() == kFloat32);  // mixed add promotes
  CHECK((y * y).dtype() == kFloat16);
  CHECK(max_pool2d(randn({1, 1, 4, 4}, kFloat16), {2, 2}).dtype() == kFloat16);
}

TEST_CASE("autocast: bf16 regions and nesting restore the previous state") {
  CHECK_FALSE(amp::is_autocast_enabled());
  {
    amp::AutocastGuard outer(kBFloat16);
    CHECK(linear(randn({2, 3}), randn({4, 3})).dtype() == kBFloat16);
    {
      amp::AutocastGuard off(kFloat16, false);
      CHECK(linear(randn({2, 3}), randn({4, 3})).dtype() == kFloat32);
    }
    CHECK(amp::autocast_dtype() == kBFloat16);
    CHECK(amp::is_autocast_enabled());
  }
  CHECK_FALSE(amp::is_autocast_enabled());
  expect_error([] { amp::AutocastGuard bad(kFloat64); }, {"AutocastGuard", "float64"});
}

TEST_CASE("autocast: a weight written before the region (an optimizer step) is still cast once") {
  Tensor w = randn({4, 4}).requires_grad_();
  {
    NoGradGuard no_grad;
    w.add_(ones({4, 4}));  // bumps the weight's version, as every optimizer step does
  }
  amp::AutocastGuard ac(kFloat16);
  (void)linear(linear(randn({2, 4}), w), w);
  CHECK(amp::autocast_stats().cache_hits == 1);  // was 0: the cache compared the copy's version
}

TEST_CASE("autocast: fp32 weights get fp32 gradients, one CastBackward per weight") {
  manual_seed(2);
  Tensor w = randn({4, 4}).requires_grad_();
  Tensor x = randn({2, 4});
  Tensor loss;
  {
    amp::AutocastGuard ac(kFloat16);
    Tensor h = linear(relu(linear(x, w)), w);  // the same weight used twice
    loss = cross_entropy(h, from_vector(std::vector<int64_t>{1, 3}, kInt64));
    CHECK(amp::autocast_stats().cache_hits == 1);
  }
  std::ostringstream tape;
  autograd::print_tape(loss, tape);
  const std::string s = tape.str();
  size_t casts = 0;  // nodes (lines) named CastBackward, not edges pointing at one
  std::istringstream lines(s);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string id, name;
    words >> id >> name;
    casts += name == "CastBackward";
  }
  // the weight's cast, shared by both uses; cross_entropy widens the fp16 logits in its kernels
  CHECK(casts == 1);
  CHECK(loss.dtype() == kFloat32);
  CHECK(s.find("LinearBackward       -> [2, 4] float16") != std::string::npos);
  loss.backward();
  CHECK(w.grad().dtype() == kFloat32);
  CHECK(w.grad().sizes() == Shape{4, 4});
}

TEST_CASE("autocast: a no-grad forward in the region does not cut the weights' gradient") {
  // A validation forward under NoGradGuard, then a training forward, in one autocast region:
  // the no-grad cast of the weight must not be reused by the training forward (it has no
  // CastBackward, so the weight would silently get no gradient: PyTorch issue 112583).
  Tensor w = randn({4, 3}).requires_grad_();
  const Tensor gamma = ones({4}).requires_grad_();
  const Tensor x = randn({2, 3});
  amp::AutocastGuard ac(kFloat16);
  {
    NoGradGuard no_grad;
    (void)layer_norm(linear(x, w), {4}, gamma);
  }
  layer_norm(linear(x, w), {4}, gamma).pow(2.0).sum().backward();
  REQUIRE(w.grad().defined());
  CHECK(w.grad().dtype() == kFloat32);
  // and the other way round: a taped cast is reused by a later no-grad forward
  const int64_t hits = amp::autocast_stats().cache_hits;
  {
    NoGradGuard no_grad;
    (void)linear(x, w);
  }
  CHECK(amp::autocast_stats().cache_hits == hits + 1);
}

TEST_CASE("autocast: saved activations are the 16-bit copies") {
  Tensor w = randn({3, 5}).requires_grad_();
  amp::AutocastGuard ac(kFloat16);
  Tensor y = linear(randn({2, 5}), w);
  // the weight's cast is what LinearBackward depends on: its input edge is the cast node
  CHECK(y.grad_fn()->next_edges[1].node->name() == "CastBackward");
  CHECK(y.grad_fn()->next_edges[1].node->outputs[0].dtype == kFloat16);
}

TEST_CASE("autocast: custom ops need a policy, banned ops name the safe one") {
  Tensor a = randn({2});
  {
    amp::AutocastGuard ac(kFloat16);
    expect_error([&] { (void)amp::autocast_custom("my_op", {a}); },
                 {"my_op", "no cast policy", "register_policy"});
    amp::register_policy("my_lowp_op", amp::CastPolicy::LowerPrecision);
    CHECK(amp::autocast_custom("my_lowp_op", {a})[0].dtype() == kFloat16);
    expect_error([&] { (void)amp::autocast(amp::OpId::BinaryCrossEntropy, a); },
                 {"binary_cross_entropy of [2] float32", "float16", "with_logits"});
  }
  CHECK(amp::autocast_custom("my_op", {a})[0].dtype() == kFloat32);  // off: no policy needed
}

TEST_CASE("autocast: the plan recorder lists each op with its policy, casts and cache hits") {
  Tensor w = randn({3, 4}).requires_grad_();
  amp::PlanRecorder plan;
  {
    amp::AutocastGuard ac(kFloat16);
    Tensor h = linear(randn({2, 4}), w);
    (void)linear(randn({2, 4}), w);
    (void)softmax(h, 1);
  }
  REQUIRE(plan.entries().size() == 3);
  CHECK(plan.entries()[0].op == "linear");
  CHECK(plan.entries()[0].casts == 2);  // input and weight
  CHECK(plan.entries()[1].cache_hits == 1);
  CHECK(plan.entries()[2].policy == amp::CastPolicy::Float32);
  CHECK(plan.to_text().find("lower_precision") != std::string::npos);
  CHECK(plan.to_json().find("{\"op\":\"softmax\",\"policy\":\"float32\",\"inputs\":\"float16\"") !=
        std::string::npos);
}
