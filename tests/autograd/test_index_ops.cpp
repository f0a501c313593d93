// split, chunk, index_select and gather: values against hand-worked ones, gradients against
// finite differences (repeated indices sum), and the mistakes they refuse.
#include <cmath>

#include "grad_util.h"

using namespace hg;
using hg::test::check_grad;
using hg::test::expect_error;
using hg::test::leaf;
using hg::test::values;

namespace {
Tensor int64s(std::vector<int64_t> v, Shape shape) { return from_vector<int64_t>(v, shape); }
}  // namespace

TEST_CASE("split and chunk: views of the pieces, as torch's") {
  const Tensor x = arange(0.0, 10.0).reshape({2, 5});
  const auto parts = split(x, 2, 1);
  REQUIRE(parts.size() == 3);
  CHECK(parts[2].sizes() == Shape{2, 1});
  CHECK(values(parts[1]) == std::vector<double>{2, 3, 7, 8});
  CHECK(parts[0].data_ptr() == x.data_ptr());  // a view, no copy
  const auto sized = split(x, std::vector<int64_t>{1, 4}, -1);
  CHECK(values(sized[1]) == std::vector<double>{1, 2, 3, 4, 6, 7, 8, 9});
  const auto chunks = chunk(x, 3, 1);  // ceil(5 / 3) = 2: pieces of 2, 2, 1
  REQUIRE(chunks.size() == 3);
  CHECK(chunks[2].size(1) == 1);
  CHECK(chunk(arange(0.0, 4.0), 3).size() == 2);  // ceil(4 / 3) = 2: only two pieces, as torch
  expect_error(
      [&] {
        (void)split(x, std::vector<int64_t>{2, 2}, 1);
      },
      {"split: sizes sum to 4", "has 5"});
  expect_error([&] { (void)split(x, 0, 1); }, {"split: split_size must be > 0"});
  expect_error([&] { (void)chunk(x, 0); }, {"chunk: chunks must be > 0"});
}

TEST_CASE("split: gradients reach every piece that is used") {
  check_grad(
      [](const std::vector<Tensor>& in) {
        const auto p = split(in[0], 2, 0);
        return p[0] * 2.0 + p[2].sum() - sin(p[1]);
      },
      {leaf({6, 3})});
  // one backward node for all the pieces: an unused piece's gradient is zeros, in x's layout
  Tensor x = arange(0.0, 12.0).reshape({4, 3}).requires_grad_();
  const auto pieces = split(x, std::vector<int64_t>{1, 2, 1}, 0);
  CHECK(pieces[0].grad_fn()->name() == "SplitBackward");
  CHECK(pieces[0].grad_fn() == pieces[2].grad_fn());
  CHECK(pieces[1].data_ptr() == x[1].data_ptr());
  (pieces[1] * 3.0).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 0, 0, 3, 3, 3, 3, 3, 3, 0, 0, 0});
  // no grad wanted: plain views, as before
  CHECK(split(x.detach(), 2, 0)[1].grad_fn() == nullptr);
}

TEST_CASE("index_select: slices picked along a dim, repeated ones summing their gradient") {
  const Tensor x = arange(0.0, 12.0).reshape({3, 4});
  CHECK(values(index_select(x, 0, int64s({2, 0}, {2}))) ==
        std::vector<double>{8, 9, 10, 11, 0, 1, 2, 3});
  CHECK(values(index_select(x, 1, int64s({3, 3, 1}, {3}))) ==
        std::vector<double>{3, 3, 1, 7, 7, 5, 11, 11, 9});
  CHECK(index_select(x.to(kFloat16), -1, int64s({0}, {1})).dtype() == kFloat16);
  for (int64_t dim : {0, 1, 2})
    check_grad(
        [dim](const std::vector<Tensor>& in) {
          return index_select(in[0], dim, int64s({1, 0, 1}, {3}));
        },
        {randn({4, 3, 2}, kFloat64).transpose(0, 2).requires_grad_()});  // a strided leaf
  expect_error([&] { (void)index_select(x, 0, int64s({3}, {1})); },
               {"index_select: index 3 is out of range for size 3 of [3, 4] float32"});
  expect_error([&] { (void)index_select(x, 0, zeros({1})); },
               {"index_select: indices must be int64"});
  expect_error([&] { (void)index_select(x, 2, int64s({0}, {1})); }, {"index_select"});
}

TEST_CASE("index_select: int64, uint8 and bool tensors too (labels, images, masks)") {
  const Tensor labels = arange(10, 20);
  CHECK(index_select(labels, 0, int64s({9, 0, 9}, {3})).to_vector<int64_t>() ==
        std::vector<int64_t>{19, 10, 19});
  // beyond 2^53: copied as they are, not through a floating type
  const int64_t big = (int64_t{1} << 62) + 1;
  CHECK(index_select(from_vector<int64_t>({1, big}, {2}), 0, int64s({1}, {1})).item<int64_t>() ==
        big);
  const Tensor bytes = arange(0, 24).reshape({2, 3, 4}).to(kUInt8);
  const Tensor picked = index_select(bytes, 2, int64s({3, 0}, {2}));
  CHECK(picked.dtype() == kUInt8);
  CHECK(picked.sizes() == Shape{2, 3, 2});
  CHECK(picked.to(kInt64).to_vector<int64_t>() ==
        std::vector<int64_t>{3, 0, 7, 4, 11, 8, 15, 12, 19, 16, 23, 20});
  const Tensor mask = gt(arange(0.0, 4.0), scalar_tensor(1.5));
  CHECK(index_select(mask, 0, int64s({3, 0}, {2})).to(kInt64).to_vector<int64_t>() ==
        std::vector<int64_t>{1, 0});
  expect_error([&] { (void)index_select(labels, 0, int64s({10}, {1})); },
               {"index_select: index 10 is out of range for size 10 of [10] int64"});
}

TEST_CASE("flip: reversed along each dim asked, any dtype, the gradient flipped back") {
  const Tensor x = arange(0.0, 6.0).reshape({2, 3});
  CHECK(values(flip(x, {1})) == std::vector<double>{2, 1, 0, 5, 4, 3});
  CHECK(values(flip(x, {0, -1})) == std::vector<double>{5, 4, 3, 2, 1, 0});
  CHECK(values(flip(x.t(), {0})) == std::vector<double>{2, 5, 1, 4, 0, 3});  // a strided x
  Tensor unflipped = flip(x, {});
  CHECK(values(unflipped) == values(x));
  unflipped.fill_(7);  // a copy, as torch.flip's
  CHECK(x.sum().item<float>() == 15);
  CHECK(flip(arange(0, 4).to(kUInt8), {0}).to(kInt64).to_vector<int64_t>() ==
        std::vector<int64_t>{3, 2, 1, 0});
  CHECK(flip(zeros({0, 2}), {0}).sizes() == Shape{0, 2});
  manual_seed(48);
  check_grad([](const std::vector<Tensor>& in) { return flip(in[0], {0, 2}); }, {leaf({2, 3, 4})});
  expect_error([&] { (void)flip(x, {1, -1}); }, {"flip: dim 1 appears more than once", "[2, 3]"});
  expect_error([&] { (void)flip(x, {2}); }, {"flip"});
}

TEST_CASE("one_hot: int64 [*] -> [*, classes], the classes checked") {
  const Tensor index = int64s({0, 2, 1, 0}, {2, 2});
  const Tensor inferred = one_hot(index);
  CHECK(inferred.dtype() == kInt64);
  CHECK(inferred.sizes() == Shape{2, 2, 3});
  CHECK(inferred.to_vector<int64_t>() == std::vector<int64_t>{1, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0});
  CHECK(one_hot(int64s({1}, {1}), 4).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 0, 0});
  CHECK(one_hot(int64s({}, {0}), 5).sizes() == Shape{0, 5});
  expect_error([&] { (void)one_hot(index, 2); },
               {"one_hot: class values must be < num_classes 2, got 2", "[2, 2] int64"});
  expect_error([&] { (void)one_hot(int64s({1, -1}, {2})); }, {"one_hot", ">= 0", "-1"});
  expect_error([&] { (void)one_hot(int64s({}, {0})); }, {"one_hot: cannot infer num_classes"});
  expect_error([&] { (void)one_hot(zeros({2})); }, {"one_hot: index must be int64", "float32"});
}

TEST_CASE("gather: elements picked along a dim, as torch.gather") {
  const Tensor x = arange(0.0, 6.0).reshape({2, 3});  // [[0, 1, 2], [3, 4, 5]]
  CHECK(values(gather(x, 1, int64s({2, 0, 1, 1}, {2, 2}))) == std::vector<double>{2, 0, 4, 4});
  CHECK(values(gather(x, 0, int64s({1, 0, 1}, {1, 3}))) == std::vector<double>{3, 1, 5});
  // cross-entropy's pick of each row's target, as a user would write it
  const Tensor logp = log_softmax(leaf({4, 5}), 1);
  const Tensor target = int64s({4, 0, 2, 2}, {4, 1});
  CHECK(gather(logp, 1, target).sizes() == Shape{4, 1});
  for (int64_t dim : {0, 1, 2})
    check_grad(
        [dim](const std::vector<Tensor>& in) {
          return gather(in[0], dim, int64s({1, 0, 1, 1, 0, 0, 1, 1}, {2, 2, 2}));
        },
        {leaf({2, 3, 2})});
  expect_error(
      [&] {
        (void)gather(x, 1, int64s({3}, {1, 1}));
      },
      {"gather: index 3 is out of range for size 3"});
  expect_error([&] { (void)gather(x, 1, int64s({0, 0}, {2})); }, {"must have as many dims"});
  expect_error(
      [&] {
        (void)gather(x, 1, zeros({3, 1}, kInt64));
      },
      {"gather: index [3, 1] int64 is larger than [2, 3] float32 at dim 0"});
}

TEST_CASE("sort and topk: stable, NaN last (first descending), values differentiable") {
  const Tensor x = from_vector<float>({3, NAN, 1, 3, -2, 1}, {1, 6});
  const auto up = sort(x, 1);
  CHECK(up.indices.to_vector<int64_t>() == std::vector<int64_t>{4, 2, 5, 0, 3, 1});
  const auto down = sort(x, -1, true);
  CHECK(down.indices.to_vector<int64_t>() == std::vector<int64_t>{1, 0, 3, 2, 5, 4});
  CHECK(std::isnan(down.values.to_vector<float>()[0]));
  const Tensor m = from_vector<double>({5, 1, 4, 2, 8, 0}, {3, 2});  // [[5, 1], [4, 2], [8, 0]]
  CHECK(values(sort(m, 0).values) == std::vector<double>{4, 0, 5, 1, 8, 2});
  const auto top = topk(from_vector<float>({0.1f, 0.7f, 0.2f, 0.7f}, {4}), 2);
  CHECK(top.indices.to_vector<int64_t>() == std::vector<int64_t>{1, 3});  // ties: first first
  CHECK(values(topk(m, 1, 1, false).values) == std::vector<double>{1, 2, 0});
  CHECK(sort(x.to(kBFloat16)).values.dtype() == kBFloat16);
  check_grad([](const std::vector<Tensor>& in) { return sort(in[0], 1, true).values * 1.5; },
             {leaf({3, 5})});
  check_grad([](const std::vector<Tensor>& in) { return topk(in[0], 2, 0).values; },
             {leaf({4, 3})});
  expect_error([&] { (void)topk(m, 3, 1); }, {"topk: k 3 is out of range for 2 elements"});
  expect_error([] { (void)sort(arange(3, kInt64)); }, {"sort"});
}

TEST_CASE("argsort: sort's indices, without values or a graph") {
  const Tensor x = from_vector<float>({3, NAN, 1, 3, -2, 1}, {1, 6}).requires_grad_();
  CHECK(argsort(x).to_vector<int64_t>() == std::vector<int64_t>{4, 2, 5, 0, 3, 1});
  CHECK(argsort(x, 1, true).to_vector<int64_t>() == sort(x, 1, true).indices.to_vector<int64_t>());
  CHECK(!argsort(x).requires_grad());
  const Tensor m = from_vector<double>({5, 1, 4, 2, 8, 0}, {3, 2});
  CHECK(argsort(m, 0).to_vector<int64_t>() == std::vector<int64_t>{1, 2, 0, 0, 2, 1});
  CHECK(argsort(full({}, 2.0)).item<int64_t>() == 0);
  expect_error([] { (void)argsort(arange(3, kInt64)); }, {"argsort"});
  expect_error([&] { (void)argsort(m, 2); }, {"argsort"});
}
