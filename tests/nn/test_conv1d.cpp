// nn::Conv1d and the 1-D pooling layers (nn/pool1d.h): parameters, PyTorch's default
// initialisation bounds, forward = the functional op, printing.
#include <cmath>

#include "test_util.h"

using namespace hg;
using hg::test::expect_error;
using hg::test::values;

TEST_CASE("Conv1d: parameters, initialisation and forward") {
  manual_seed(5);
  nn::Conv1d conv(nn::Conv1dOptions(4, 6, 3).stride(2).padding(1).groups(2));
  CHECK(conv.weight.sizes() == Shape{6, 2, 3});
  CHECK(conv.bias.sizes() == Shape{6});
  CHECK(conv.parameters().size() == 2);
  // kaiming_uniform(a = sqrt(5)): bound 1 / sqrt(fan_in), fan_in = 2 * 3; the bias alike
  const double bound = 1.0 / std::sqrt(6.0);
  CHECK(max(abs(conv.weight)).item<double>() <= bound);
  CHECK(max(abs(conv.bias)).item<double>() <= bound);
  const Tensor x = randn({3, 4, 9});
  const Tensor y = conv(x);
  CHECK(y.sizes() == Shape{3, 6, 5});
  CHECK(hg::test::same_bits(y, conv1d(x, conv.weight, conv.bias, 2, 1, 1, 2)));
  CHECK(conv.describe() == "Conv1d(4, 6, kernel_size=3, stride=2, padding=1, groups=2)");
  nn::Conv1d plain(2, 3, 5);
  CHECK(plain.describe() == "Conv1d(2, 3, kernel_size=5, stride=1, padding=0)");
  CHECK(nn::Conv1d(nn::Conv1dOptions(2, 3, 1).bias(false).dilation(2)).describe() ==
        "Conv1d(2, 3, kernel_size=1, stride=1, padding=0, dilation=2, bias=false)");
  CHECK(values(nn::Conv1d(0, 2, 3).bias) == std::vector<double>(2, 0.0));  // no inputs
  expect_error([] { nn::Conv1d(nn::Conv1dOptions(3, 4, 3).groups(2)); },
               {"Conv1d", "in_channels 3", "groups 2"});
}

TEST_CASE("MaxPool1d, AvgPool1d, AdaptiveAvgPool1d, AdaptiveMaxPool1d: forward and printing") {
  const Tensor x = randn({2, 3, 9});
  CHECK(hg::test::same_bits(nn::MaxPool1d(3, 2, 1)(x), max_pool1d(x, 3, 2, 1)));
  CHECK(hg::test::same_bits(nn::AvgPool1d(2)(x), avg_pool1d(x, 2)));
  CHECK(nn::AdaptiveAvgPool1d(1)(x).sizes() == Shape{2, 3, 1});
  CHECK(nn::AdaptiveMaxPool1d(4)(x).sizes() == Shape{2, 3, 4});
  CHECK(nn::MaxPool1d(3, 2, 1).describe() == "MaxPool1d(kernel_size=3, stride=2, padding=1)");
  CHECK(nn::AvgPool1d(2).describe() == "AvgPool1d(kernel_size=2, stride=2, padding=0)");
  CHECK(nn::AdaptiveAvgPool1d(5).describe() == "AdaptiveAvgPool1d(output_size=5)");
  CHECK(nn::AdaptiveMaxPool1d(4).describe() == "AdaptiveMaxPool1d(output_size=4)");
}
