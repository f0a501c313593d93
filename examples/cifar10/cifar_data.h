#pragma once
// The CIFAR-10 inputs of hg_cifar10: the official binary batches (tools/fetch_data.sh cifar10),
// optionally the first N images of each split, normalised per channel with the statistics of
// the training images actually used, and augmented (random 32x32 crop of the image padded by
// 4 zeros, horizontal flip, optionally cutout) in the training loader.
#include <cstdint>
#include <string>
#include <vector>

#include <halfgrad/halfgrad.h>

namespace hg::examples {

// Per-channel mean and population standard deviation of uint8 images [N, C, H, W], in the
// [0, 1] units the Dataset scales pixels to. Exact integer sums, so the result does not depend
// on the number of threads.
struct ChannelStats {
  std::vector<float> mean, std;
};
ChannelStats channel_stats(const Tensor& images);

struct CifarData {
  data::Dataset train, test;
  ChannelStats stats;
};

struct CifarDataOptions {
  std::string dir = "datasets/cifar10";
  int64_t train_limit = 0;  // first N training images (0: all 50000)
  int64_t test_limit = 0;   // first N test images (0: all 10000)
  bool augment = true;
  data::Padding crop_padding = data::Padding::Zeros;  // what the random crops pad with
  int64_t cutout = 0;  // side of the square data::cutout sets to 0 after normalising (0: none)
  // the normalisation to use (a resumed run's, from its checkpoint); empty: computed from the
  // training images used
  ChannelStats stats;
};

CifarData load_cifar_data(const CifarDataOptions& options);

}  // namespace hg::examples
