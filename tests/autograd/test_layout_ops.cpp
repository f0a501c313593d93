// tril, triu, roll, repeat (autograd/layout_ops.cpp): PyTorch 1.13's values, any dtype, batch
// dims, gradcheck, and the errors.
#include <vector>

#include "grad_util.h"

using namespace hg;
using hg::test::check_grad;
using hg::test::expect_error;
using hg::test::values;

TEST_CASE("tril, triu: PyTorch's triangles, batch dims, dtypes, gradient") {
  // torch 1.13 on torch.arange(12.).reshape(3, 4)
  const Tensor x = arange(12, kFloat32).reshape({3, 4});
  CHECK(values(tril(x)) == std::vector<double>{0, 0, 0, 0, 4, 5, 0, 0, 8, 9, 10, 0});
  CHECK(values(tril(x, 1)) == std::vector<double>{0, 1, 0, 0, 4, 5, 6, 0, 8, 9, 10, 11});
  CHECK(values(triu(x, -1)) == std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11});
  // a batch of matrices, each alike; integers and bool keep their dtype
  const Tensor batch = stack({x, x * 2.0});
  CHECK(values(tril(batch).select(0, 1)) == values(tril(x) * 2.0));
  CHECK(tril(arange(6).reshape({2, 3})).dtype() == kInt64);
  CHECK(values(triu(ones({2, 2}, kBool))) == std::vector<double>{1, 1, 0, 1});
  // the causal mask of attention: -inf above the diagonal
  const Tensor mask = triu(full({3, 3}, -INFINITY), 1);
  CHECK(values(mask) == std::vector<double>{0, -INFINITY, -INFINITY, 0, 0, -INFINITY, 0, 0, 0});
  check_grad([](const std::vector<Tensor>& in) { return tril(in[0], -1) + triu(in[0], 2); },
             {hg::test::leaf({2, 3, 4})});
  expect_error([] { tril(zeros({3})); }, {"tril", "at least 2 dims", "[3]"});
}

TEST_CASE("roll: PyTorch's shifts, per dim and flattened, gradient") {
  CHECK(values(roll(arange(5), {2})) == std::vector<double>{3, 4, 0, 1, 2});
  const Tensor x = arange(12, kFloat32).reshape({3, 4});
  CHECK(values(roll(x, {1, -1}, {0, 1})) ==
        std::vector<double>{9, 10, 11, 8, 1, 2, 3, 0, 5, 6, 7, 4});
  CHECK(values(roll(x, {5})) == std::vector<double>{7, 8, 9, 10, 11, 0, 1, 2, 3, 4, 5, 6});
  CHECK(values(roll(x, {-4}, {-1})) == values(x));  // a whole turn, still a copy
  check_grad(
      [](const std::vector<Tensor>& in) {
        return roll(in[0], {2, -3}, {1, 0});
      },
      {hg::test::leaf({4, 3})});
  expect_error([&] { roll(x, {1, 2}); }, {"roll", "one shift", "{1, 2}", "[3, 4]"});
  expect_error([&] { roll(x, {1}, {0, 1}); }, {"roll", "1 shifts", "2 dims"});
}

TEST_CASE("repeat: PyTorch's tiling, leading dims, gradient") {
  // torch 1.13: torch.tensor([[1, 2], [3, 4]]).repeat(2, 1, 3)
  const Tensor x = from_vector<int64_t>({1, 2, 3, 4}, {2, 2});
  const Tensor tiled = repeat(x, {2, 1, 3});
  CHECK(tiled.sizes() == Shape{2, 2, 6});
  CHECK(values(tiled) == std::vector<double>{1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4,
                                             1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4});
  CHECK(repeat(x, {0, 2}).sizes() == Shape{0, 4});
  // each copy's gradient adds up in the source
  Tensor w = ones({2}).requires_grad_();
  repeat(w, {3}).sum().backward();
  CHECK(values(w.grad()) == std::vector<double>{3, 3});
  check_grad(
      [](const std::vector<Tensor>& in) {
        return repeat(in[0], {2, 1, 2});
      },
      {hg::test::leaf({3, 2})});
  expect_error([&] { repeat(x, {2}); }, {"repeat", "{2}", "[2, 2]", "at least one per dim"});
  expect_error([&] { repeat(x, {2, -1}); }, {"repeat", "negative"});
}
