// The autograd engine: accumulation, shared subexpressions, no_grad, retain_graph, hooks,
// detach, the version check, anomaly mode and print_tape.
#include <sstream>

#include <thread>

#include "test_util.h"

using namespace hg;
using hg::test::expect_error;
using hg::test::values;

TEST_CASE("engine: gradients accumulate across two backward calls") {
  Tensor x = from_vector(std::vector<double>{1, 2}, kFloat64).requires_grad_();
  (x * x).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{2, 4});
  (x * 3.0).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{5, 7});
  x.set_grad(Tensor());
  x.sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{1, 1});
}

TEST_CASE("engine: a node used twice sums its gradients") {
  Tensor x = full({3}, 2.0, kFloat64).requires_grad_();
  Tensor y = exp(x);
  Tensor z = (y * y + y).sum();  // d/dx = 2 e^2x + e^x
  z.backward();
  for (double g : values(x.grad())) CHECK(g == doctest::Approx(2 * std::exp(4.0) + std::exp(2.0)));
}

TEST_CASE("engine: leaves, grad_fn and requires_grad propagate") {
  Tensor a = ones({2}).requires_grad_();
  Tensor b = ones({2});
  Tensor c = a * b;
  CHECK(a.is_leaf());
  CHECK_FALSE(c.is_leaf());
  CHECK(c.requires_grad());
  CHECK(c.grad_fn()->name() == "MulBackward");
  CHECK_FALSE((b * b).requires_grad());
  Tensor d = c.detach();
  CHECK(d.is_leaf());
  CHECK_FALSE(d.requires_grad());
  CHECK(d.storage() == c.storage());
}

TEST_CASE("engine: NoGradGuard records nothing") {
  Tensor a = ones({2}).requires_grad_();
  {
    NoGradGuard guard;
    CHECK_FALSE(is_grad_enabled());
    Tensor c = a * 2.0;
    CHECK_FALSE(c.requires_grad());
    CHECK(c.grad_fn() == nullptr);
  }
  CHECK(is_grad_enabled());
}

TEST_CASE("engine: a second backward needs retain_graph") {
  Tensor x = ones({2}, kFloat64).requires_grad_();
  Tensor y = (exp(x) * x).sum();
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  CHECK(values(x.grad())[0] == doctest::Approx(2 * 2 * std::exp(1.0)));
  expect_error([&] { y.backward(); }, {"backward", "second time", "retain_graph"});
}

TEST_CASE("engine: a graph that saved nothing backwards twice, as in PyTorch") {
  Tensor x = ones({2}, kFloat64).requires_grad_();
  Tensor y = (x + x * 2.0).sum();  // add, scalar multiply and sum save no tensor
  y.backward();
  y.backward();
  CHECK(values(x.grad()) == std::vector<double>{6, 6});
}

TEST_CASE("engine: a freed graph is refused before any .grad changes") {
  // v * 2 runs first and would reach v before MulBackward (w * w) found its saved tensors gone
  Tensor w = ones({3}, kFloat64).requires_grad_(), v = ones({3}, kFloat64).requires_grad_();
  Tensor loss = (w * w).sum() + (v * 2.0).sum();
  loss.backward();
  const std::vector<double> first_w = values(w.grad()), first_v = values(v.grad());
  expect_error([&] { loss.backward(); },
               {"backward", "second time", "MulBackward", "retain_graph"});
  CHECK(values(w.grad()) == first_w);
  CHECK(values(v.grad()) == first_v);
}

TEST_CASE("engine: a leaf used twice gets one summed gradient, and its hooks see the total") {
  Tensor x = full({1}, 3.0, kFloat64).requires_grad_();
  std::vector<std::vector<double>> seen;
  x.register_hook([&](const Tensor& g) {
    seen.push_back(values(g));
    return g * g;  // applied to the total, as PyTorch: (2x + 3)^2 at x = 3 is 81
  });
  (x * x + x * 3.0).sum().backward();
  CHECK(seen == std::vector<std::vector<double>>{{9}});
  CHECK(values(x.grad()) == std::vector<double>{81});
}

TEST_CASE("engine: a hook that changes the gradient's shape or dtype is an error") {
  Tensor x = ones({2}).requires_grad_();
  Tensor y = x * 2.0;
  y.register_hook([](const Tensor& g) { return g.sum(); });
  expect_error([&] { y.sum().backward(); }, {"hook", "[2] float32", "[] float32", "shape"});
  Tensor z = ones({2}).requires_grad_();
  z.register_hook([](const Tensor& g) { return g.to(kFloat64); });
  expect_error([&] { (z * 2.0).sum().backward(); }, {"hook", "[2] float64", "dtype"});
}

TEST_CASE("engine: a graph recorded partly on another thread backwards whole") {
  Tensor w = full({2}, 2.0, kFloat64).requires_grad_();
  Tensor h;
  std::thread worker([&] { h = w * w; });
  worker.join();
  (h * 3.0).sum().backward();
  CHECK(values(w.grad()) == std::vector<double>{12, 12});
}

TEST_CASE("engine: a leaf that stopped requiring grad gets none, as in PyTorch") {
  Tensor x = ones({2}).requires_grad_();
  Tensor y = (x * 2.0).sum();
  x.requires_grad_(false);
  y.backward();
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("engine: backward on a non-scalar needs a gradient") {
  Tensor x = ones({2, 2}).requires_grad_();
  Tensor y = x * 2.0;
  expect_error([&] { y.backward(); }, {"backward", "scalar", "[2, 2] float32"});
  y.backward(full({2, 2}, 0.5));
  CHECK(values(x.grad()) == std::vector<double>(4, 1.0));
  expect_error([&] { (x * 2.0).backward(ones({3})); }, {"backward", "[3] float32", "[2, 2]"});
  expect_error([] { ones({1}).backward(); }, {"backward", "does not require grad"});
}

TEST_CASE("engine: hooks see and can replace gradients") {
  Tensor x = ones({2}).requires_grad_();
  std::vector<double> seen;
  x.register_hook([&](const Tensor& g) {
    seen = values(g);
    return Tensor();
  });
  Tensor y = x * 3.0;
  y.register_hook([](const Tensor& g) { return g * 10.0; });  // non-leaf hook replaces
  y.sum().backward();
  CHECK(seen == std::vector<double>{30, 30});
  CHECK(values(x.grad()) == std::vector<double>{30, 30});
}

TEST_CASE("engine: remove_hook takes a hook out by the handle register_hook returned") {
  Tensor x = ones({2}).requires_grad_();
  int calls = 0;
  const unsigned counting = x.register_hook([&](const Tensor&) {
    ++calls;
    return Tensor();
  });
  const unsigned doubling = x.register_hook([](const Tensor& g) { return g * 2.0; });
  Tensor y = x * 3.0;
  const unsigned tenfold = y.register_hook([](const Tensor& g) { return g * 10.0; });
  x.remove_hook(counting);  // the other handles stay valid
  y.remove_hook(tenfold);
  y.sum().backward();
  CHECK(calls == 0);
  CHECK(values(x.grad()) == std::vector<double>{6, 6});  // doubled, not multiplied by ten
  x.requires_grad_(false);
  x.remove_hook(doubling);  // with requires_grad off too: the hook would run again once it is on
  x.requires_grad_(true);
  expect_error([&] { x.remove_hook(doubling); },
               {"remove_hook", "[2] float32", "no hook with handle 1"});
  expect_error([&] { x.remove_hook(7); }, {"remove_hook", "no hook with handle 7", "2 registered"});
}

TEST_CASE("engine: retain_grad keeps a non-leaf gradient") {
  Tensor x = ones({2}).requires_grad_();
  Tensor y = x * 3.0;
  y.retain_grad();
  (y * y).sum().backward();
  CHECK(values(y.grad()) == std::vector<double>{6, 6});
}

TEST_CASE("engine: an in-place change to a saved tensor is detected and names the op") {
  Tensor x = ones({3}).requires_grad_();
  Tensor e = exp(x);
  Tensor y = (e * 2.0).sum();
  Tensor z = (x * e).sum();  // MulBackward saved e
  {
    NoGradGuard no_grad;
    e.fill_(0.0);
  }
  expect_error([&] { z.backward(); }, {"MulBackward", "modified in place", "[3] float32"});
  (void)y;
}

TEST_CASE("engine: in-place on a leaf that requires grad is refused under grad mode") {
  Tensor w = ones({2}).requires_grad_();
  expect_error([&] { w.add_(ones({2})); }, {"add_", "requires grad", "NoGradGuard"});
  NoGradGuard guard;
  w.add_(ones({2}));
  CHECK(values(w) == std::vector<double>{2, 2});
}

TEST_CASE("engine: integer tensors cannot require grad, comparisons give no grad") {
  expect_error([] { (void)arange(3, kInt64).requires_grad_(); },
               {"requires_grad_", "floating-point", "int64"});
  Tensor x = ones({2}).requires_grad_();
  CHECK_FALSE(gt(x, zeros({2})).requires_grad());
}

TEST_CASE("engine: mixed dtypes send each gradient back in its input's dtype") {
  Tensor w = ones({2}).requires_grad_();  // fp32 leaf
  Tensor x = full({2}, 2.0, kFloat16);
  Tensor y = (w.to(kFloat16) * x).sum();  // taped cast
  CHECK(y.dtype() == kFloat16);
  y.backward();
  CHECK(w.grad().dtype() == kFloat32);
  CHECK(values(w.grad()) == std::vector<double>{2, 2});
}

TEST_CASE("engine: anomaly mode reports the first op that produced NaN/inf") {
  Tensor x = from_vector(std::vector<float>{1, 0}).requires_grad_();
  autograd::DetectAnomalyGuard anomaly;
  expect_error([&] { (void)log(x - 1.0); }, {"anomaly", "LogBackward", "forward", "[2] float32"});
  Tensor y = sqrt(x);  // forward fine, backward 0.5/sqrt(0) = inf
  expect_error([&] { y.sum().backward(); }, {"anomaly", "SqrtBackward", "backward", "[2] float32"});
}

TEST_CASE("engine: print_tape lists nodes newest first with dtypes") {
  Tensor w = ones({3, 2}).requires_grad_();
  for (int i = 0; i < 12000; ++i) (void)(w * 2.0);  // node ids past 4 digits, as in a long run
  Tensor x = ones({4, 2}, kFloat16);
  Tensor y = relu(linear(x, w.to(kFloat16))).sum();
  std::ostringstream out;
  autograd::print_tape(y, out);
  const std::string s = out.str();
  const auto sum_at = s.find("SumBackward"), relu_at = s.find("ReluBackward"),
             linear_at = s.find("LinearBackward"), cast_at = s.find("CastBackward");
  REQUIRE(sum_at != std::string::npos);
  CHECK(sum_at < relu_at);
  CHECK(relu_at < linear_at);
  CHECK(linear_at < cast_at);
  CHECK(s.find("[4, 3] float16") != std::string::npos);
  CHECK(s.find("leaf L0 [3, 2] float32") != std::string::npos);
  // every line is "#<id> <name> -> ...": the id and the name stay separate words however large
  // the id (they are the process's sequence numbers)
  std::istringstream lines(s);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string id, name, arrow;
    words >> id >> name >> arrow;
    CHECK(id.size() >= 2);
    CHECK(id[0] == '#');
    CHECK(id.find_first_not_of("0123456789", 1) == std::string::npos);
    CHECK(name.ends_with("Backward"));
    CHECK(arrow == "->");
  }
}

TEST_CASE("engine: the tape forgets graphs nobody holds") {
  const auto before = autograd::tape_size();
  {
    Tensor x = ones({2}).requires_grad_();
    Tensor y = exp(x) * 2.0;
    CHECK(autograd::tape_size() >= before + 2);
  }
  CHECK(autograd::tape_size() == before);
}

TEST_CASE("engine: a graph 100000 ops deep is freed without overflowing the stack") {
  Tensor x = ones({1}).requires_grad_();
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = y * 1.0;  // a chain: each node holds the one before
  y.sum().backward();
  CHECK(x.grad().item<float>() == 1.0f);
  y = Tensor();  // frees the whole chain (freed recursively, it overflowed an 8 MB stack)
  Tensor z = x;
  for (int i = 0; i < 100000; ++i) z = z + 1.0;
  z = Tensor();  // and one that never ran backward
  CHECK(x.grad().item<float>() == 1.0f);
  // nodes that reach one input twice (y + y) or through two paths (h + tanh(h))
  Tensor twice = x;
  for (int i = 0; i < 100000; ++i) twice = twice * 0.5 + twice * 0.5;
  twice = Tensor();
  Tensor residual = x;
  for (int i = 0; i < 100000; ++i) residual = residual + tanh(residual) * 0.0;
  residual = Tensor();
}

TEST_CASE("print_tape: leaves are named L0, L1, ... so a leaf used twice is recognisable") {
  Tensor a = ones({2}).requires_grad_(), b = ones({2}).requires_grad_();
  std::ostringstream out;
  autograd::print_tape(a * b + a, out);
  const std::string s = out.str();
  CHECK(s.find("<- #") != std::string::npos);
  CHECK(s.find("leaf L0 [2] float32") != std::string::npos);
  CHECK(s.find("leaf L1 [2] float32") != std::string::npos);
  CHECK(s.find("leaf L2") == std::string::npos);  // a appears twice, as one leaf
}

TEST_CASE("engine: a no-grad view of a leaf cannot be written with grad mode on, as PyTorch") {
  Tensor x = ones({3}).requires_grad_();
  Tensor v;
  {
    NoGradGuard no_grad;
    v = x.slice(0, 0, 2).view({2});  // a view of a view keeps the mark
  }
  expect_error([&] { v.fill_(0.0); }, {"fill_", "view made under hg::NoGradGuard", "[2] float32"});
  CHECK(values(x) == std::vector<double>{1, 1, 1});
  {
    NoGradGuard no_grad;
    v.fill_(0.0);  // under no-grad it is the usual weight update
  }
  CHECK(values(x) == std::vector<double>{0, 0, 1});
  Tensor d = x.detach().slice(0, 0, 2);  // detach() is the way to write outside autograd
  d.fill_(2.0);
  CHECK(values(x) == std::vector<double>{2, 2, 1});
}

TEST_CASE("engine: views that change nothing are still new views, as PyTorch's") {
  // a hook or retain_grad on the result must not land on the input
  Tensor x = from_vector(std::vector<double>{1, 2}, {2}, kFloat64).requires_grad_();
  Tensor y = x * 1.0;
  y.expand({2}).register_hook([](const Tensor& g) { return g * 0.0; });
  y.t().register_hook([](const Tensor& g) { return g * 10.0; });
  Tensor s = y.reshape({1, 2}).squeeze(1);  // dim 1 has size 2: nothing removed
  s.retain_grad();
  (y * 3.0).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{3, 3});
  CHECK_FALSE(s.grad().defined());
  CHECK_FALSE(x.squeeze(0).is_leaf());
}

TEST_CASE("engine: nodes save only what the gradients that flow need, as PyTorch's") {
  Tensor x = from_vector(std::vector<double>{1, 2}, {2}, kFloat64).requires_grad_();
  Tensor c = from_vector(std::vector<double>{3, 4}, {2}, kFloat64);
  Tensor y = x * c;  // c is saved (for x's gradient), x is not
  Tensor m = matmul(c.reshape({1, 2}), x.reshape({2, 1}));  // c saved, x not
  {
    NoGradGuard no_grad;
    x.mul_(2.0);
  }
  (y.sum() + m.sum()).backward();
  CHECK(values(x.grad()) == std::vector<double>{6, 8});
  // relu keeps its output, not its input: changing the input afterwards is fine
  Tensor h = x * 1.0;
  Tensor r = relu(h);
  {
    NoGradGuard no_grad;
    h.fill_(-5.0);
  }
  x.set_grad(Tensor());
  r.sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{1, 1});
  // sign saves nothing and its gradient is zeros, not g * 0 (an inf g gave NaN)
  Tensor z = from_vector(std::vector<double>{-1, 2}, {2}, kFloat64).requires_grad_();
  Tensor out = (sign(z) * from_vector(std::vector<double>{INFINITY, 1}, {2}, kFloat64)).sum();
  out.backward(Tensor(), true);
  CHECK(values(z.grad()) == std::vector<double>{0, 0});
  Tensor p = (pow(z, 0.0) + z).sum();
  p.backward();
  p.backward();  // nothing saved: runs again
  CHECK(values(z.grad()) == std::vector<double>{2, 2});
}

TEST_CASE("engine: a .grad set to an expanded tensor accumulates out of place, as PyTorch's") {
  Tensor x = ones({3}).requires_grad_();
  x.set_grad(full({1}, 2.0).expand({3}));
  (x * 3.0).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{5, 5, 5});
}

namespace {
struct PassThroughBackward : autograd::Node {
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override { return grads; }
  std::string name() const override { return "PassThroughBackward"; }
};
}  // namespace

TEST_CASE("engine: an op defined outside cannot record a leaf that requires grad as its output") {
  // it would stop being a leaf and never receive .grad, as an in-place op on it would
  Tensor x = ones({2}).requires_grad_();
  expect_error([&] { autograd::record_op<PassThroughBackward>({x}, x); },
               {"PassThroughBackward", "output 0", "[2] float32", "is a leaf that requires grad"});
  CHECK(x.is_leaf());
  Tensor y = ones({2});  // a leaf without grad may become an op's output (copy_ into it does)
  autograd::record_op<PassThroughBackward>({x}, y);
  y.sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{1, 1});
}
