// nn::ConvTranspose2d: parameters, PyTorch's default initialisation bounds, forward = the
// functional op, output sizes, printing.
#include <cmath>

#include "test_util.h"

using namespace hg;
using hg::test::expect_error;

TEST_CASE("ConvTranspose2d: parameters, initialisation and forward") {
  manual_seed(6);
  nn::ConvTranspose2d up(
      nn::ConvTranspose2dOptions(4, 6, 3).stride(2).padding(1).output_padding(1).groups(2));
  CHECK(up.weight.sizes() == Shape{4, 3, 3, 3});
  CHECK(up.bias.sizes() == Shape{6});
  CHECK(up.parameters().size() == 2);
  // kaiming_uniform(a = sqrt(5)): bound 1 / sqrt(fan_in), fan_in = weight.size(1) * 3 * 3 = 27
  const double bound = 1.0 / std::sqrt(27.0);
  CHECK(max(abs(up.weight)).item<double>() <= bound);
  CHECK(max(abs(up.weight)).item<double>() > 0.8 * bound);
  CHECK(max(abs(up.bias)).item<double>() <= bound);
  const Tensor x = randn({2, 4, 5, 7});
  const Tensor y = up(x);
  CHECK(y.sizes() == Shape{2, 6, 10, 14});  // stride 2, kernel 3, padding 1, output_padding 1
  CHECK(hg::test::same_bits(
      y, conv_transpose2d(x, up.weight, up.bias, {2, 2}, {1, 1}, {1, 1}, 2, {1, 1})));
  CHECK(up.describe() ==
        "ConvTranspose2d(4, 6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), "
        "output_padding=(1, 1), groups=2)");
  nn::ConvTranspose2d plain(2, 3, 2);
  CHECK(plain(randn({1, 2, 4, 4})).sizes() == Shape{1, 3, 5, 5});
  CHECK(plain.describe() == "ConvTranspose2d(2, 3, kernel_size=(2, 2), stride=(1, 1))");
  nn::ConvTranspose2d no_bias(nn::ConvTranspose2dOptions(2, 3, Pair{1, 2}).bias(false).dilation(2));
  CHECK(!no_bias.bias.defined());
  CHECK(no_bias.describe() ==
        "ConvTranspose2d(2, 3, kernel_size=(1, 2), stride=(1, 1), dilation=(2, 2), bias=false)");
  expect_error([] { nn::ConvTranspose2d(nn::ConvTranspose2dOptions(3, 4, 3).groups(2)); },
               {"ConvTranspose2d", "in_channels 3", "groups 2"});
}
