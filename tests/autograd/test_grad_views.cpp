// gradcheck for the view and copy ops: view, reshape, flatten, transpose, t, permute, slice
// (with step, negative bounds), narrow, select, expand, squeeze, unsqueeze, contiguous, clone,
// detach; chains of views; and their error messages.
#include "grad_util.h"

using namespace hg;
using hg::test::check_grad;
using hg::test::expect_error;
using hg::test::leaf;

namespace {
using ViewFn = std::function<Tensor(const Tensor&)>;

// gradcheck of f(x) * w for a fixed random w, so every output element has its own weight and a
// wrong routing of gradients shows up even where a plain sum would hide it.
void check_view(const ViewFn& f, const Shape& shape) {
  const Tensor probe = [&] {
    NoGradGuard no_grad;
    return f(zeros(shape, kFloat64));
  }();
  const Tensor w = randn(probe.sizes(), kFloat64);
  check_grad([&](const std::vector<Tensor>& in) { return f(in[0]) * w; }, {leaf(shape)});
  check_grad([&](const std::vector<Tensor>& in) { return f(in[0]); }, {leaf(shape)});
}
}  // namespace

TEST_CASE("grad views: view, reshape, flatten") {
  manual_seed(401);
  check_view([](const Tensor& x) { return x.view({3, 2}); }, {2, 3});
  check_view([](const Tensor& x) { return x.view({-1}); }, {2, 3, 2});
  check_view([](const Tensor& x) { return x.view({2, 1, 3, 1}); }, {6});
  check_view([](const Tensor& x) { return x.view({}); }, {1, 1});
  check_view([](const Tensor& x) { return x.reshape({4, -1}); }, {2, 2, 3});
  // reshape of a non-contiguous view copies (ContiguousBackward + ViewBackward)
  check_view([](const Tensor& x) { return x.t().reshape({-1}); }, {3, 4});
  check_view([](const Tensor& x) { return x.permute({2, 0, 1}).reshape({4, 6}); }, {2, 3, 4});
  check_view([](const Tensor& x) { return x.flatten(); }, {2, 3, 2});
  check_view([](const Tensor& x) { return x.flatten(1); }, {2, 3, 2});
  check_view([](const Tensor& x) { return x.flatten(0, 1); }, {2, 3, 2});
  check_view([](const Tensor& x) { return x.transpose(0, 2).flatten(1, 2); }, {2, 3, 2});
  check_view([](const Tensor& x) { return x.flatten(); }, {});
}

TEST_CASE("grad views: transpose, t, permute") {
  manual_seed(402);
  check_view([](const Tensor& x) { return x.t(); }, {3, 4});
  check_view([](const Tensor& x) { return x.t(); }, {5});
  check_view([](const Tensor& x) { return x.transpose(0, 2); }, {2, 3, 4});
  check_view([](const Tensor& x) { return x.transpose(-1, 1); }, {2, 3, 4});
  check_view([](const Tensor& x) { return x.permute({1, 2, 0}); }, {2, 3, 4});
  check_view([](const Tensor& x) { return x.permute({-1, 0, 1}).transpose(0, 1); }, {2, 3, 2});
  check_view([](const Tensor& x) { return x.permute({0, 1}); }, {2, 3});
}

TEST_CASE("grad views: slice with steps and negative bounds, narrow, select") {
  manual_seed(403);
  check_view([](const Tensor& x) { return x.slice(0, 1, 4); }, {5, 2});
  check_view([](const Tensor& x) { return x.slice(1, 0, 7, 2); }, {2, 7});
  check_view([](const Tensor& x) { return x.slice(1, 1, 7, 3); }, {2, 7});
  check_view([](const Tensor& x) { return x.slice(-1, -3, -1); }, {3, 5});
  check_view([](const Tensor& x) { return x.slice(0, 0, 100, 2); }, {5});  // end clamped
  check_view([](const Tensor& x) { return x.slice(1, 2, 2); }, {2, 4});    // empty
  check_view([](const Tensor& x) { return x.slice(2, 1, 4, 2).slice(0, 1, 2); }, {2, 3, 4});
  check_view([](const Tensor& x) { return x.t().slice(0, 1, 4, 2); }, {3, 4});
  check_view([](const Tensor& x) { return x.narrow(1, 1, 2); }, {3, 4});
  check_view([](const Tensor& x) { return x.narrow(0, 0, 1); }, {2, 3, 2});
  check_view([](const Tensor& x) { return x.select(0, 1); }, {3, 4});
  check_view([](const Tensor& x) { return x[-1]; }, {3, 4});  // t[i]: select(0, i)
  check_view([](const Tensor& x) { return x.select(1, -1); }, {3, 4});
  check_view([](const Tensor& x) { return x.select(2, 0); }, {2, 3, 2});
  check_view([](const Tensor& x) { return x.select(0, 2); }, {4});
  check_view([](const Tensor& x) { return x.t().select(1, 2).narrow(0, 1, 2); }, {4, 3});
}

TEST_CASE("grad views: overlapping slices of one leaf accumulate") {
  manual_seed(404);
  check_grad(
      [](const std::vector<Tensor>& in) {
        const Tensor& x = in[0];
        return x.slice(0, 0, 3) * x.slice(0, 1, 4) + x.select(0, 2);
      },
      {leaf({4, 3})});
}

TEST_CASE("grad views: expand, squeeze, unsqueeze") {
  manual_seed(405);
  check_view([](const Tensor& x) { return x.expand({3, 4}); }, {1, 4});
  check_view([](const Tensor& x) { return x.expand({3, 4}); }, {3, 1});
  check_view([](const Tensor& x) { return x.expand({2, 3, 4}); }, {4});
  check_view([](const Tensor& x) { return x.expand({2, -1, 3}); }, {2, 1});
  check_view([](const Tensor& x) { return x.expand({3, 2}); }, {});
  check_view([](const Tensor& x) { return x.expand_as(zeros({2, 2, 3})); }, {2, 1, 3});
  check_view([](const Tensor& x) { return x.t().expand({2, 3, 4}); }, {4, 3});
  check_view([](const Tensor& x) { return x.squeeze(); }, {1, 3, 1, 2});
  check_view([](const Tensor& x) { return x.squeeze(2); }, {3, 2, 1});
  check_view([](const Tensor& x) { return x.squeeze(0); }, {3, 2});  // not size 1: no-op
  check_view([](const Tensor& x) { return x.unsqueeze(0); }, {3, 2});
  check_view([](const Tensor& x) { return x.unsqueeze(-1); }, {3, 2});
  check_view([](const Tensor& x) { return x.unsqueeze(-1); }, {});
  check_view([](const Tensor& x) { return x.t().unsqueeze(1).squeeze(); }, {3, 2});
}

TEST_CASE("grad views: contiguous, clone, detach, to(same dtype)") {
  manual_seed(406);
  check_view([](const Tensor& x) { return x.contiguous(); }, {2, 3});
  check_view([](const Tensor& x) { return x.t().contiguous(); }, {2, 3});
  check_view([](const Tensor& x) { return x.slice(1, 0, 4, 2).contiguous(); }, {3, 4});
  check_view([](const Tensor& x) { return x.clone(); }, {2, 3});
  check_view([](const Tensor& x) { return x.t().clone(); }, {2, 3});
  check_view([](const Tensor& x) { return x.to(kFloat64); }, {3});
  // detach cuts the graph: only the attached branch contributes (d/dx of x * stop(x) = x)
  Tensor x = leaf({1.0, -2.0, 3.0}, {3});
  (x * x.detach()).sum().backward();
  hg::test::expect_close(hg::test::values(x.grad()), {1.0, -2.0, 3.0});
  Tensor c = x.clone();
  CHECK(c.grad_fn()->name() == "CloneBackward");
  CHECK(c.storage() != x.storage());
  // 1-D t() is a new view of x (as PyTorch's TBackward), already contiguous
  CHECK(x.t().contiguous().grad_fn() != nullptr);
  CHECK(x.t().storage() == x.storage());
}

TEST_CASE("grad views: views of intermediate results, then ops") {
  manual_seed(407);
  check_grad(
      [](const std::vector<Tensor>& in) {
        const Tensor y = exp(in[0] * 0.5).transpose(0, 1);  // [4, 3] -> [3, 4]
        return sigmoid(y.reshape({2, 6}).slice(1, 1, 6, 2)) * y.select(0, 1).narrow(0, 0, 1);
      },
      {leaf({4, 3})});
}

TEST_CASE("grad views: errors name the op, the shapes and the dtypes") {
  const Tensor x = ones({2, 3});
  expect_error([&] { x.view({4, 2}); }, {"view", "[4, 2]", "[2, 3]", "6 elements"});
  expect_error([&] { x.t().view({6}); }, {"view", "[3, 2] float32", "[6]", "reshape"});
  expect_error([&] { x.reshape({-1, -1}); }, {"reshape", "-1"});
  expect_error([&] { x.reshape({5}); }, {"reshape", "[5]", "[2, 3]"});
  expect_error([&] { x.transpose(0, 2); }, {"transpose", "2", "2 dims"});
  expect_error([&] { x.permute({0}); }, {"permute", "1 dims", "[2, 3] float32"});
  expect_error([&] { x.permute({0, 0}); }, {"permute", "repeats", "[2, 3] float32"});
  expect_error([&] { ones({2, 3, 4}).t(); }, {"t", "[2, 3, 4] float32"});
  expect_error([&] { x.slice(0, 0, 2, 0); }, {"slice", "step", "0"});
  expect_error([&] { x.narrow(1, 2, 2); }, {"narrow", "start 2", "length 2", "[2, 3] float32"});
  expect_error([&] { x.narrow(1, 2, INT64_MAX); }, {"narrow", "out of range", "[2, 3] float32"});
  expect_error([&] { x.expand({-2, 3}); }, {"expand", "[2, 3] float32", "size -2"});
  expect_error([&] { x.squeeze(2); }, {"squeeze", "dimension 2", "[2, 3] float32"});
  expect_error([] { scalar_tensor(1.0).transpose(5, 7); }, {"transpose", "dimension 5", "[-1, 0]"});
  expect_error([] { scalar_tensor(1.0).flatten(3); }, {"flatten", "dimension 3", "[] float32"});
  expect_error([] { Tensor().view({1}); }, {"view", "undefined"});
  expect_error(
      [] {
        (void)ones({1, 1, 1, 1, 1, 1, 1, 1}).unsqueeze(0);
      },
      {"view", "[1, 1, 1, 1, 1, 1, 1, 1] float32", "more than 8 dims"});
  expect_error([] { Tensor().t(); }, {"t", "undefined"});
  expect_error([] { (void)where(ones({1}, kBool), Tensor(), ones({1})); }, {"where", "undefined"});
  expect_error([&] { x.select(0, 2); }, {"select", "index 2", "[2, 3] float32"});
  expect_error([&] { x.expand({3, 3}); }, {"expand", "[2, 3] float32", "[3, 3]"});
  expect_error([&] { x.expand({3}); }, {"expand", "[2, 3] float32", "[3]"});
  expect_error([&] { x.flatten(1, 0); }, {"flatten", "[2, 3] float32"});
  expect_error([&] { x.unsqueeze(4); }, {"unsqueeze", "4", "[2, 3] float32", "[-3, 2]"});
}

TEST_CASE("gradcheck: inputs may be transposed or sliced views, not expanded ones") {
  // each input is a leaf view: perturbing element i must move the element the op reads as i
  const Tensor base = randn({4, 3}, kFloat64);
  const Tensor transposed = base.t().requires_grad_();  // [3, 4], strides [1, 3]
  const Tensor sliced = randn({3, 8}, kFloat64).slice(1, 0, 8, 2).requires_grad_();  // [3, 4]
  REQUIRE_FALSE(transposed.is_contiguous());
  REQUIRE_FALSE(sliced.is_contiguous());
  // an asymmetric function of the positions: a wrong element map gives the wrong Jacobian
  const Tensor weights = arange(12, kFloat64).reshape({3, 4});
  check_grad([&](const std::vector<Tensor>& in) { return (in[0] * in[1] * weights).sum({1}); },
             {transposed, sliced});
  const Tensor expanded = randn({1, 4}, kFloat64).expand({3, 4}).requires_grad_();
  expect_error([&] { (void)autograd::gradcheck([](auto& in) { return in[0] * 2.0; }, {expanded}); },
               {"gradcheck", "input 0", "[3, 4] float64", "stride 0"});
}

TEST_CASE("gradcheck: inputs of which none requires grad are an error, not a pass") {
  // a forgotten requires_grad_() would otherwise hide any backward, however wrong
  expect_error(
      [] {
        (void)autograd::gradcheck([](auto& in) { return in[0] * 2.0; }, {ones({2}, kFloat64)});
      },
      {"gradcheck", "none of the 1 inputs requires grad"});
}

TEST_CASE("views: a huge slice step takes one element, with no stride overflow") {
  const Tensor x = arange(12).reshape({4, 3});
  const Tensor one = x.slice(0, 0, 4, int64_t{1} << 62);
  CHECK(one.sizes() == Shape{1, 3});
  CHECK(one.stride(0) == 3);
  CHECK(x.slice(0, 1, INT64_MAX, INT64_MAX).sizes() == Shape{1, 3});
  CHECK(scalar_tensor(2.0).transpose(0, -1).item<double>() == 2.0);  // 0 and -1 name a 0-dim's
}
