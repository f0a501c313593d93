// Misuse table, autograd: each mistake gives one clear hg::Error and leaves the leaves' values
// and gradients as they were.
#include "misuse_util.h"

using namespace hg;
using hg::test::bits;
using hg::test::expect_misuse_error;

TEST_CASE("misuse: autograd") {
  Tensor w = randn({3}).requires_grad_();
  const auto w_bits = bits(w);

  {
    Tensor loss = (w * w).sum();
    loss.backward();
    const auto grad_bits = bits(w.grad());
    expect_misuse_error("autograd", "second backward through a freed graph",
                        [&] { loss.backward(); }, {"backward", "second time", "retain_graph"});
    CHECK(bits(w.grad()) == grad_bits);  // the first gradient, not doubled or cleared
  }
  {
    Tensor y = randn({3});
    Tensor loss = (w * y).sum();  // saves y for w's gradient
    y.add_(ones({3}));
    w.set_grad(Tensor());
    expect_misuse_error("autograd", "in-place change of a tensor saved for backward",
                        [&] { loss.backward(); }, {"modified in place", "version 0 -> 1"});
    CHECK_FALSE(w.grad().defined());
  }
  expect_misuse_error("autograd", "backward of a non-scalar without a gradient",
                      [&] { (w * 2.0).backward(); },
                      {"grad can be implicitly created only for scalar outputs", "[3]"});
  expect_misuse_error("autograd", "backward of a tensor that does not require grad",
                      [] { randn({1}).sum().backward(); }, {"does not require grad"});
  expect_misuse_error("autograd", "backward with a gradient of the wrong shape",
                      [&] { (w * 2.0).backward(ones({4})); }, {"gradient", "[4]", "[3]"});
  expect_misuse_error("autograd", "gradient of an int64 tensor",
                      [] {
                        Tensor i = arange(3, kInt64);
                        i.requires_grad_();
                      },
                      {"int64"});
  expect_misuse_error("autograd", "set_grad with the wrong shape", [&] { w.set_grad(ones({4})); },
                      {"set_grad", "[4]", "[3]"});
  expect_misuse_error(
      "autograd", "in-place op on a leaf that requires grad", [&] { w.add_(ones({3})); },
      {"add_: [3] float32 requires grad and cannot be modified in place", "NoGradGuard"});
  CHECK(bits(w) == w_bits);
}

TEST_CASE("misuse: autograd::grad, checkpoint and attention") {
  const Tensor x = randn({3}).requires_grad_(), unused = randn({3}).requires_grad_();
  expect_misuse_error("autograd", "autograd::grad for an input the output does not use",
                      [&] { (void)autograd::grad({(x * 2.0).sum()}, {unused}); },
                      {"autograd::grad", "not used", "allow_unused"});
  const Tensor h = autograd::checkpoint([](const Tensor& t) { return tanh(t); }, x);
  expect_misuse_error("autograd", "autograd::grad through a checkpointed function",
                      [&] { (void)autograd::grad({h.sum()}, {x}); },
                      {"checkpoint", "autograd::grad", "backward instead"});
  CHECK_FALSE(x.grad().defined());  // the refused pass wrote no gradient
  CHECK_FALSE(unused.grad().defined());
  const Tensor q = randn({2, 4, 8});
  expect_misuse_error("autograd", "attention mask that does not fit the scores",
                      [&] {
                        (void)scaled_dot_product_attention(q, q, q, zeros({4, 5}));
                      },
                      {"attn_mask [4, 5]", "does not broadcast", "[2, 4, 4]"});
  auto net = std::make_shared<nn::Sequential>(std::make_shared<nn::ReLU>());
  expect_misuse_error("autograd", "checkpoint_sequential with more segments than modules",
                      [&] { (void)nn::checkpoint_sequential(net, 2, q); },
                      {"checkpoint_sequential", "segments", "[1, 1]"});
}

TEST_CASE("misuse: in-place ops that would truncate or write one element twice") {
  Tensor counts = zeros({3}, kInt64);
  expect_misuse_error("autograd", "add_ of a float tensor into an int64 one",
                      [&] { counts.add_(full({3}, 1.7)); },
                      {"add_", "float32", "[3] int64", "truncation"});
  expect_misuse_error("autograd", "mul_ of an int64 tensor by a fraction",
                      [&] { counts.mul_(0.5); }, {"mul_", "float32", "[3] int64"});
  expect_misuse_error("autograd", "add_ into an int64 tensor with a fractional alpha",
                      [&] { counts.add_(ones({3}, kInt64), 0.5); }, {"add_", "[3] int64"});
  CHECK(counts.to_vector<int64_t>() == std::vector<int64_t>{0, 0, 0});  // nothing written
  counts.add_(ones({3}, kInt64), 2.0).mul_(3.0);  // whole numbers stay integers
  CHECK(counts.to_vector<int64_t>() == std::vector<int64_t>{6, 6, 6});
  Tensor row = zeros({2});
  expect_misuse_error("autograd", "in-place write through an expanded view",
                      [&] {
                        row.expand({3, 2}).add_(ones({3, 2}));
                      },
                      {"add_", "[3, 2] float32", "share memory", "stride 0 in dim 0"});
  expect_misuse_error("autograd", "copy_ into an expanded view",
                      [&] {
                        row.expand({3, 2}).copy_(ones({3, 2}));
                      },
                      {"copy_", "share memory"});
  CHECK(hg::test::values(row) == std::vector<double>{0, 0});
  row.expand({3, 2}).fill_(4.0);  // one value everywhere: shared elements are fine (PyTorch too)
  CHECK(hg::test::values(row) == std::vector<double>{4, 4});
}
