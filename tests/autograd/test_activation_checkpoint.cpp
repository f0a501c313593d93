// autograd::checkpoint and nn::checkpoint_sequential (autograd/activation_checkpoint.h): the
// same gradients as without (bit for bit), the same dropout masks and autocast, nothing but the
// checkpoint node kept, and the cases it refuses.
#include "test_util.h"

using namespace hg;
using hg::test::expect_error;
using hg::test::same_bits;
using hg::test::values;

namespace {

std::shared_ptr<nn::Sequential> block(int64_t width, double dropout) {
  return std::make_shared<nn::Sequential>(
      std::make_shared<nn::Linear>(width, width), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Dropout>(dropout), std::make_shared<nn::Linear>(width, width));
}

// Each parameter's gradient, then cleared.
std::vector<Tensor> take_grads(nn::Module& net) {
  std::vector<Tensor> grads;
  for (Tensor& p : net.parameters()) {
    grads.push_back(p.grad());
    p.set_grad(Tensor());
  }
  return grads;
}

void check_same(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].defined());
    CHECK(same_bits(a[i], b[i]));
  }
}

}  // namespace

TEST_CASE("checkpoint: the gradients of the plain run, bit for bit, dropout masks included") {
  manual_seed(81);
  const auto net = block(16, 0.3);
  const Tensor x = randn({8, 16}).requires_grad_();
  const auto run = [&](bool checkpointed) {
    manual_seed(5);
    const Tensor h =
        checkpointed ? autograd::checkpoint([&](const Tensor& in) { return net->forward(in); }, x)
                     : net->forward(x);
    (tanh(h) * 2.0).sum().backward();
    const Generator::State after = default_generator().state();
    Tensor gx = x.grad();
    x.set_grad(Tensor());
    return std::make_tuple(take_grads(*net), gx, after);
  };
  const auto [plain, plain_x, plain_rng] = run(false);
  const auto [saved, saved_x, saved_rng] = run(true);
  check_same(plain, saved);
  CHECK(same_bits(plain_x, saved_x));
  CHECK(plain_rng == saved_rng);  // the rerun put the generator back where it was
}

TEST_CASE("checkpoint: the input need not require grad, the parameters still get theirs") {
  manual_seed(82);
  const auto net = block(8, 0.0);
  const Tensor x = randn({4, 8});  // data: no gradient wanted
  net->forward(x).sum().backward();
  const std::vector<Tensor> plain = take_grads(*net);
  const Tensor out = autograd::checkpoint([&](const Tensor& in) { return net->forward(in); }, x);
  CHECK(out.requires_grad());
  out.sum().backward();
  check_same(plain, take_grads(*net));
  CHECK(!x.grad().defined());
}

TEST_CASE("checkpoint: keeps only its node, reruns under the first run's autocast") {
  manual_seed(83);
  const auto net = block(32, 0.0);
  const Tensor x = randn({16, 32}).requires_grad_();
  const std::size_t before = autograd::tape_size();
  Tensor loss;
  {
    amp::AutocastGuard autocast(kBFloat16);
    const Tensor h = autograd::checkpoint([&](const Tensor& in) { return net->forward(in); }, x);
    CHECK(h.dtype() == kBFloat16);
    CHECK(h.grad_fn()->name() == "CheckpointBackward");
    CHECK(autograd::tape_size() == before + 1);  // nothing inside the segment was recorded
    loss = h.to(kFloat32).sum();
  }
  loss.backward();  // outside the guard: the rerun must still be in bf16
  const std::vector<Tensor> saved = take_grads(*net);
  {
    amp::AutocastGuard autocast(kBFloat16);
    loss = net->forward(x).to(kFloat32).sum();
  }
  loss.backward();
  check_same(take_grads(*net), saved);
}

TEST_CASE("checkpoint: several inputs and outputs, nesting, and no-grad mode") {
  manual_seed(84);
  const Tensor a = randn({5}, kFloat64).requires_grad_();
  const Tensor b = randn({5}, kFloat64).requires_grad_();
  const autograd::CheckpointFunction f = [](const std::vector<Tensor>& in) {
    const Tensor inner = autograd::checkpoint([](const Tensor& t) { return exp(t); }, in[0]);
    return std::vector<Tensor>{inner * in[1], argmax(in[1], 0), in[1]};  // an int64 output too
  };
  const std::vector<Tensor> out = autograd::checkpoint(f, {a, b});
  REQUIRE(out.size() == 3);
  CHECK(out[1].dtype() == kInt64);
  CHECK(!out[2].is_same(b));  // an input returned as it is comes back as a new tensor
  (out[0].sum() + (out[2] * 3.0).sum()).backward();
  const std::vector<double> ea = values(exp(a.detach())), bv = values(b.detach());
  for (size_t i = 0; i < 5; ++i) {
    CHECK(values(a.grad())[i] == doctest::Approx(ea[i] * bv[i]).epsilon(1e-14));
    CHECK(values(b.grad())[i] == doctest::Approx(ea[i] + 3.0).epsilon(1e-14));
  }
  NoGradGuard no_grad;
  CHECK(!autograd::checkpoint(f, {a, b})[0].requires_grad());
}

TEST_CASE("checkpoint_sequential: every segment but the last checkpointed, the same gradients") {
  manual_seed(85);
  auto net = std::make_shared<nn::Sequential>();
  for (int i = 0; i < 4; ++i) {
    net->push_back(std::make_shared<nn::Linear>(12, 12));
    net->push_back(std::make_shared<nn::BatchNorm1d>(12));
    net->push_back(std::make_shared<nn::ReLU>());
  }
  const Tensor x = randn({10, 12}).requires_grad_();
  net->eval();  // running statistics stay put, so both passes see the same ones
  net->forward(x).square().sum().backward();
  const std::vector<Tensor> plain = take_grads(*net);
  const Tensor plain_x = x.grad();
  x.set_grad(Tensor());
  const Tensor out = nn::checkpoint_sequential(net, 3, x);
  out.square().sum().backward();
  check_same(plain, take_grads(*net));
  CHECK(same_bits(plain_x, x.grad()));
  expect_error([&] { (void)nn::checkpoint_sequential(net, 0, x); },
               {"checkpoint_sequential", "segments", "[1, 12]"});
  expect_error([&] { (void)net->forward_range(x, 4, 2); },
               {"Sequential::forward_range", "[4, 2)", "of 12"});
  // in training mode too: batch statistics in both runs, running statistics updated once
  net->train();
  std::vector<Tensor> start = net->buffers();
  std::vector<Tensor> kept;
  for (const Tensor& b : start) kept.push_back(b.clone());
  net->forward(x).square().sum().backward();
  const std::vector<Tensor> plain_train = take_grads(*net);
  std::vector<Tensor> after_plain;
  for (size_t i = 0; i < start.size(); ++i) {
    after_plain.push_back(start[i].clone());
    start[i].copy_(kept[i]);
  }
  nn::checkpoint_sequential(net, 3, x).square().sum().backward();
  check_same(plain_train, take_grads(*net));
  for (size_t i = 0; i < start.size(); ++i) CHECK(same_bits(start[i], after_plain[i]));
}

TEST_CASE("checkpoint_sequential: less memory kept for backward, and a lower peak") {
  // 16 x (Linear(256, 256), ReLU) on [512, 256] float activations (512 KiB each, tracked by
  // the CPU allocator): plain, every layer's input stays until backward reaches it; in 6
  // segments only the boundaries and the last segment's do, and one segment's while its
  // backward reruns it. (The weight gradients, 4 MiB, are in both peaks.)
  manual_seed(86);
  auto net = std::make_shared<nn::Sequential>();
  for (int i = 0; i < 16; ++i) {
    net->push_back(std::make_shared<nn::Linear>(256, 256));
    net->push_back(std::make_shared<nn::ReLU>());
  }
  const Tensor x = randn({512, 256});
  struct Usage {
    std::size_t kept, peak;
  };
  const auto usage = [&](bool checkpointed) {
    cpu::reset_peak_memory_stats();
    const std::size_t base = cpu::memory_stats().allocated;
    Tensor out = checkpointed ? nn::checkpoint_sequential(net, 6, x) : net->forward(x);
    const std::size_t kept = cpu::memory_stats().allocated - base;
    out.sum().backward();
    out = Tensor();
    take_grads(*net);
    return Usage{kept, cpu::memory_stats().peak_allocated - base};
  };
  const Usage plain = usage(false), saved = usage(true);
  CAPTURE(plain.kept);
  CAPTURE(saved.kept);
  CAPTURE(plain.peak);
  CAPTURE(saved.peak);
  CHECK(saved.kept * 2 <= plain.kept);
  CHECK(saved.peak * 5 < plain.peak * 4);
}

TEST_CASE("checkpoint: what it refuses") {
  const Tensor x = ones({3}).requires_grad_();
  expect_error([&] { (void)autograd::checkpoint(std::function<Tensor(const Tensor&)>(), x); },
               {"checkpoint", "empty function"});
  expect_error(
      [&] {
        (void)autograd::checkpoint(
            [](const std::vector<Tensor>& in) { return std::vector<Tensor>{argmax(in[0], 0)}; },
            {x});
      },
      {"checkpoint", "no floating-point tensor"});
  const Tensor h = autograd::checkpoint([](const Tensor& t) { return t * 2.0; }, x);
  expect_error([&] { (void)autograd::grad({h.sum()}, {x}); },
               {"checkpoint", "autograd::grad", "backward instead"});
}
