// gradcheck for matmul (2-D, batched with broadcast batch dims, every 1-D case), bmm and linear
// (with and without bias, 1-D/2-D/3-D inputs, transposed operands); and their errors.
#include "grad_util.h"

using namespace hg;
using hg::test::check_grad;
using hg::test::expect_error;
using hg::test::leaf;

namespace {
void check_matmul(const Shape& sa, const Shape& sb) {
  INFO("matmul " << shape_str(sa) << " @ " << shape_str(sb));
  check_grad([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
             {leaf(sa), leaf(sb)});
}
}  // namespace

TEST_CASE("grad linalg: matmul of 2-D operands") {
  manual_seed(501);
  check_matmul({2, 3}, {3, 4});
  check_matmul({1, 5}, {5, 1});
  check_matmul({4, 1}, {1, 3});
  check_matmul({3, 3}, {3, 3});
}

TEST_CASE("grad linalg: matmul with batch dims that broadcast") {
  manual_seed(502);
  check_matmul({2, 2, 3}, {2, 3, 2});  // same batch
  check_matmul({2, 2, 3}, {3, 2});     // batched @ matrix
  check_matmul({2, 3}, {2, 3, 2});     // matrix @ batched
  check_matmul({2, 1, 2, 3}, {3, 3, 2});
  check_matmul({1, 2, 3}, {2, 3, 2});
  check_matmul({2, 1, 2, 3}, {1, 2, 3, 2});
}

TEST_CASE("grad linalg: matmul with 1-D operands") {
  manual_seed(503);
  check_matmul({4}, {4});        // dot product -> 0-dim
  check_matmul({3}, {3, 2});     // vector @ matrix
  check_matmul({2, 3}, {3});     // matrix @ vector
  check_matmul({3}, {2, 3, 2});  // vector @ batched
  check_matmul({2, 2, 3}, {3});  // batched @ vector
  Tensor d = matmul(from_vector(std::vector<double>{1, 2, 3}, kFloat64),
                    from_vector(std::vector<double>{4, 5, 6}, kFloat64));
  CHECK(d.dim() == 0);
  CHECK(d.item<double>() == 32.0);
}

TEST_CASE("grad linalg: matmul on non-contiguous operands and reused operands") {
  manual_seed(504);
  check_grad([](const std::vector<Tensor>& in) { return matmul(in[0].t(), in[1].t()); },
             {leaf({3, 2}), leaf({4, 3})});
  check_grad(
      [](const std::vector<Tensor>& in) {
        return matmul(in[0].transpose(1, 2), in[1].slice(1, 0, 6, 2));
      },
      {leaf({2, 3, 2}), leaf({3, 6})});
  check_grad([](const std::vector<Tensor>& in) { return matmul(in[0], in[0].t()); },
             {leaf({3, 2})});
  check_grad(
      [](const std::vector<Tensor>& in) {
        return matmul(in[0].expand({2, 2, 3}), in[1]);
      },
      {leaf({2, 3}), leaf({2, 3, 2})});
  // only one side requires grad
  const Tensor b = randn({3, 2}, kFloat64);
  check_grad([&](const std::vector<Tensor>& in) { return matmul(in[0], b); }, {leaf({2, 3})});
  check_grad([&](const std::vector<Tensor>& in) { return matmul(b.t(), in[0]); }, {leaf({3, 2})});
}

TEST_CASE("grad linalg: bmm") {
  manual_seed(505);
  check_grad([](const std::vector<Tensor>& in) { return bmm(in[0], in[1]); },
             {leaf({2, 2, 3}), leaf({2, 3, 2})});
  check_grad([](const std::vector<Tensor>& in) { return bmm(in[0], in[1]); },
             {leaf({3, 1, 4}), leaf({3, 4, 1})});
  check_grad(
      [](const std::vector<Tensor>& in) {
        return bmm(in[0].transpose(1, 2), in[1].permute({1, 0, 2}));
      },
      {leaf({2, 3, 2}), leaf({3, 2, 2})});
}

TEST_CASE("grad linalg: linear with and without bias, several input ranks") {
  manual_seed(506);
  const auto with_bias = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
  const auto no_bias = [](const std::vector<Tensor>& in) { return linear(in[0], in[1]); };
  for (const Shape& xs : std::vector<Shape>{{3}, {2, 3}, {1, 3}, {2, 2, 3}, {2, 1, 2, 3}}) {
    INFO("linear input " << shape_str(xs));
    check_grad(with_bias, {leaf(xs), leaf({4, 3}), leaf({4})});
    check_grad(no_bias, {leaf(xs), leaf({2, 3})});
  }
  // transposed input and weight views, and a weight used twice
  check_grad([](const std::vector<Tensor>& in) { return linear(in[0].t(), in[1].t(), in[2]); },
             {leaf({3, 2}), leaf({3, 4}), leaf({4})});
  check_grad(
      [](const std::vector<Tensor>& in) { return linear(tanh(linear(in[0], in[1])), in[1]); },
      {leaf({2, 3}), leaf({3, 3})});
  // only the bias requires grad; only the input requires grad
  const Tensor w = randn({2, 3}, kFloat64);
  const Tensor x = randn({2, 2, 3}, kFloat64);
  check_grad([&](const std::vector<Tensor>& in) { return linear(x, w, in[0]); }, {leaf({2})});
  check_grad([&](const std::vector<Tensor>& in) { return linear(in[0], w); }, {leaf({2, 2, 3})});
  // linear agrees with matmul + bias
  const Tensor xx = randn({2, 3}, kFloat64), ww = randn({4, 3}, kFloat64),
               bb = randn({4}, kFloat64);
  hg::test::expect_close(hg::test::values(linear(xx, ww, bb)),
                         hg::test::values(matmul(xx, ww.t()) + bb), 1e-12, 1e-12);
}

// LinearBackward takes the weight and bias gradients from one kernel call (gemm_bias_grad: a
// single cuBLASLt matmul on CUDA): the bits of matmul's and the broadcast add's backward.
TEST_CASE("grad linalg: linear's weight and bias gradients in one call, matmul + add's bits") {
  for (DType dtype : {kFloat32, kFloat16, kBFloat16, kFloat64}) {
    CAPTURE(dtype_name(dtype));
    manual_seed(503);
    const Tensor x = randn({6, 5}).to(dtype), w0 = randn({4, 5}).to(dtype);
    const Tensor b0 = randn({4}).to(dtype), g = randn({6, 4}).to(dtype);
    Tensor w = w0.clone().requires_grad_(), b = b0.clone().requires_grad_();
    Tensor w_ref = w0.clone().requires_grad_(), b_ref = b0.clone().requires_grad_();
    linear(x, w, b).backward(g);
    (matmul(x, w_ref.t()) + b_ref).backward(g);
    CHECK(hg::test::values(w.grad()) == hg::test::values(w_ref.grad()));
    CHECK(hg::test::values(b.grad()) == hg::test::values(b_ref.grad()));
  }
  // under autocast the bias gradient is sum's (fp32 policy), as before
  Tensor w = randn({3, 4}).requires_grad_(), b = randn({3}).requires_grad_();
  const Tensor x = randn({2, 4});
  {
    amp::AutocastGuard region(kBFloat16);
    linear(x, w, b).sum().backward();
  }
  CHECK(w.grad().dtype() == kFloat32);
  CHECK(b.grad().dtype() == kFloat32);
}

TEST_CASE("grad linalg: errors name the op, the shapes and the dtypes") {
  const Tensor a = ones({2, 3});
  expect_error(
      [&] {
        matmul(a, ones({4, 5}));
      },
      {"matmul", "inner", "[2, 3] float32", "[4, 5] float32"});
  expect_error([&] { matmul(ones({3}), ones({4})); }, {"matmul", "[3] float32", "[4] float32"});
  expect_error(
      [&] {
        matmul(ones({2, 2, 3}), ones({3, 3, 2}));
      },
      {"matmul", "[2]", "[3]", "broadcast"});
  expect_error(
      [&] {
        matmul(a, ones({3, 2}, kFloat64));
      },
      {"matmul", "dtypes", "[2, 3] float32", "[3, 2] float64"});
  expect_error(
      [&] {
        matmul(arange(4, kInt64).view({2, 2}), arange(4, kInt64).view({2, 2}));
      },
      {"matmul", "floating", "[2, 2] int64"});
  expect_error([&] { matmul(ones({}), a); }, {"matmul", "[] float32", "[2, 3] float32"});
  expect_error([&] { bmm(a, ones({3, 2})); }, {"bmm", "[2, 3] float32", "[3, 2] float32"});
  expect_error(
      [&] {
        bmm(ones({2, 2, 3}), ones({3, 3, 2}));
      },
      {"bmm", "[2, 2, 3] float32", "[3, 3, 2] float32"});
  expect_error([&] { bmm(ones({2, 2, 3}), ones({2, 4, 2})); }, {"bmm", "[2, 2, 3]", "[2, 4, 2]"});
  expect_error([&] { linear(a, ones({4, 2})); }, {"linear", "[2, 3] float32", "[4, 2] float32"});
  expect_error(
      [&] {
        linear(a, ones({4, 3}), ones({3}));
      },
      {"linear", "bias", "[3] float32", "[4, 3] float32"});
  expect_error(
      [&] {
        linear(a, ones({4, 3}), ones({4}, kFloat64));
      },
      {"linear", "[2, 3] float32", "[4] float64"});
  expect_error(
      [&] {
        linear(a, ones({4, 3}, kFloat16));
      },
      {"linear", "[2, 3] float32", "[4, 3] float16"});
  expect_error([&] { linear(a, ones({3})); }, {"linear", "[3] float32"});
}
