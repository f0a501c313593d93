// gradcheck for the reductions: sum/mean (all dims, some dims, negative dims, keepdim), max/min
// (whole tensor and the (values, indices) form along a dim), amax, var, sum_to; and their errors.
#include <string>

#include "grad_util.h"

using namespace hg;
using hg::test::check_grad;
using hg::test::expect_error;
using hg::test::leaf;
using hg::test::leaf_distinct;
using hg::test::values;

namespace {

struct DimsCase {
  Shape shape;
  std::vector<int64_t> dims;
};

const std::vector<DimsCase>& dims_cases() {
  static const std::vector<DimsCase> cases{
      {{5}, {0}},       {{2, 3}, {0}},       {{2, 3}, {1}},       {{2, 3}, {-1}},
      {{2, 3}, {0, 1}}, {{2, 3, 4}, {1}},    {{2, 3, 4}, {0, 2}}, {{2, 3, 4}, {-1, 0}},
      {{2, 1, 3}, {1}}, {{3, 2, 2}, {2, 1}},
  };
  return cases;
}

}  // namespace

TEST_CASE("grad reduce: sum and mean over everything") {
  manual_seed(301);
  for (const Shape& shape : std::vector<Shape>{{}, {1}, {4}, {2, 3}, {2, 3, 2}}) {
    INFO(shape_str(shape));
    check_grad([](const std::vector<Tensor>& in) { return sum(in[0]); }, {leaf(shape)});
    check_grad([](const std::vector<Tensor>& in) { return in[0].mean(); }, {leaf(shape)});
    check_grad([](const std::vector<Tensor>& in) { return sum(in[0], {}, true); }, {leaf(shape)});
  }
  // non-contiguous inputs
  check_grad([](const std::vector<Tensor>& in) { return sum(in[0].t() * in[1]); },
             {leaf({4, 3}), leaf({3, 4})});
  check_grad([](const std::vector<Tensor>& in) { return mean(in[0].slice(0, 1, 5, 3)); },
             {leaf({5, 2})});
}

TEST_CASE("grad reduce: sum and mean over some dims, with and without keepdim") {
  manual_seed(302);
  for (const DimsCase& c : dims_cases()) {
    for (bool keepdim : {false, true}) {
      INFO(shape_str(c.shape) << " dims " << c.dims.size() << " first " << c.dims[0] << " keepdim "
                              << keepdim);
      check_grad([&](const std::vector<Tensor>& in) { return sum(in[0], c.dims, keepdim); },
                 {leaf(c.shape)});
      check_grad([&](const std::vector<Tensor>& in) { return mean(in[0], c.dims, keepdim); },
                 {leaf(c.shape)});
      // a weighted follow-up op, so each output element's gradient differs
      check_grad(
          [&](const std::vector<Tensor>& in) { return exp(sum(in[0], c.dims, keepdim) * 0.3); },
          {leaf(c.shape)});
    }
  }
  // a permuted input reduced along a middle dim
  check_grad(
      [](const std::vector<Tensor>& in) {
        return mean(in[0].permute({2, 0, 1}), {1});
      },
      {leaf({2, 3, 4})});
}

TEST_CASE("grad reduce: max and min of a whole tensor") {
  manual_seed(303);
  for (const Shape& shape : std::vector<Shape>{{}, {1}, {5}, {2, 3}, {2, 3, 2}}) {
    INFO(shape_str(shape));
    check_grad([](const std::vector<Tensor>& in) { return max(in[0]); }, {leaf_distinct(shape)});
    check_grad([](const std::vector<Tensor>& in) { return in[0].min(); }, {leaf_distinct(shape)});
  }
  check_grad([](const std::vector<Tensor>& in) { return max(in[0].t()) * min(in[0]); },
             {leaf_distinct({3, 4})});
}

TEST_CASE("grad reduce: whole-tensor max shares the gradient among ties") {
  Tensor x = leaf({1.0, 3.0, 3.0, -2.0}, {4});
  max(x).backward();
  hg::test::expect_close(hg::test::values(x.grad()), {0.0, 0.5, 0.5, 0.0});
  Tensor y = leaf({-2.0, 1.0, -2.0}, {3});
  (min(y) * 4.0).backward();
  hg::test::expect_close(hg::test::values(y.grad()), {2.0, 0.0, 2.0});
}

TEST_CASE("grad reduce: max and min along a dim give values and indices") {
  manual_seed(304);
  const std::vector<std::pair<Shape, int64_t>> cases{
      {{5}, 0}, {{2, 3}, 0}, {{2, 3}, 1}, {{2, 3}, -1}, {{2, 3, 4}, 1}, {{3, 1, 2}, 1}, {{}, 0}};
  for (const auto& [shape, dim] : cases) {
    for (bool keepdim : {false, true}) {
      INFO(shape_str(shape) << " dim " << dim << " keepdim " << keepdim);
      const int64_t d = dim;
      const bool k = keepdim;
      check_grad([=](const std::vector<Tensor>& in) { return max(in[0], d, k).values; },
                 {leaf_distinct(shape)});
      check_grad([=](const std::vector<Tensor>& in) { return min(in[0], d, k).values; },
                 {leaf_distinct(shape)});
    }
  }
  // a transposed input, and the values used further on
  check_grad([](const std::vector<Tensor>& in) { return exp(max(in[0].t(), 1).values * 0.5); },
             {leaf_distinct({3, 4})});
  // the indices agree with argmax/argmin and carry no gradient
  Tensor x = leaf({0.5, -1.0, 2.0, 3.0, 0.0, -4.0}, {2, 3});
  const ValuesIndices mx = max(x, 1);
  const ValuesIndices mn = min(x, 0, true);
  CHECK(mx.values.grad_fn()->name() == "MaxDimBackward");
  CHECK(mn.values.grad_fn()->name() == "MinDimBackward");
  CHECK(mx.indices.dtype() == kInt64);
  CHECK_FALSE(mx.indices.requires_grad());
  CHECK(mx.indices.to_vector<int64_t>() == std::vector<int64_t>{2, 0});
  CHECK(argmax(x, 1).to_vector<int64_t>() == std::vector<int64_t>{2, 0});
  CHECK(mn.indices.sizes() == Shape{1, 3});
  CHECK(mn.indices.to_vector<int64_t>() == std::vector<int64_t>{0, 0, 1});
  CHECK(argmin(x, 0, true).to_vector<int64_t>() == std::vector<int64_t>{0, 0, 1});
  (mx.values.sum() + mn.values.sum() * 2.0).backward();
  hg::test::expect_close(hg::test::values(x.grad()), {2, 2, 1, 1, 0, 2});
}

TEST_CASE("grad reduce: amax over dims") {
  manual_seed(305);
  for (const DimsCase& c : dims_cases()) {
    for (bool keepdim : {false, true}) {
      INFO(shape_str(c.shape) << " first dim " << c.dims[0] << " keepdim " << keepdim);
      check_grad([&](const std::vector<Tensor>& in) { return amax(in[0], c.dims, keepdim); },
                 {leaf_distinct(c.shape)});
    }
  }
}

TEST_CASE("grad reduce: var over all and some dims") {
  manual_seed(306);
  check_grad([](const std::vector<Tensor>& in) { return var(in[0]); }, {leaf({6})});
  check_grad([](const std::vector<Tensor>& in) { return var(in[0]); }, {leaf({2, 3, 2})});
  for (const DimsCase& c : dims_cases()) {
    for (bool keepdim : {false, true}) {
      for (int64_t correction : {0, 1}) {
        int64_t count = 1;
        for (int64_t d : c.dims)
          count *=
              c.shape[static_cast<size_t>(d < 0 ? d + static_cast<int64_t>(c.shape.size()) : d)];
        if (count - correction <= 0) continue;
        INFO(shape_str(c.shape) << " first dim " << c.dims[0] << " keepdim " << keepdim
                                << " correction " << correction);
        check_grad(
            [&](const std::vector<Tensor>& in) { return var(in[0], c.dims, keepdim, correction); },
            {leaf(c.shape)});
      }
    }
  }
  check_grad([](const std::vector<Tensor>& in) { return var(in[0].t(), {0}); }, {leaf({3, 4})});
  // a known value: var([1, 2, 3, 4]) = 5/3, d/dx = 2 (x - mean) / 3
  Tensor x = leaf({1.0, 2.0, 3.0, 4.0}, {4});
  Tensor v = var(x);
  CHECK(v.item<double>() == doctest::Approx(5.0 / 3.0));
  v.backward();
  hg::test::expect_close(hg::test::values(x.grad()), {-1.0, -1.0 / 3, 1.0 / 3, 1.0});
}

TEST_CASE("grad reduce: std is the square root of var, its gradient var's over 2 std") {
  manual_seed(307);
  check_grad([](const std::vector<Tensor>& in) { return hg::std(in[0]); }, {leaf({2, 3})});
  check_grad([](const std::vector<Tensor>& in) { return hg::std(in[0], {1}, true, 0); },
             {leaf({3, 4})});
  // std([1, 2, 3, 4]) = sqrt(5/3); d/dx = (x - mean) / (3 std)
  Tensor x = leaf({1.0, 2.0, 3.0, 4.0}, {4});
  Tensor s = hg::std(x);
  CHECK(s.item<double>() == doctest::Approx(std::sqrt(5.0 / 3.0)));
  s.backward();
  const double d = 3 * std::sqrt(5.0 / 3.0);
  hg::test::expect_close(hg::test::values(x.grad()), {-1.5 / d, -0.5 / d, 0.5 / d, 1.5 / d});
  CHECK(hg::std(from_vector<float>({1, 2, 4, 3, 3, 9}, {2, 3}), {0}, false, 0).to_vector<float>() ==
        std::vector<float>{1, 0.5f, 2.5f});
}

TEST_CASE("grad reduce: sum_to inverts broadcasting") {
  manual_seed(307);
  const std::vector<std::pair<Shape, Shape>> cases{{{2, 3, 4}, {4}},
                                                   {{2, 3, 4}, {3, 1}},
                                                   {{2, 3, 4}, {1, 1, 1}},
                                                   {{2, 3}, {}},
                                                   {{3, 4}, {3, 4}}};
  for (const auto& [from, to] : cases) {
    INFO(shape_str(from) << " -> " << shape_str(to));
    const Shape target = to;
    check_grad([=](const std::vector<Tensor>& in) { return sum_to(in[0], target); }, {leaf(from)});
  }
}

TEST_CASE("grad reduce: integer sums give int64 without gradient") {
  const Tensor b = from_vector(std::vector<double>{1, 0, 1, 1}, {2, 2}).to(kBool);
  const Tensor s = sum(b, {1});
  CHECK(s.dtype() == kInt64);
  CHECK_FALSE(s.requires_grad());
  CHECK(s.to_vector<int64_t>() == std::vector<int64_t>{1, 2});
}

TEST_CASE("grad reduce: errors name the op, the dim and the tensor") {
  const Tensor x = ones({2, 3});
  expect_error([&] { sum(x, {2}); }, {"sum", "dimension 2", "[2, 3] float32", "2 dims"});
  expect_error([&] { sum(x, {-3}, true); }, {"sum", "-3", "[2, 3] float32"});
  expect_error([&] { mean(x, {5}); }, {"mean", "5", "[2, 3] float32"});
  expect_error([&] { sum(x, {0, -2}); }, {"sum", "twice", "[2, 3] float32"});
  expect_error([&] { mean(arange(4, kInt64)); }, {"mean", "floating", "[4] int64"});
  expect_error([&] { var(arange(4, kInt64)); }, {"var", "floating", "[4] int64"});
  expect_error([&] { max(empty({0, 3})); }, {"max", "zero elements", "[0, 3] float32"});
  expect_error([&] { amax(x, {3}); }, {"amax", "3", "[2, 3] float32"});
  expect_error([&] { max(x, 2); }, {"max", "2", "[2, 3] float32"});
  expect_error([&] { min(empty({2, 0}), 1); }, {"min", "empty", "[2, 0] float32"});
  expect_error([&] { argmax(x, -3); }, {"argmax", "-3", "[2, 3] float32"});
  expect_error([&] { sum_to(ones({3}), {2, 3}); }, {"sum_to", "[3] float32", "[2, 3]"});
  // integer results of a graph carry no gradient
  const Tensor r = ones({2, 3}, kFloat64).requires_grad_();
  expect_error([&] { argmax(r, 1).sum().backward(); },
               {"backward", "[] int64", "does not require grad"});
}

TEST_CASE("grad reduce: reducing a 0-dim tensor along dim 0 or -1 is the identity") {
  Tensor x = leaf({2.5}, {});
  for (int64_t d : {0, -1}) {
    INFO("dim " << d);
    const int64_t dim = d;
    CHECK(sum(x, {dim}).item<double>() == 2.5);
    CHECK(sum(x, {dim}, true).dim() == 0);
    CHECK(mean(x, {dim}).item<double>() == 2.5);
    CHECK(amax(x, {dim}, true).item<double>() == 2.5);
    CHECK(max(x, dim).values.item<double>() == 2.5);
    check_grad([=](const std::vector<Tensor>& in) { return sum(in[0], {dim}) * 3.0; }, {x});
    check_grad([=](const std::vector<Tensor>& in) { return mean(in[0], {dim}, true); }, {x});
    check_grad([=](const std::vector<Tensor>& in) { return amax(in[0], {dim}); }, {x});
    check_grad([=](const std::vector<Tensor>& in) { return min(in[0], dim, true).values; }, {x});
  }
  expect_error([&] { sum(x, {1}); }, {"sum", "1", "[] float64"});
}

TEST_CASE("grad reduce: ops followed by sum/mean see broadcast (stride-0) gradients") {
  manual_seed(308);
  using F = std::function<Tensor(const Tensor&)>;  // x is [3, 4]
  const std::vector<std::pair<std::string, F>> ops{
      {"exp", [](const Tensor& x) { return exp(x * 0.5); }},
      {"tanh of a view", [](const Tensor& x) { return tanh(x.t()); }},
      {"mul broadcast", [](const Tensor& x) { return x * x.select(0, 1); }},
      {"log_softmax 0", [](const Tensor& x) { return log_softmax(x, 0); }},
      {"log_softmax -1", [](const Tensor& x) { return log_softmax(x.t(), -1); }},
      {"matmul", [](const Tensor& x) { return matmul(x, x.t()); }},
      {"matmul batched",
       [](const Tensor& x) {
         return matmul(x.expand({2, 3, 4}), x.t());
       }},
      {"matmul vector", [](const Tensor& x) { return matmul(x, x.select(0, 2)); }},
      {"linear", [](const Tensor& x) { return linear(x, x, x.select(1, 0)); }},
      {"linear 3-D",
       [](const Tensor& x) {
         return linear(x.expand({2, 3, 4}), x);
       }},
      {"cat",
       [](const Tensor& x) {
         return cat({x, exp(x)}, 1);
       }},
      {"stack",
       [](const Tensor& x) {
         return stack({x, x * 2.0}, 1);
       }},
      {"slice", [](const Tensor& x) { return x.slice(1, 0, 4, 3); }},
      {"max dim", [](const Tensor& x) { return max(x, 1).values; }},
      {"amax", [](const Tensor& x) { return amax(x, {0}); }},
      {"where", [](const Tensor& x) { return where(gt(x, zeros({1}, kFloat64)), x, x * x); }},
      {"cast", [](const Tensor& x) { return x.to(kFloat64).contiguous().clone(); }},
  };
  for (const auto& [name, f] : ops) {
    INFO(name);
    const F& op = f;
    check_grad([&](const std::vector<Tensor>& in) { return sum(op(in[0])); },
               {leaf_distinct({3, 4})});
    check_grad([&](const std::vector<Tensor>& in) { return mean(op(in[0]), {0}); },
               {leaf_distinct({3, 4})});
  }
}

TEST_CASE("grad reduce: logsumexp values, gradient (softmax) and overflow-free extremes") {
  manual_seed(309);
  for (const DimsCase& c : dims_cases()) {
    for (bool keepdim : {false, true}) {
      INFO(shape_str(c.shape) << " first dim " << c.dims[0] << " keepdim " << keepdim);
      const Tensor x = leaf(c.shape);
      const Tensor naive = log(sum(exp(x), c.dims, keepdim));
      CHECK(logsumexp(x, c.dims, keepdim).sizes() == naive.sizes());
      hg::test::expect_close_scaled(values(logsumexp(x, c.dims, keepdim)), values(naive), 1e-14,
                                    "logsumexp");
      check_grad([&](const std::vector<Tensor>& in) { return logsumexp(in[0], c.dims, keepdim); },
                 {x});
    }
  }
  // exp(1000) overflows even fp64; the shifted form does not; -inf rows give -inf, inf gives inf
  const Tensor big = from_vector(std::vector<double>{1000, 1000, -INFINITY, -INFINITY, INFINITY, 0},
                                 {3, 2}, kFloat64);
  const std::vector<double> r = values(big.logsumexp({1}));
  CHECK(r[0] == doctest::Approx(1000 + std::log(2.0)));
  CHECK(r[1] == -INFINITY);
  CHECK(r[2] == INFINITY);
  expect_error([&] { (void)logsumexp(big, {}); }, {"logsumexp", "dims", "[3, 2] float64"});
  // reducing an empty dim: the log of an empty sum, -inf (as PyTorch); amax would refuse it
  const Tensor empty_rows = logsumexp(zeros({2, 0}), {1});
  CHECK(empty_rows.sizes() == Shape{2});
  CHECK(values(empty_rows) == std::vector<double>{-INFINITY, -INFINITY});
  expect_error([&] { (void)logsumexp(arange(3, kInt64), {0}); }, {"logsumexp", "[3] int64"});
}

TEST_CASE(
    "grad reduce: logsumexp of 16-bit logits under autocast is computed and returned in fp32") {
  const Tensor x = full({2, 4}, 12.0, kFloat16);  // exp(12) * 4 overflows fp16 (max 65504)
  amp::AutocastGuard autocast(kFloat16);
  const Tensor r = logsumexp(x, {1});
  CHECK(r.dtype() == kFloat32);
  CHECK(values(r)[0] == doctest::Approx(12 + std::log(4.0)).epsilon(1e-6));
  // all of it in fp32: x - max in bf16 rounded 0.01 - 3.96875 (6.97417 instead of 6.96883)
  std::vector<double> v(1001, 0.01);
  v[0] = 3.96875;
  const Tensor b = from_vector(v, kFloat64).to(kBFloat16);
  const double exact = values(logsumexp(b.to(kFloat64), {0}))[0];
  amp::AutocastGuard bf16(kBFloat16);
  CHECK(values(logsumexp(b, {0}))[0] == doctest::Approx(exact).epsilon(1e-6));
}
