// conv_transpose2d (autograd/conv_ops.cpp): values and gradients against PyTorch 1.13 in
// float64, gradcheck over strides, paddings, dilations and groups, the adjoint identity with
// conv2d, the 16-bit and autocast rules, and the errors.
#include <functional>
#include <vector>

#include "grad_util.h"

using namespace hg;
using hg::test::check_grad;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::reference_upstream;
using hg::test::reference_values;
using hg::test::values;

TEST_CASE("conv_transpose2d: PyTorch's values and gradients") {
  // torch 1.13: F.conv_transpose2d(x, w, b, stride=(2, 1), padding=(1, 0), output_padding=(1, 0),
  // groups=2, dilation=(1, 2)), float64, then (y * g).sum().backward()
  Tensor x = reference_values({1, 4, 2, 2}, 3, 13, 6, 4.0).requires_grad_();
  Tensor w = reference_values({4, 1, 3, 2}, 5, 9, 4, 3.0).requires_grad_();
  Tensor b = from_vector<double>({0.1, -0.2}, {2}, kFloat64).requires_grad_();
  const Tensor y = conv_transpose2d(x, w, b, {2, 1}, {1, 0}, {1, 0}, 2, {1, 2});
  REQUIRE(y.sizes() == Shape{1, 2, 4, 4});
  (y * reference_upstream(y.sizes())).sum().backward();
  expect_close(values(y),
               // clang-format off
               {1.6, 0.85, -2.9, 0.9333333333333332, 1.6833333333333333, -0.9,
                -3.2333333333333334, 1.2666666666666666, 0.1, -0.65, 0.43333333333333335,
                -0.06666666666666662, 0.016666666666666677, -0.23333333333333336, 0.35, 0.35,
                0.04999999999999999, 0.04999999999999999, 0.04999999999999999,
                -0.7833333333333332, 1.4666666666666666, -0.7, 0.8833333333333333,
                -1.8666666666666667, 0.04999999999999999, 0.04999999999999999,
                -0.5333333333333333, -0.2833333333333333, -0.3666666666666667, 0.1333333333333333,
                -0.95, -0.2},
               // clang-format on
               1e-12, 1e-12);
  expect_close(values(x.grad()),
               {0.0, -3.5, -5.666666666666666, 1.1666666666666667, 1.0, 3.0, 1.8333333333333335,
                -5.333333333333333, -1.1666666666666665, -3.1666666666666665, -4.166666666666666,
                2.0, 2.333333333333333, 2.333333333333333, 3.3333333333333335, -1.5},
               1e-12, 1e-12);
  expect_close(values(w.grad()), {0.375, -1.125, 1.5,   1.875, -3.0,   2.625, -0.125, -0.625,
                                  -3.5,  2.0,    1.375, 1.625, -0.125, -0.5,  2.125,  0.875,
                                  2.25,  1.0,    0.375, -0.75, 2.25,   0.375, 2.875,  1.0},
               1e-12, 1e-12);
  CHECK(values(b.grad()) == std::vector<double>{-0.5, -1.0});
}

TEST_CASE("conv_transpose2d: gradcheck across strides, paddings, dilations and groups") {
  manual_seed(41);
  struct Setting {
    Pair stride, padding, output_padding;
    int64_t groups;
    Pair dilation;
  };
  for (const Setting& s :
       {Setting{{1, 1}, {0, 0}, {0, 0}, 1, {1, 1}}, Setting{{2, 2}, {1, 1}, {1, 1}, 1, {1, 1}},
        Setting{{3, 1}, {0, 2}, {2, 0}, 3, {1, 2}}, Setting{{1, 2}, {1, 0}, {0, 1}, 1, {2, 1}}}) {
    CAPTURE(s.stride[0]);
    CAPTURE(s.groups);
    const auto fn = [s](const std::vector<Tensor>& in) {
      return conv_transpose2d(in[0], in[1], in[2], s.stride, s.padding, s.output_padding, s.groups,
                              s.dilation);
    };
    check_grad(fn, {hg::test::leaf({2, 3, 3, 4}), hg::test::leaf({3, 2, 2, 3}),
                    hg::test::leaf({2 * s.groups})});
  }
}

TEST_CASE("conv_transpose2d is conv2d's adjoint") {
  // <conv2d(u, w), x> = <u, conv_transpose2d(x, w)> for every u of the transposed output's shape
  manual_seed(42);
  const Tensor x = randn({2, 4, 3, 5}, kFloat64), w = randn({4, 3, 3, 3}, kFloat64);
  const Tensor y = conv_transpose2d(x, w, Tensor(), {2, 2}, {1, 0}, {1, 0});
  REQUIRE(y.sizes() == Shape{2, 3, 6, 11});
  const Tensor u = randn(y.sizes(), kFloat64);
  const Tensor forward = conv2d(u, w, Tensor(), {2, 2}, {1, 0});
  REQUIRE(forward.sizes() == x.sizes());
  expect_close({(forward * x).sum().item<double>()}, {(u * y).sum().item<double>()}, 1e-10, 1e-12);
}

TEST_CASE("conv_transpose2d: 16-bit inputs computed in float, autocast, no bias") {
  manual_seed(43);
  const auto fn = [](const std::vector<Tensor>& in) {
    return conv_transpose2d(in[0], in[1], in[2], {2, 2}, {1, 1}, {1, 0});
  };
  const std::vector<Tensor> inputs{randn({2, 3, 4, 4}, kFloat64), randn({3, 5, 3, 3}, kFloat64),
                                   randn({5}, kFloat64)};
  hg::test::check_lowp(fn, inputs, kFloat16, 2e-3, "conv_transpose2d fp16");
  hg::test::check_lowp(fn, inputs, kBFloat16, 1.6e-2, "conv_transpose2d bf16");
  {
    amp::AutocastGuard autocast(kFloat16);  // conv2d's policy: the lower precision
    CHECK(conv_transpose2d(randn({1, 2, 4, 4}), randn({2, 3, 3, 3}), randn({3})).dtype() ==
          kFloat16);
  }
  Tensor x = randn({1, 2, 3, 3}).requires_grad_(), w = randn({2, 2, 2, 2}).requires_grad_();
  conv_transpose2d(x, w).sum().backward();
  CHECK(x.grad().sizes() == x.sizes());
  CHECK(w.grad().sizes() == w.sizes());
}

TEST_CASE("conv_transpose2d: errors name the op, shapes and settings") {
  const Tensor x = zeros({1, 4, 3, 3});
  expect_error(
      [&] {
        conv_transpose2d(zeros({4, 3, 3}), zeros({4, 2, 3, 3}));
      },
      {"conv_transpose2d", "[N, C, H, W]", "[4, 3, 3]"});
  expect_error(
      [&] {
        conv_transpose2d(x, zeros({3, 2, 3, 3}));
      },
      {"conv_transpose2d", "[1, 4, 3, 3]", "[3, 2, 3, 3]", "groups = 1"});
  expect_error(
      [&] {
        conv_transpose2d(x, zeros({4, 2, 3, 3}), Tensor(), {1, 1}, {0, 0}, {0, 0}, 3);
      },
      {"conv_transpose2d", "groups = 3"});
  expect_error(
      [&] {
        conv_transpose2d(x, zeros({4, 2, 3, 3}), zeros({3}));
      },
      {"conv_transpose2d", "bias", "[3]", "expected [2]"});
  expect_error(
      [&] {
        conv_transpose2d(x, zeros({4, 2, 3, 3}), Tensor(), {2, 2}, {0, 0}, {2, 0});
      },
      {"conv_transpose2d", "output_padding (2, 0)", "stride (2, 2)"});
  expect_error(
      [&] {
        conv_transpose2d(x, zeros({4, 2, 3, 3}), Tensor(), {1, 1}, {3, 3});
      },
      {"conv_transpose2d", "output would be -1x-1", "padding (3, 3)"});
  expect_error(
      [&] {
        conv_transpose2d(x, zeros({4, 2, 3, 3}, kFloat16));
      },
      {"conv_transpose2d", "dtypes differ", "float16"});
  expect_error(
      [&] {
        conv_transpose2d(zeros({1, 4, 3, 3}, kInt64), zeros({4, 2, 3, 3}, kInt64));
      },
      {"conv_transpose2d", "floating", "int64"});
}
