// gradcheck for the binary elementwise ops (add sub mul div pow maximum minimum), where and
// masked_fill, with broadcasting in every direction, 0-dim operands, non-contiguous operands and
// mixed dtypes; plus their error messages.
#include <string>

#include "grad_util.h"

using namespace hg;
using hg::test::check_grad;
using hg::test::expect_error;
using hg::test::leaf;
using hg::test::leaf_distinct;
using hg::test::leaf_in;

namespace {

using BinaryFn = std::function<Tensor(const Tensor&, const Tensor&)>;

// Shape pairs: same, broadcast both ways, rank-extending, 0-dim.
const std::vector<std::pair<Shape, Shape>>& shape_pairs() {
  static const std::vector<std::pair<Shape, Shape>> pairs{
      {{2, 3}, {2, 3}},    {{3, 1}, {4}}, {{4}, {3, 1}}, {{2, 3, 4}, {4}}, {{4}, {2, 3, 4}},
      {{2, 1, 4}, {3, 1}}, {{}, {2, 3}},  {{2, 3}, {}},  {{1}, {5}},       {{2, 3, 1}, {1, 1, 2}},
  };
  return pairs;
}

void check_binary(const std::string& name, const BinaryFn& f,
                  const std::function<Tensor(const Shape&)>& make_a,
                  const std::function<Tensor(const Shape&)>& make_b) {
  for (const auto& [sa, sb] : shape_pairs()) {
    INFO(name << ": " << shape_str(sa) << " with " << shape_str(sb));
    check_grad([&](const std::vector<Tensor>& in) { return f(in[0], in[1]); },
               {make_a(sa), make_b(sb)});
  }
  INFO(name << ": non-contiguous operands");
  // a transposed [4, 3] -> [3, 4] against a strided slice of [3, 8] -> [3, 4]
  check_grad([&](const std::vector<Tensor>& in) { return f(in[0].t(), in[1].slice(1, 0, 8, 2)); },
             {make_a({4, 3}), make_b({3, 8})});
  // a permuted 3-D view broadcast against a transposed column
  check_grad(
      [&](const std::vector<Tensor>& in) {
        return f(in[0].permute({1, 0, 2}), in[1].t());
      },
      {make_a({3, 2, 2}), make_b({2, 1})});
  // one operand only requires grad
  const Tensor constant_b = make_b({2, 3}).detach();
  const Tensor constant_a = make_a({2, 3}).detach();
  check_grad([&](const std::vector<Tensor>& in) { return f(in[0], constant_b); }, {make_a({2, 3})});
  check_grad([&](const std::vector<Tensor>& in) { return f(constant_a, in[0]); }, {make_b({3})});
}

Tensor any_values(const Shape& s) { return leaf(s); }
Tensor positive(const Shape& s) { return leaf_in(s, 0.5, 2.0); }

}  // namespace

TEST_CASE("grad binary: add, sub, mul with broadcasting and strided operands") {
  manual_seed(201);
  check_binary(
      "add", [](const Tensor& a, const Tensor& b) { return add(a, b); }, any_values, any_values);
  check_binary(
      "sub", [](const Tensor& a, const Tensor& b) { return a - b; }, any_values, any_values);
  check_binary(
      "mul", [](const Tensor& a, const Tensor& b) { return a * b; }, any_values, any_values);
}

TEST_CASE("grad binary: div and pow(tensor, tensor)") {
  manual_seed(202);
  check_binary(
      "div", [](const Tensor& a, const Tensor& b) { return a / b; }, any_values, positive);
  check_binary(
      "div negative", [](const Tensor& a, const Tensor& b) { return div(a, -b); }, any_values,
      positive);
  check_binary(
      "pow", [](const Tensor& a, const Tensor& b) { return pow(a, b); }, positive, any_values);
}

TEST_CASE("grad binary: pow(tensor, tensor) at a zero base") {
  // d/da a^b is 0 where b == 0 (like pow(x, 0.0)), d/db is 0 where a == 0; no NaN
  Tensor a = leaf({0.0, 0.0, 0.0, 3.0}, {4});
  Tensor b = leaf({0.0, 1.0, 2.0, 0.0}, {4});
  const Tensor y = pow(a, b);
  hg::test::expect_close(hg::test::values(y), {1.0, 0.0, 0.0, 1.0});
  y.sum().backward();
  hg::test::expect_close(hg::test::values(a.grad()), {0.0, 1.0, 0.0, 0.0});
  hg::test::expect_close(hg::test::values(b.grad()), {0.0, 0.0, 0.0, std::log(3.0)});
  Tensor x = leaf({0.0, 2.0}, {2});
  pow(x, zeros({2}, kFloat64)).sum().backward();
  hg::test::expect_close(hg::test::values(x.grad()), {0.0, 0.0});
}

TEST_CASE("grad binary: maximum and minimum away from ties") {
  manual_seed(203);
  // shifts 0.05 and 0.17: the two operands never come closer than 0.12
  const auto make_a = [](const Shape& s) { return leaf_distinct(s, 0.25, 0.05); };
  const auto make_b = [](const Shape& s) { return leaf_distinct(s, 0.25, 0.17); };
  check_binary(
      "maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }, make_a, make_b);
  check_binary(
      "minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }, make_a, make_b);
}

TEST_CASE("grad binary: maximum/minimum split the gradient evenly on ties") {
  Tensor a = leaf({1.0, 2.0, 3.0}, {3});
  Tensor b = leaf({1.0, 5.0, 0.0}, {3});
  (maximum(a, b) * 2.0 + minimum(a, b)).sum().backward();
  hg::test::expect_close(hg::test::values(a.grad()), {1.5, 1.0, 2.0});
  hg::test::expect_close(hg::test::values(b.grad()), {1.5, 2.0, 1.0});
}

TEST_CASE("grad binary: where with broadcasting condition and branches") {
  manual_seed(204);
  const Tensor cond = gt(randn({3, 1}, kFloat64), zeros({1}, kFloat64));
  const Tensor cond2 = from_vector(std::vector<double>{1, 0, 0, 1}, {4}, kFloat64).to(kBool);
  check_grad([&](const std::vector<Tensor>& in) { return where(cond, in[0], in[1]); },
             {leaf({4}), leaf({3, 4})});
  check_grad([&](const std::vector<Tensor>& in) { return where(cond2, in[0], in[1]); },
             {leaf({2, 3, 4}), leaf({})});
  check_grad([&](const std::vector<Tensor>& in) { return where(cond2, in[0].t(), in[1]); },
             {leaf({4, 3}), leaf({3, 1})});
  // a data-dependent condition (no gradient through the comparison)
  check_grad(
      [](const std::vector<Tensor>& in) {
        return where(gt(in[0], in[1]), in[0] * in[1], in[0] - in[1]);
      },
      {leaf_distinct({2, 3}, 0.25, 0.05), leaf_distinct({3}, 0.25, 0.17)});
  // integer branches promote; only the floating leaf gets a gradient
  Tensor x = leaf({2.0, 3.0}, {2});
  Tensor y = where(cond2.slice(0, 0, 2), x, arange(2, kInt64));
  CHECK(y.dtype() == kFloat64);
  y.sum().backward();
  hg::test::expect_close(hg::test::values(x.grad()), {1.0, 0.0});
}

TEST_CASE("grad binary: masked_fill fills where the broadcast mask is set, no gradient there") {
  const Tensor x = leaf({2, 3});
  const Tensor mask = from_vector(std::vector<bool>{true, false, true}, {3});  // broadcast rows
  const std::vector<double> filled = hg::test::values(x.masked_fill(mask, -7.5));
  const std::vector<double> original = hg::test::values(x);
  for (size_t i = 0; i < 6; ++i) CHECK(filled[i] == (i % 3 == 1 ? original[i] : -7.5));
  check_grad([&](const std::vector<Tensor>& in) { return masked_fill(in[0], mask, 0.25); }, {x});
  masked_fill(x, mask, 0.0).sum().backward();
  CHECK(hg::test::values(x.grad()) == std::vector<double>{0, 1, 0, 0, 1, 0});
  // the result keeps the input's dtype, as in PyTorch: an int64 tensor truncates the value,
  // a bool one stays bool (it was promoted to float32 / int64)
  const Tensor flags = from_vector(std::vector<bool>{true, false, true, false});
  const Tensor picks = from_vector(std::vector<bool>{true, true, false, false});
  CHECK(masked_fill(arange(4), flags, 2.7).to_vector<int64_t>() ==
        std::vector<int64_t>{2, 1, 2, 3});
  CHECK(masked_fill(flags, picks, 0).to_vector<bool>() ==
        std::vector<bool>{false, false, true, false});
  CHECK(masked_fill(ones({4}, kFloat16), flags, 0.1).dtype() == kFloat16);
  expect_error([&] { (void)masked_fill(x, ones({3}), 0.0); },
               {"masked_fill", "must be bool", "[3] float32", "[2, 3] float64"});
  expect_error(
      [&] {
        (void)masked_fill(x, from_vector(std::vector<bool>(12), {2, 2, 3}), 0.0);
      },
      {"masked_fill", "[2, 2, 3] bool", "does not broadcast", "[2, 3] float64"});
}

TEST_CASE("grad binary: mixed dtypes promote and gradients come back in each leaf's dtype") {
  manual_seed(205);
  // fp64 leaf with an fp32 / int64 / bool constant: gradcheck through the promotion
  const Tensor f32 = randn({2, 3});
  const Tensor i64 = arange(3, kInt64);
  check_grad([&](const std::vector<Tensor>& in) { return in[0] * f32 + in[0] / (f32 * f32 + 1.0); },
             {leaf({2, 3})});
  check_grad([&](const std::vector<Tensor>& in) { return (in[0] + i64) * i64; }, {leaf({2, 3})});
  // an fp32 leaf used with an fp64 tensor: result fp64, gradient cast back to fp32
  Tensor a = full({2, 2}, 1.5).requires_grad_();
  Tensor b = leaf({1.0, 2.0, 3.0, 4.0}, {2, 2});
  Tensor c = a * b;
  CHECK(c.dtype() == kFloat64);
  c.sum().backward();
  CHECK(a.grad().dtype() == kFloat32);
  CHECK(b.grad().dtype() == kFloat64);
  hg::test::expect_close(hg::test::values(a.grad()), {1, 2, 3, 4});
  hg::test::expect_close(hg::test::values(b.grad()), {1.5, 1.5, 1.5, 1.5});
}

TEST_CASE("grad binary: composite expressions with a shared operand") {
  manual_seed(206);
  check_grad(
      [](const std::vector<Tensor>& in) {
        const Tensor& a = in[0];
        const Tensor& b = in[1];
        return (a * b - a / (b * b + 1.0)) * (a + b);
      },
      {leaf({3, 4}), leaf({4})});
  check_grad([](const std::vector<Tensor>& in) { return in[0] * in[0] * in[0] - in[0]; },
             {leaf({5})});
}

TEST_CASE("grad binary: errors name the op, the shapes and the dtypes") {
  const Tensor a = ones({2, 3});
  const Tensor b = ones({4});
  expect_error([&] { add(a, b); }, {"add", "[2, 3]", "[4]", "float32", "broadcast"});
  expect_error([&] { a - b; }, {"sub", "[2, 3]", "[4]"});
  expect_error(
      [&] {
        mul(ones({3, 2}, kFloat64), ones({3}, kFloat16));
      },
      {"mul", "[3, 2]", "[3]", "float64", "float16"});
  expect_error([&] { div(a, ones({2, 2})); }, {"div", "[2, 3]", "[2, 2]"});
  expect_error([&] { pow(a, ones({3, 2})); }, {"pow", "[2, 3]", "[3, 2]"});
  expect_error([&] { maximum(a, b); }, {"maximum", "[2, 3]", "[4]"});
  expect_error([&] { minimum(a, b); }, {"minimum", "[2, 3]", "[4]"});
  expect_error([&] { where(ones({2, 3}), a, a); }, {"where", "bool", "[2, 3] float32"});
  expect_error([&] { where(ones({5}, kBool), a, a); }, {"where", "[5]", "[2, 3]"});
  expect_error([&] { where(ones({3}, kBool), a, b); },
               {"where", "[3] bool", "[2, 3] float32", "[4] float32"});
  expect_error([&] { add(a, Tensor()); }, {"add", "undefined"});
  // comparisons of tensors that require grad give bool results without gradient
  const Tensor x = ones({3}, kFloat64).requires_grad_();
  const Tensor c = gt(x, zeros({3}, kFloat64));
  CHECK(c.dtype() == kBool);
  CHECK_FALSE(c.requires_grad());
  expect_error([&] { c.sum().backward(); }, {"backward", "int64", "does not require grad"});
}
