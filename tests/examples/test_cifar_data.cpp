// examples/cifar10/cifar_data: the per-channel normalisation statistics and the training
// pipeline.
#include "cifar10/cifar_data.h"

#include <algorithm>
#include <string>

#include "data/data_test_util.h"
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

TEST_CASE("load_cifar_data: the training transforms, cutout last after normalising") {
  hg::test::TempDir dir;
  // four training images per batch file with pixels 1..255 (so no normalised value is 0
  // except where cutout wrote it), one test image
  const auto records = [](int images) {
    std::vector<uint8_t> out;
    for (int i = 0; i < images; ++i) {
      out.push_back(static_cast<uint8_t>(i));
      for (int p = 0; p < 3072; ++p) out.push_back(static_cast<uint8_t>(1 + (p * 7 + i) % 255));
    }
    return out;
  };
  for (int b = 1; b <= 5; ++b)
    hg::test::write_bytes(dir.str() + "/data_batch_" + std::to_string(b) + ".bin", records(4));
  hg::test::write_bytes(dir.str() + "/test_batch.bin", records(1));

  examples::CifarDataOptions options;
  options.dir = dir.str();
  CHECK(examples::load_cifar_data(options).train.transforms().size() == 3);
  options.augment = false;
  options.cutout = 8;
  CHECK(examples::load_cifar_data(options).train.transforms().size() == 1);
  options.augment = true;
  const examples::CifarData data = examples::load_cifar_data(options);
  CHECK(data.train.transforms().size() == 4);
  CHECK(data.test.transforms().size() == 1);
  Generator gen(5);
  const std::vector<float> batch = data.train.get_batch({0, 7, 19}, gen).data.to_vector<float>();
  for (size_t plane = 0; plane < 9; ++plane) {  // 3 images x 3 channels
    const auto begin = batch.begin() + static_cast<std::ptrdiff_t>(plane * 1024);
    // the 8x8 square; the random crop's zero padding is normalised away from 0
    CHECK(std::count(begin, begin + 1024, 0.f) == 64);
  }
}
