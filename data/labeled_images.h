#pragma once
// What the data-set readers return: a stack of images and their class labels.
#include "halfgrad/core/tensor.h"

namespace hg::data {

struct LabeledImages {
  Tensor images;  // uint8 [N, H, W] (MNIST) or [N, C, H, W] (CIFAR-10), unless converted
  Tensor labels;  // int64 [N]
};

}  // namespace hg::data
