#include "cifar_data.h"

#include <algorithm>
#include <cmath>

namespace hg::examples {

namespace {

data::LabeledImages first(data::LabeledImages all, int64_t limit) {
  if (limit <= 0 || limit >= all.labels.size(0)) return all;
  return {all.images.narrow(0, 0, limit).contiguous(), all.labels.narrow(0, 0, limit).contiguous()};
}

}  // namespace

ChannelStats channel_stats(const Tensor& images) {
  HG_CHECK(images.defined() && images.dtype() == kUInt8 && images.dim() == 4 && images.size(0) > 0,
           "channel_stats: expected uint8 images [N, C, H, W] with N > 0, got ",
           images.defined() ? describe(images) : std::string("an undefined tensor"));
  const Tensor x = images.contiguous();
  const int64_t n = x.size(0), channels = x.size(1), plane = x.size(2) * x.size(3);
  const uint8_t* p = x.data<uint8_t>();
  ChannelStats stats;
  for (int64_t c = 0; c < channels; ++c) {
    // 50000 images x 1024 pixels x 255^2 < 2^42: the sums are exact in 64-bit integers.
    uint64_t sum = 0, sum_sq = 0;
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* v = p + (i * channels + c) * plane;
      for (int64_t k = 0; k < plane; ++k) {
        sum += v[k];
        sum_sq += static_cast<uint64_t>(v[k]) * v[k];
      }
    }
    const double count = static_cast<double>(n * plane);
    const double mean = static_cast<double>(sum) / count;
    const double var = static_cast<double>(sum_sq) / count - mean * mean;
    stats.mean.push_back(static_cast<float>(mean / 255.0));
    stats.std.push_back(static_cast<float>(std::sqrt(std::max(var, 0.0)) / 255.0));
  }
  return stats;
}

CifarData load_cifar_data(const CifarDataOptions& options) {
  data::LabeledImages train = first(data::load_cifar10(options.dir, true), options.train_limit);
  data::LabeledImages test = first(data::load_cifar10(options.dir, false), options.test_limit);
  ChannelStats stats = options.stats.mean.empty() ? channel_stats(train.images) : options.stats;
  const data::Transform normalize = data::normalize(stats.mean, stats.std);
  std::vector<data::Transform> train_transforms{normalize};
  if (options.augment) {
    // torchvision's order: crop and flip the [0, 1] image (so zero padding is black), then
    // normalise; cutout last, as the DAWNBench code did, so the square is the mean colour.
    train_transforms = {data::random_crop(32, 4, options.crop_padding),
                        data::random_horizontal_flip(), normalize};
    if (options.cutout > 0) train_transforms.push_back(data::cutout(options.cutout));
  }
  return {data::Dataset(std::move(train), std::move(train_transforms)),
          data::Dataset(std::move(test), {normalize}), std::move(stats)};
}

}  // namespace hg::examples
