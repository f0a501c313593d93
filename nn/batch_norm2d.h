#pragma once
#include "halfgrad/nn/batch_norm.h"

namespace hg::nn {

// Batch norm over the channels of images [N, C, H, W] (nn/batch_norm.h).
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(const BatchNormOptions& opts)
      : BatchNorm(opts, "BatchNorm2d", {4}, "[N, C, H, W]") {}
  explicit BatchNorm2d(int64_t features) : BatchNorm2d(BatchNormOptions(features)) {}
};

}  // namespace hg::nn
