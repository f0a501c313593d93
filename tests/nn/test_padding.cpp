// The padding layers (nn/padding.h): libtorch's names and their hg::pad modes.
#include "test_util.h"

using namespace hg;
using hg::test::expect_error;
using hg::test::same_bits;

TEST_CASE("ZeroPad2d, ConstantPad2d, ReflectionPad2d, ReplicationPad2d") {
  const Tensor x = randn({2, 3, 4, 5});
  CHECK(same_bits(nn::ZeroPad2d(1)(x), pad(x, {1, 1, 1, 1})));
  CHECK(same_bits(nn::ZeroPad2d({1, 0, 2, 3})(x), pad(x, {1, 0, 2, 3})));
  CHECK(same_bits(nn::ConstantPad2d(2, 0.5)(x), pad(x, {2, 2, 2, 2}, PadMode::Constant, 0.5)));
  CHECK(same_bits(nn::ReflectionPad2d({3, 1, 0, 2})(x), pad(x, {3, 1, 0, 2}, PadMode::Reflect)));
  CHECK(same_bits(nn::ReplicationPad2d(2)(x), pad(x, {2, 2, 2, 2}, PadMode::Replicate)));
  CHECK(nn::ReflectionPad2d(1)(x.select(0, 0)).sizes() == Shape{3, 6, 7});  // unbatched
  CHECK(nn::ZeroPad2d({1, 0, 2, 3}).describe() == "ZeroPad2d((1, 0, 2, 3))");
  CHECK(nn::ConstantPad2d(1, 2.5).describe() == "ConstantPad2d((1, 1, 1, 1), value=2.5)");
  CHECK(nn::ReplicationPad2d(2).parameters().empty());
  expect_error([&] { nn::ZeroPad2d(1)(randn({5})); }, {"ZeroPad2d((1, 1, 1, 1))", "[5]"});
}

TEST_CASE("Conv2d padding_mode: the padding filled by hg::pad before the convolution") {
  manual_seed(7);
  nn::Conv2d conv(nn::Conv2dOptions(3, 4, 3).padding({1, 2}).padding_mode(PadMode::Reflect));
  const Tensor x = randn({2, 3, 5, 6});
  const Tensor y = conv(x);
  CHECK(y.sizes() == Shape{2, 4, 5, 8});
  CHECK(same_bits(y, conv2d(pad(x, {2, 2, 1, 1}, PadMode::Reflect), conv.weight, conv.bias)));
  CHECK(conv.describe() ==
        "Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 2), padding_mode=reflect)");
  // zeros (the default) pads inside the convolution
  nn::Conv2d zeros_mode(nn::Conv2dOptions(3, 4, 3).padding(1));
  CHECK(same_bits(zeros_mode(x), conv2d(x, zeros_mode.weight, zeros_mode.bias, {1, 1}, {1, 1})));
}
