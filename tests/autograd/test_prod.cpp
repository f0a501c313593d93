// prod (autograd/reduction_ops.cpp): PyTorch 1.13's values and gradients with no, one and two
// zeros in a product, the whole tensor and one dim, gradcheck, integers, 16-bit, autocast.
#include <vector>

#include "grad_util.h"

using namespace hg;
using hg::test::check_grad;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::values;

TEST_CASE("prod: PyTorch's values and gradients, zeros included") {
  // torch 1.13, float64: rows without a zero, with one, with two
  Tensor x = from_vector<double>({1.5, -2.0, 0.5, 3.0, 0.0, 2.0, -1.0, 4.0, 0.0, 0.0, 2.5, 1.0},
                                 {3, 4}, kFloat64)
                 .requires_grad_();
  const Tensor y = prod(x, 1);
  y.backward(from_vector<double>({0.5, -1.0, 2.0}, {3}, kFloat64));
  CHECK(values(y) == std::vector<double>{-4.5, 0.0, 0.0});
  CHECK(values(x.grad()) ==
        std::vector<double>{-1.5, 1.125, -4.5, -0.75, 8.0, 0, 0, 0, 0, 0, 0, 0});
  // the whole tensor
  Tensor w = from_vector<double>({1.5, -2.0, 0.5, 3.0, 0.25, 2.0, -1.0, 4.0}, {2, 4}, kFloat64)
                 .requires_grad_();
  const Tensor all = prod(w);
  all.backward();
  CHECK(all.dim() == 0);
  CHECK(all.item<double>() == 9.0);
  CHECK(values(w.grad()) == std::vector<double>{6.0, -4.5, 18.0, 3.0, 36.0, 4.5, -9.0, 2.25});
  // along dim 0, keepdim
  Tensor z =
      from_vector<double>({1.5, -2.0, 0.0, 2.0, 0.5, 0.0}, {3, 2}, kFloat64).requires_grad_();
  const Tensor kept = prod(z, 0, true);
  kept.sum().backward();
  CHECK(kept.sizes() == Shape{1, 2});
  CHECK(values(z.grad()) == std::vector<double>{0, 0, 0.75, 0, 0, -4.0});
}

TEST_CASE("prod: gradcheck, integers, 16-bit, autocast, empty") {
  manual_seed(56);
  check_grad([](const std::vector<Tensor>& in) { return prod(in[0], -1); },
             {hg::test::leaf_in({3, 5}, 0.5, 1.5)});
  check_grad([](const std::vector<Tensor>& in) { return prod(in[0]); },
             {hg::test::leaf_in({2, 3}, -1.5, -0.5)});
  const Tensor ints = from_vector<int64_t>({3, -2, 5});
  CHECK(prod(ints).dtype() == kInt64);
  CHECK(prod(ints).item<int64_t>() == -30);
  CHECK(prod(from_vector<bool>({true, true})).dtype() == kInt64);
  // 16-bit: the product in double, rounded once (300 * 300 overflows fp16 to inf)
  CHECK(values(prod(from_vector<double>({300, 300}).to(kFloat16)))[0] == INFINITY);
  CHECK(values(prod(from_vector<double>({300, 300}).to(kBFloat16)))[0] == 90112.0);
  {
    amp::AutocastGuard autocast(kFloat16);  // in PyTorch's fp32 list
    CHECK(prod(randn({4}, kFloat16)).dtype() == kFloat32);
  }
  CHECK(prod(zeros({0})).item<float>() == 1.0f);  // the empty product
  expect_error([] { prod(zeros({2, 3}), 2); }, {"prod", "2", "[2, 3]"});
}
