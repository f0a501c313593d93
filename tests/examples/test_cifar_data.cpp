// examples/cifar10/cifar_data: the per-channel normalisation statistics.
#include "cifar10/cifar_data.h"

#include "test_util.h"

using namespace hg;

TEST_CASE("channel_stats: per-channel mean and population std in [0, 1] units") {
  // two images, two channels of 2x1 pixels: channel 0 holds 0, 255, 0, 255; channel 1 all 51
  const Tensor images =
      from_vector<uint8_t>({0, 255, 51, 51, 0, 255, 51, 51}, {2, 2, 2, 1}, kUInt8);
  const examples::ChannelStats stats = examples::channel_stats(images);
  REQUIRE(stats.mean.size() == 2);
  CHECK(stats.mean[0] == doctest::Approx(0.5));
  CHECK(stats.std[0] == doctest::Approx(0.5));  // population std: half the 0..1 range
  CHECK(stats.mean[1] == doctest::Approx(0.2));
  CHECK(stats.std[1] == 0.0f);
  // a strided view gives what its contiguous copy gives
  const Tensor wide = from_vector<uint8_t>(std::vector<uint8_t>(16, 7), {2, 2, 2, 2}, kUInt8);
  const examples::ChannelStats narrow_stats = examples::channel_stats(wide.narrow(3, 0, 1));
  CHECK(narrow_stats.mean[0] == doctest::Approx(7.0 / 255.0));
  hg::test::expect_error(
      [] {
        (void)examples::channel_stats(zeros({2, 3, 4, 4}));
      },
      {"channel_stats", "uint8", "float32"});
  hg::test::expect_error(
      [] {
        (void)examples::channel_stats(zeros({0, 3, 4, 4}, kUInt8));
      },
      {"channel_stats", "N > 0"});
}
