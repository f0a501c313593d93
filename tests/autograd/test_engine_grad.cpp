// autograd::grad (gradients returned, no .grad touched, only the needed nodes run) and
// autograd::backward from several roots (autograd/engine.h).
#include "test_util.h"

using namespace hg;
using hg::test::expect_error;
using hg::test::same_bits;
using hg::test::values;

TEST_CASE("autograd::grad: the gradients backward would accumulate, and no .grad changes") {
  manual_seed(71);
  const Tensor x = randn({3, 4}, kFloat64).requires_grad_();
  const Tensor w = randn({4, 2}, kFloat64).requires_grad_();
  const auto loss = [&] { return (tanh(matmul(x, w)) * 3.0).sum(); };
  const std::vector<Tensor> grads = autograd::grad({loss()}, {x, w});
  REQUIRE(grads.size() == 2);
  CHECK(!x.grad().defined());
  CHECK(!w.grad().defined());
  loss().backward();
  CHECK(same_bits(grads[0], x.grad()));
  CHECK(same_bits(grads[1], w.grad()));
  // a 16-bit leaf gets a 16-bit gradient, as backward gives it
  const Tensor h = randn({5}).to(kFloat16).requires_grad_();
  CHECK(autograd::grad({(h.to(kFloat32) * 2.0).sum()}, {h})[0].dtype() == kFloat16);
}

TEST_CASE("autograd::grad: non-leaf inputs, weighted outputs, and only the nodes needed run") {
  const Tensor x = from_vector(std::vector<double>{1, 2, 3}, kFloat64).requires_grad_();
  const Tensor w = from_vector(std::vector<double>{4, 5, 6}, kFloat64).requires_grad_();
  const Tensor y = x * 2.0;  // a non-leaf input
  int side_hook_calls = 0;
  const Tensor side = w * 3.0;
  side.register_hook([&](const Tensor& g) {
    ++side_hook_calls;
    return g;
  });
  const Tensor z = (y * y).sum() + side.sum();
  const std::vector<Tensor> g = autograd::grad({z}, {y}, {}, /*retain_graph=*/true);
  CHECK(values(g[0]) == std::vector<double>{4, 8, 12});  // 2 y
  CHECK(side_hook_calls == 0);                           // w's branch leads to no input: not run
  CHECK(!x.grad().defined());
  // two outputs with their gradients; the same tensor as input twice
  const Tensor a = x * x, b = x * 10.0;
  const std::vector<Tensor> weighted =
      autograd::grad({a, b}, {x, x}, {full({3}, 2.0, kFloat64), full({3}, 0.5, kFloat64)});
  CHECK(values(weighted[0]) == std::vector<double>{9, 13, 17});  // 2 * 2x + 0.5 * 10
  CHECK(values(weighted[1]) == values(weighted[0]));
  // the graph was released (no retain_graph): a second pass is refused
  expect_error([&] { (void)autograd::grad({a}, {x}, {ones({3}, kFloat64)}); },
               {"backward", "second time"});
}

TEST_CASE("autograd::grad: unused and non-differentiable inputs") {
  const Tensor x = ones({2}, kFloat64).requires_grad_(), unused = ones({2}).requires_grad_();
  expect_error([&] { (void)autograd::grad({(x * 2.0).sum()}, {unused}); },
               {"autograd::grad", "input 0", "not used", "allow_unused"});
  const std::vector<Tensor> g = autograd::grad({(x * 2.0).sum()}, {x, unused}, {}, false, true);
  CHECK(values(g[0]) == std::vector<double>{2, 2});
  CHECK(!g[1].defined());
  expect_error([&] { (void)autograd::grad({(x * 2.0).sum()}, {ones({2})}); },
               {"autograd::grad", "input 0", "does not require grad"});
  expect_error([&] { (void)autograd::grad({x * 2.0}, {x}); }, {"backward", "scalar"});
  expect_error(
      [&] {
        (void)autograd::grad({x.sum()}, {x}, {ones({}), ones({})});
      },
      {"autograd::grad", "2 gradients for 1 outputs"});
}

TEST_CASE("autograd::backward: several roots in one pass, a shared node run once") {
  manual_seed(72);
  const Tensor x = randn({6}, kFloat64).requires_grad_();
  int shared_runs = 0;
  const Tensor shared = exp(x);
  shared.register_hook([&](const Tensor& g) {
    ++shared_runs;
    return g;
  });
  const Tensor first = (shared * 2.0).sum(), second = shared * x;
  autograd::backward({first, second}, {Tensor(), full({6}, 0.5, kFloat64)});
  CHECK(shared_runs == 1);  // the two gradients summed before the node ran
  const std::vector<double> ex = values(exp(x.detach())), xv = values(x.detach());
  const std::vector<double> g = values(x.grad());
  for (size_t i = 0; i < 6; ++i)  // 2 e^x + 0.5 (e^x x + e^x)
    CHECK(g[i] == doctest::Approx(2 * ex[i] + 0.5 * (ex[i] * xv[i] + ex[i])).epsilon(1e-14));
  expect_error(
      [&] {
        autograd::backward({x.sum(), x.sum()}, {Tensor()});
      },
      {"autograd::backward", "1 gradients for 2 tensors"});
}

TEST_CASE("GradModeGuard sets grad mode for its lifetime, and NoGradGuard and EnableGradGuard nest") {
  const Tensor x = ones({2}).requires_grad_();
  {
    GradModeGuard off(false);
    CHECK(!is_grad_enabled());
    CHECK(!(x * 2.0).requires_grad());
    {
      EnableGradGuard on;
      CHECK((x * 2.0).requires_grad());
      NoGradGuard again;
      CHECK(!is_grad_enabled());
    }
    CHECK(!is_grad_enabled());  // each guard put back what it found
  }
  CHECK(is_grad_enabled());
}
