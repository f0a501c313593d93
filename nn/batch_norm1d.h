#pragma once
#include "halfgrad/nn/batch_norm.h"

namespace hg::nn {

// Batch norm over the features of [N, C] (an MLP's activations) or the channels of [N, C, L]
// (nn/batch_norm.h).
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(const BatchNormOptions& opts)
      : BatchNorm(opts, "BatchNorm1d", {2, 3}, "[N, C] or [N, C, L]") {}
  explicit BatchNorm1d(int64_t features) : BatchNorm1d(BatchNormOptions(features)) {}
};

}  // namespace hg::nn
