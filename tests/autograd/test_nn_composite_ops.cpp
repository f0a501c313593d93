// conv1d and group_norm (autograd/nn_composite_ops.cpp): values and gradients against PyTorch
// 1.13 in float64, gradcheck, the 16-bit and autocast rules, and the errors.
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

TEST_CASE("group_norm: PyTorch's values and gradients") {
  // torch 1.13: F.group_norm(x, 2, w, b, 1e-5), x [2, 4, 3] float64, then (y * g).sum().backward()
  Tensor x = reference_values({2, 4, 3}, 7, 11, 5, 4.0).requires_grad_();
  Tensor w = from_vector<double>({0.5, -1.0, 2.0, 1.5}, {4}, kFloat64).requires_grad_();
  Tensor b = from_vector<double>({0.25, 0.0, -0.5, 1.0}, {4}, kFloat64).requires_grad_();
  const Tensor y = group_norm(x, 2, w, b);
  (y * reference_upstream(y.sizes())).sum().backward();
  expect_close(
      values(y),
      {-0.4465210678659888, 0.5982605339329944,  0.0012424757621468663, -1.59204815512226,
       -0.398012038780565,  0.79602407756113,    2.2239197089728475,    -0.1973422545585724,
       -2.618604218089992,  2.5889531635674947,  0.7730066909189295,    -1.0429397817296355,
       0.393148231890069,   -0.2939632811822621, 0.9084818666943173,    0.05725929275602759,
       1.4314823189006898,  -0.973407976852469,  0.07259292756027591,   -2.6758531247290485,
       2.133927466777269,   0.9141110608659586,  -1.1472234783510347,   2.4601119652787036},
      1e-12, 1e-12);
  expect_close(values(x.grad()),
               {0.12559922302058035, 0.4595911893892014,  0.5246035192517812,  0.5600864565349785,
                -1.762973446285832,  0.09309305808929047, 0.9025551105919571,  -3.1729035680415167,
                1.226054625684979,   1.6996369135821536,  -1.7705062741684656, 1.1151631923508931,
                0.48998983630659465, -0.0754714439769987, -0.9754708644296209, -1.1973763881770485,
                0.29849687075635134, 1.4598319895207224,  3.8410615853303223,  -0.02926994712180614,
                -0.8144164091262232, -3.6540806719698553, 0.37737019590982385, 0.279335246977738},
               1e-12, 1e-12);
  expect_close(values(w.grad()),
               {1.4977501844533343, -2.423709405340474, -2.7402757975756513, -3.23720428877557},
               1e-12, 1e-12);
  CHECK(values(b.grad()) == std::vector<double>{-2.0, 1.0, 0.5, 0.0});
}

TEST_CASE("group_norm: gradcheck, shapes, widths and autocast") {
  manual_seed(29);
  const Tensor x = hg::test::leaf({2, 6, 2, 3});
  const Tensor w = hg::test::leaf({6}), b = hg::test::leaf({6});
  check_grad([](const std::vector<Tensor>& in) { return group_norm(in[0], 3, in[1], in[2]); },
             {x, w, b});
  check_grad([](const std::vector<Tensor>& in) { return group_norm(in[0], 1); }, {x});
  // one group per channel is instance norm; one group for all of them is layer norm over [C, *]
  const Tensor x32 = randn({2, 4, 5});
  expect_close(values(group_norm(x32, 4)),
               values(layer_norm(x32.reshape({8, 5}), {5}).reshape({2, 4, 5})), 1e-6, 1e-6);
  expect_close(values(group_norm(x32, 1)), values(layer_norm(x32, {4, 5})), 1e-6, 1e-6);
  // a 16-bit input is normalised, scaled and shifted in float, then rounded once
  const Tensor w32 = randn({4}), b32 = randn({4});
  for (const DType dtype : {kFloat16, kBFloat16}) {
    CAPTURE(dtype_name(dtype));
    const Tensor x16 = x32.to(dtype);
    const Tensor out = group_norm(x16, 2, w32.to(dtype), b32.to(dtype));
    CHECK(out.dtype() == dtype);
    CHECK(hg::test::same_bits(
        out, group_norm(x16.to(kFloat32), 2, w32.to(dtype).to(kFloat32), b32.to(dtype).to(kFloat32))
                 .to(dtype)));
  }
  // fp32 under a 16-bit autocast, as PyTorch's list has it; the gradient reaches the fp16 input
  Tensor x16 = x32.to(kFloat16).requires_grad_();
  {
    amp::AutocastGuard autocast(kFloat16);
    const Tensor out = group_norm(x16, 2, w32, b32);
    CHECK(out.dtype() == kFloat32);
    out.sum().backward();
  }
  CHECK(x16.grad().dtype() == kFloat16);
  // an empty batch and empty spatial dims pass through
  CHECK(group_norm(zeros({0, 4, 3}), 2).sizes() == Shape{0, 4, 3});
  CHECK(group_norm(zeros({2, 4, 0}), 2).sizes() == Shape{2, 4, 0});
}

TEST_CASE("group_norm: errors name the op and the shapes") {
  const Tensor x = zeros({2, 6, 3});
  expect_error([&] { group_norm(x, 4); },
               {"group_norm", "6 channels", "[2, 6, 3]", "num_groups 4"});
  expect_error([&] { group_norm(zeros({6}), 1); }, {"group_norm", "[N, C, *]", "[6]"});
  expect_error([&] { group_norm(x, 2, ones({3})); }, {"group_norm", "[3]", "must be [6]"});
  expect_error([&] { group_norm(x, 2, ones({6}, kFloat64)); }, {"group_norm", "float64"});
  expect_error([&] { group_norm(zeros({2, 6}, kInt64), 2); }, {"group_norm", "floating", "int64"});
}

TEST_CASE("conv1d: PyTorch's values and gradients") {
  // torch 1.13: F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2), float64
  Tensor x = reference_values({2, 4, 7}, 3, 13, 6, 4.0).requires_grad_();
  Tensor w = reference_values({6, 2, 3}, 5, 9, 4, 3.0).requires_grad_();
  Tensor b = from_vector<double>({0.1, -0.2, 0.3, -0.4, 0.5, -0.6}, {6}, kFloat64).requires_grad_();
  const Tensor y = conv1d(x, w, b, /*stride=*/2, /*padding=*/1, /*dilation=*/2, /*groups=*/2);
  REQUIRE(y.sizes() == Shape{2, 6, 3});
  (y * reference_upstream(y.sizes())).sum().backward();
  expect_close(values(y),
               // clang-format off
               {-2.233333333333333, 4.516666666666667, -2.233333333333333, -0.2833333333333334,
                -1.7833333333333332, -0.7833333333333332, 3.2166666666666663, -2.783333333333333,
                2.9666666666666663, -0.8166666666666668, -2.15, -1.3166666666666669,
                -0.16666666666666663, 5.75, -1.1666666666666665, -0.7666666666666666, -1.1,
                -1.5166666666666664, 2.683333333333333, -3.483333333333333, 2.7666666666666666,
                -0.36666666666666664, -0.03333333333333327, -0.7833333333333332, -1.8666666666666665,
                3.4666666666666663, -2.033333333333333, -1.3166666666666667, -2.566666666666667,
                -0.6499999999999999, 4.083333333333334, -1.1666666666666665, 4.25,
                -1.5166666666666666, -0.2666666666666664, -1.1},
               // clang-format on
               1e-12, 1e-12);
  expect_close(values(x.grad()),
               // clang-format off
               {0.0, -4.333333333333333, 0.0, 4.833333333333333, 0.0, -2.5, 0.0, 0.0,
                -0.8333333333333331, 0.0, -3.6666666666666665, 0.0, 1.0, 0.0, 0.0, 1.5, 0.0,
                -2.1666666666666665, 0.0, 0.16666666666666663, 0.0, 0.0, 1.5, 0.0,
                3.3333333333333335, 0.0, -3.333333333333333, 0.0, 0.0, -0.8333333333333335, 0.0,
                -1.0, 0.0, 0.5, 0.0, 0.0, -4.333333333333333, 0.0, 4.5, 0.0, 0.5, 0.0, 0.0, 1.5, 0.0,
                -3.333333333333333, 0.0, 4.333333333333333, 0.0, 0.0, 1.5, 0.0, -1.333333333333333,
                0.0, -2.6666666666666665, 0.0},
               // clang-format on
               1e-12, 1e-12);
  expect_close(values(w.grad()), {0.125, 2.25, -3.375, 0.5,    -2.25,  2.875, 0.0,    -0.75, -0.25,
                                  1.125, 0.25, -0.25,  2.5,    -3.75,  2.875, -2.625, 2.75,  -3.375,
                                  -0.25, -1.0, -1.5,   -0.25,  -0.375, 2.25,  -4.125, 1.75,  -0.375,
                                  -2.25, 3.0,  0.875,  -1.875, -0.75,  0.75,  1.875,  1.125, -0.5},
               1e-12, 1e-12);
  CHECK(values(b.grad()) == std::vector<double>{1.0, 0.5, 0.0, -0.5, -1.0, -1.5});
}

TEST_CASE("conv1d: gradcheck, autocast and errors") {
  manual_seed(30);
  check_grad([](const std::vector<Tensor>& in) { return conv1d(in[0], in[1], in[2], 1, 2); },
             {hg::test::leaf({2, 3, 5}), hg::test::leaf({4, 3, 2}), hg::test::leaf({4})});
  {
    amp::AutocastGuard autocast(kBFloat16);  // conv2d's policy: the lower precision
    CHECK(conv1d(randn({1, 2, 8}), randn({3, 2, 3})).dtype() == kBFloat16);
  }
  const Tensor x = zeros({2, 4, 7});
  expect_error([&] { conv1d(zeros({4, 7}), zeros({2, 4, 3})); }, {"conv1d", "[N, C, L]", "[4, 7]"});
  expect_error(
      [&] {
        conv1d(x, zeros({2, 3, 3}));
      },
      {"conv1d", "[2, 4, 7]", "[2, 3, 3]", "groups 1"});
  expect_error([&] { conv1d(x, zeros({2, 4, 3}), Tensor(), 0); }, {"conv1d", "stride 0"});
}

TEST_CASE("dropout2d: whole channels, scaled, reproducible, its gradient the mask") {
  manual_seed(34);
  Tensor x = (randn({4, 6, 3, 5}, kFloat64).abs() + 1.0).requires_grad_();  // never 0
  const Tensor y = dropout2d(x, 0.25);
  const Tensor kept = ne(y.detach(), scalar_tensor(0.0, kFloat64));
  // each channel all kept or all dropped; kept values scaled by 1 / (1 - p)
  int dropped = 0;
  for (const double count : values(kept.to(kFloat64).sum({2, 3}))) {
    CHECK((count == 0.0 || count == 15.0));
    dropped += count == 0.0;
  }
  CHECK(dropped > 0);
  CHECK(dropped < 24);
  expect_close(values(where(kept, y.detach(), zeros_like(y.detach()))),
               values(where(kept, x.detach() / 0.75, zeros_like(y.detach()))), 0, 1e-15);
  y.sum().backward();
  CHECK(values(x.grad()) ==
        values(where(kept, full_like(y.detach(), 1 / 0.75), zeros_like(y.detach()))));
  // the same seed, the same channels
  manual_seed(34);
  (void)randn({4, 6, 3, 5}, kFloat64);
  CHECK(hg::test::same_bits(dropout2d(x.detach(), 0.25), y.detach()));
  // eval and p = 0 pass x through; an unbatched [C, H, W] works
  CHECK(dropout2d(x, 0.5, false).is_same(x));
  CHECK(dropout2d(zeros({3, 2, 2}), 0.5).sizes() == Shape{3, 2, 2});
  expect_error([] { dropout2d(zeros({3, 4}), 0.5); }, {"dropout2d", "[C, H, W]", "[3, 4]"});
  expect_error([] { dropout2d(zeros({1, 3, 4, 4}), 1.5); }, {"dropout2d", "1.5"});
  CHECK(nn::Dropout2d(0.2).describe() == "Dropout2d(p=0.2)");
}

TEST_CASE("1-D pools: PyTorch's values and gradients, and errors under their own names") {
  // torch 1.13, float64, x [2, 2, 7]: F.max_pool1d(x, 3, 2, 1), F.avg_pool1d(x, 3, 2, 1,
  // count_include_pad=False), F.adaptive_avg_pool1d(x, 3), F.adaptive_max_pool1d(x, 4)
  struct Case {
    const char* torch_call;
    std::function<Tensor(const Tensor&)> pool;
    std::vector<double> y, grad;
  };
  const std::vector<double> max_y = {-0.75, 0.75, 1.5, -0.25, 1.25, 1.25, 1.0, 1.0,
                                     0.0,   1.5,  1.5, 0.5,   1.25, 0.25, 1.0, -0.75};
  const std::vector<double> max_grad = {0.0, -1.5, 0.0,  1.0, 0.0,  0.0,  -1.0, 0.0,  2.0, 0.0,
                                        0.0, 0.0,  -2.0, 0.0, 0.0,  1.0,  0.0,  -1.0, 0.0, 0.0,
                                        1.5, 0.5,  0.0,  0.0, -0.5, -1.5, 0.0,  1.0};
  const std::vector<Case> cases = {
      {"max_pool1d", [](const Tensor& x) { return max_pool1d(x, 3, 2, 1); }, max_y, max_grad},
      {"avg_pool1d",
       [](const Tensor& x) { return avg_pool1d(x, 3, 2, 1, false); },
       {-1.125, 0.0, 0.4166666666666667, -0.625, 0.875, -0.16666666666666666, 0.25, -0.25, -0.375,
        0.75, 0.08333333333333333, 0.125, 0.0, -0.5, -0.08333333333333333, -1.125},
       // clang-format off
       {-0.75, -0.4166666666666667, 0.3333333333333333, 0.3333333333333333, 0.0, -0.5, -0.5, 0.75,
        0.9166666666666666, 0.16666666666666666, 0.0, -0.16666666666666666, -0.9166666666666666,
        -0.75, 0.5, 0.5, 0.0, -0.3333333333333333, -0.3333333333333333, 0.4166666666666667, 0.75,
        0.25, 0.08333333333333334, -0.16666666666666666, -0.6666666666666666, -0.5, 0.0, 0.5}},
      // clang-format on
      {"adaptive_avg_pool1d",
       [](const Tensor& x) { return adaptive_avg_pool1d(x, 3); },
       {-0.75, 0.75, 0.08333333333333333, 0.16666666666666666, -0.5, -0.08333333333333333, 0.0,
        0.4166666666666667, -0.25, -0.16666666666666666, 0.25, -0.4166666666666667},
       // clang-format off
       {-0.5, -0.5, -0.16666666666666669, 0.3333333333333333, 0.3333333333333333, 0.0, 0.0,
        -0.3333333333333333, -0.3333333333333333, 0.16666666666666669, 0.5, 0.6666666666666666,
        0.16666666666666666, 0.16666666666666666, -0.16666666666666666, -0.16666666666666666,
        -0.6666666666666666, -0.5, -0.16666666666666669, 0.3333333333333333, 0.3333333333333333, 0.0,
        0.0, -0.3333333333333333, -0.3333333333333333, 0.16666666666666669, 0.5, 0.5}},
      // clang-format on
      {"adaptive_max_pool1d", [](const Tensor& x) { return adaptive_max_pool1d(x, 4); }, max_y,
       max_grad},
  };
  for (const Case& c : cases) {
    CAPTURE(c.torch_call);
    Tensor x = reference_values({2, 2, 7}, 3, 13, 6, 4.0).requires_grad_();
    const Tensor y = c.pool(x);
    REQUIRE(y.sizes() == Shape{2, 2, static_cast<int64_t>(c.y.size() / 4)});
    expect_close(values(y), c.y, 1e-15, 1e-15);
    (y * reference_upstream(y.sizes())).sum().backward();
    expect_close(values(x.grad()), c.grad, 1e-15, 1e-15);
  }
  CHECK(max_pool1d(zeros({1, 1, 8}), 2).sizes() == Shape{1, 1, 4});  // stride 0: the kernel
  expect_error([] { max_pool1d(zeros({2, 8}), 2); }, {"max_pool1d", "[N, C, L]", "[2, 8]"});
  expect_error(
      [] {
        avg_pool1d(zeros({1, 2, 3}), 5);
      },
      {"avg_pool1d of input [1, 2, 3]", "height of one", "avg_pool2d"});
  expect_error([] { conv1d(zeros({1, 2, 3}), zeros({4, 2, 5})); }, {"conv1d of input [1, 2, 3]"});
}
