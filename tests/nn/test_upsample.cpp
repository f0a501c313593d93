// nn::Upsample: hg::interpolate with the options given once, and its description.
#include "test_util.h"

using namespace hg;
using hg::test::expect_error;

TEST_CASE("Upsample: forward is interpolate, described as PyTorch prints it") {
  const Tensor x = randn({1, 2, 3, 4});
  const auto bilinear = nn::UpsampleOptions().scale_factor(2).mode(InterpolateMode::Bilinear);
  nn::Upsample up(bilinear);
  CHECK(up(x).sizes() == Shape{1, 2, 6, 8});
  CHECK(hg::test::same_bits(up(x), interpolate(x, bilinear)));
  CHECK(up.describe() == "Upsample(scale_factor=2, mode=bilinear)");
  CHECK(nn::Upsample(nn::UpsampleOptions().size({5, 7})).describe() ==
        "Upsample(size=(5, 7), mode=nearest)");
  CHECK(nn::Upsample(nn::UpsampleOptions().scale_factor({2, 3})).describe() ==
        "Upsample(scale_factor=(2, 3), mode=nearest)");
  CHECK(nn::Upsample(
            nn::UpsampleOptions().size({4, 4}).mode(InterpolateMode::Bilinear).align_corners(true))
            .describe() == "Upsample(size=(4, 4), mode=bilinear, align_corners=true)");
  expect_error([] { nn::Upsample(nn::UpsampleOptions()); }, {"Upsample", "neither"});
}
