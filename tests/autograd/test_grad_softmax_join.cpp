// gradcheck for softmax / log_softmax (first, last and middle dims, strided inputs), cat and
// stack (several inputs, any dim, mixed dtypes), and the taped casts; and their errors.
#include "grad_util.h"

using namespace hg;
using hg::test::check_grad;
using hg::test::expect_error;
using hg::test::leaf;

TEST_CASE("grad softmax: softmax and log_softmax along every kind of dim") {
  manual_seed(601);
  const std::vector<std::pair<Shape, int64_t>> cases{
      {{5}, 0},       {{5}, -1},       {{3, 4}, 0},     {{3, 4}, 1}, {{3, 4}, -1}, {{2, 3, 4}, 0},
      {{2, 3, 4}, 1}, {{2, 3, 4}, -1}, {{2, 3, 4}, -2}, {{1, 3}, 0}, {{3, 1}, 1},  {{}, 0},
  };
  for (const auto& [shape, dim] : cases) {
    INFO(shape_str(shape) << " dim " << dim);
    const int64_t d = dim;
    // a weighted output, so the gradient does not vanish (softmax sums to 1 along d)
    const Tensor w = randn(shape, kFloat64);
    check_grad([&](const std::vector<Tensor>& in) { return softmax(in[0], d) * w; }, {leaf(shape)});
    check_grad([&](const std::vector<Tensor>& in) { return log_softmax(in[0], d); }, {leaf(shape)});
    check_grad([&](const std::vector<Tensor>& in) { return in[0].softmax(d); }, {leaf(shape)});
  }
}

TEST_CASE("grad softmax: strided inputs, large logits, composite use") {
  manual_seed(602);
  check_grad([](const std::vector<Tensor>& in) { return softmax(in[0].t(), 1); }, {leaf({4, 3})});
  check_grad([](const std::vector<Tensor>& in) { return log_softmax(in[0].t(), 0); },
             {leaf({4, 3})});
  check_grad(
      [](const std::vector<Tensor>& in) {
        return log_softmax(in[0].slice(1, 0, 6, 2).permute({1, 0, 2}), 1);
      },
      {leaf({2, 6, 2})});
  // logits far from zero: the max is subtracted, results stay finite and exact
  check_grad([](const std::vector<Tensor>& in) { return log_softmax(in[0] * 50.0 + 500.0, -1); },
             {leaf({2, 3})});
  Tensor big = leaf({1000.0, 1001.0, 1002.0}, {3});
  const Tensor y = softmax(big, 0);
  for (double v : hg::test::values(y)) CHECK(std::isfinite(v));
  // cross-entropy-like composite: -mean(log_softmax(x) * onehot)
  const Tensor onehot = from_vector(std::vector<double>{0, 1, 0, 0, 0, 1}, {2, 3}, kFloat64);
  check_grad(
      [&](const std::vector<Tensor>& in) {
        return -mean(sum(log_softmax(in[0], 1) * onehot, {1}));
      },
      {leaf({2, 3})});
  // softmax and log_softmax agree
  const Tensor x = randn({3, 4}, kFloat64);
  hg::test::expect_close(hg::test::values(exp(log_softmax(x, 0))), hg::test::values(softmax(x, 0)),
                         1e-12, 1e-12);
}

TEST_CASE("grad join: cat of several inputs along first, middle and last dims") {
  manual_seed(603);
  check_grad(
      [](const std::vector<Tensor>& in) {
        return cat({in[0], in[1], in[2]}, 0);
      },
      {leaf({2, 3}), leaf({1, 3}), leaf({3, 3})});
  check_grad(
      [](const std::vector<Tensor>& in) {
        return cat({in[0], in[1], in[2]}, 1);
      },
      {leaf({2, 1, 2}), leaf({2, 3, 2}), leaf({2, 2, 2})});
  check_grad(
      [](const std::vector<Tensor>& in) {
        return cat({in[0], in[1]}, -1);
      },
      {leaf({2, 2}), leaf({2, 3})});
  check_grad([](const std::vector<Tensor>& in) { return cat({in[0]}, 0); }, {leaf({4})});
  // the same tensor twice, a strided view, an intermediate, and a constant input
  const Tensor constant = randn({2, 3}, kFloat64);
  check_grad(
      [&](const std::vector<Tensor>& in) {
        return cat({in[0], in[1].t(), exp(in[0]), constant, in[0]}, 1) * 1.5;
      },
      {leaf({2, 3}), leaf({2, 2})});
  // an empty piece
  check_grad(
      [](const std::vector<Tensor>& in) {
        return cat({in[0], in[1]}, 0);
      },
      {leaf({0, 2}), leaf({3, 2})});
}

TEST_CASE("grad join: a 1-D empty tensor joins any cat, as PyTorch's legacy rule") {
  Tensor empty_start = zeros({0}, kFloat64).requires_grad_();
  Tensor x = ones({2, 3}).requires_grad_();
  Tensor out = cat({empty_start, x}, 1);
  CHECK(out.sizes() == Shape{2, 3});
  CHECK(out.dtype() == kFloat64);  // its dtype still counts
  out.sum().backward();
  CHECK(empty_start.grad().sizes() == Shape{0});
  CHECK(x.grad().sizes() == Shape{2, 3});
  CHECK(cat({x.detach(), zeros({0})}, 0).sizes() == Shape{2, 3});
  CHECK(cat({zeros({0}), zeros({0})}, 0).sizes() == Shape{0});
  expect_error([] { (void)cat({zeros({0, 2}), ones({2, 3})}, 0); }, {"cat", "[0, 2]", "[2, 3]"});
}

TEST_CASE("softmax over another dim than the last is contiguous, as PyTorch's") {
  const Tensor x = randn({3, 2}, kFloat64);
  const Tensor y = softmax(x, 0);
  CHECK(y.is_contiguous());
  CHECK(y.view({6}).sizes() == Shape{6});
  CHECK(log_softmax(x, 0).is_contiguous());
  CHECK(zeros({2, 0, 3}).is_contiguous());  // an empty tensor is contiguous, as PyTorch's
}

TEST_CASE("grad join: stack along every dim") {
  manual_seed(604);
  for (int64_t dim : {0, 1, 2, -1}) {
    INFO("stack dim " << dim);
    const int64_t d = dim;
    check_grad(
        [=](const std::vector<Tensor>& in) {
          return stack({in[0], in[1], in[2]}, d);
        },
        {leaf({2, 3}), leaf({2, 3}), leaf({2, 3})});
  }
  check_grad(
      [](const std::vector<Tensor>& in) {
        return stack({in[0].t(), in[1]}, 1);
      },
      {leaf({3, 2}), leaf({2, 3})});
  check_grad(
      [](const std::vector<Tensor>& in) {
        return stack({in[0], in[1]});
      },
      {leaf({}), leaf({})});
}

TEST_CASE("grad join: mixed dtypes promote, gradients return in each input's dtype") {
  Tensor a = from_vector(std::vector<double>{1, 2}, {2}, kFloat32).requires_grad_();
  Tensor b = leaf({3.0, 4.0, 5.0}, {3});
  const Tensor c = cat({a, arange(2, kInt64), b});
  CHECK(c.dtype() == kFloat64);
  CHECK(hg::test::values(c) == std::vector<double>{1, 2, 0, 1, 3, 4, 5});
  (c * arange(7).to(kFloat64)).sum().backward();
  CHECK(a.grad().dtype() == kFloat32);
  CHECK(b.grad().dtype() == kFloat64);
  CHECK(hg::test::values(a.grad()) == std::vector<double>{0, 1});
  CHECK(hg::test::values(b.grad()) == std::vector<double>{4, 5, 6});
}

TEST_CASE("grad casts: fp64 -> fp32 -> fp64 keeps the gradient within fp32 tolerance") {
  manual_seed(605);
  // fp32 rounding in the middle of the graph: the numeric Jacobian sees steps of ~1e-7
  // relative, so use a large eps and loose tolerances.
  check_grad([](const std::vector<Tensor>& in) { return in[0].to(kFloat32).to(kFloat64); },
             {leaf({2, 3})}, 1e-3, 1e-4, 1e-3);
  check_grad(
      [](const std::vector<Tensor>& in) {
        return exp(in[0].to(kFloat32) * 0.5).to(kFloat64) * in[1];
      },
      {leaf({2, 3}), leaf({3})}, 1e-3, 1e-3, 1e-2);
  check_grad(
      [](const std::vector<Tensor>& in) {
        return matmul(in[0].to(kFloat32), in[1].to(kFloat32)).to(kFloat64);
      },
      {leaf({2, 3}), leaf({3, 2})}, 1e-3, 1e-3, 1e-2);
  // casts through the 16-bit types: gradients come back in the leaf's dtype
  for (DType low : {kFloat16, kBFloat16}) {
    Tensor x = leaf({0.5, -1.25, 3.0}, {3});
    Tensor y = x.to(low);
    CHECK(y.dtype() == low);
    CHECK(y.grad_fn()->name() == "CastBackward");
    (y.to(kFloat32) * 2.0).sum().backward();
    CHECK(x.grad().dtype() == kFloat64);
    CHECK(hg::test::values(x.grad()) == std::vector<double>{2, 2, 2});
  }
  // a fp32 leaf cast to fp64: exact gradient, dtype fp32
  Tensor f = from_vector(std::vector<float>{1.f, 2.f}, {2}).requires_grad_();
  (f.to(kFloat64) * f.to(kFloat64)).sum().backward();
  CHECK(f.grad().dtype() == kFloat32);
  CHECK(hg::test::values(f.grad()) == std::vector<double>{2, 4});
}

TEST_CASE("grad softmax/join/casts: errors name the op, the shapes and the dtypes") {
  expect_error([] { softmax(arange(4, kInt64), 0); }, {"softmax", "floating", "[4] int64"});
  expect_error([] { log_softmax(ones({2}, kBool), 0); }, {"log_softmax", "[2] bool"});
  expect_error([] { softmax(ones({2, 3}), 2); }, {"softmax", "2", "[2, 3] float32"});
  expect_error([] { log_softmax(ones({2, 3}), -3); }, {"log_softmax", "-3", "[2, 3] float32"});
  expect_error([] { softmax(ones({}), 1); }, {"softmax", "1", "[] float32"});
  expect_error(
      [] {
        cat({ones({2, 3}), ones({2, 4})}, 0);
      },
      {"cat", "tensor 1", "[2, 4] float32", "[2, 3] float32", "dim 0"});
  expect_error(
      [] {
        cat({ones({2, 3}), ones({2, 3, 1})}, 1);
      },
      {"cat", "[2, 3, 1] float32", "[2, 3] float32"});
  expect_error([] { cat({ones({2, 3}), ones({2, 3})}, 2); }, {"cat", "2", "[2, 3] float32"});
  expect_error([] { cat({}, 0); }, {"cat", "empty"});
  expect_error([] { cat({ones({}), ones({})}, 0); }, {"cat", "zero-dimensional", "[] float32"});
  expect_error([] { cat({ones({2}), Tensor()}, 0); }, {"cat", "undefined"});
  expect_error(
      [] {
        stack({ones({2, 3}), ones({3, 2})});
      },
      {"stack", "tensor 1", "[3, 2] float32", "[2, 3] float32"});
  expect_error([] { stack({ones({2}), ones({2})}, 2); }, {"stack", "2", "[2] float32"});
  // an integer cast of a tensor that requires grad leaves the graph (PyTorch's x.long())
  const Tensor as_int = ones({2}).requires_grad_().to(kInt64);
  CHECK(!as_int.requires_grad());
  CHECK(as_int.to_vector<int64_t>() == std::vector<int64_t>{1, 1});
  expect_error([] { ones({2}, kBool).requires_grad_(); }, {"requires_grad_", "[2] bool"});
  expect_error(
      [] {
        autograd::gradcheck([](const std::vector<Tensor>& in) { return in[0]; },
                            {ones({2}).requires_grad_()});
      },
      {"gradcheck", "float64", "[2] float32"});
}
