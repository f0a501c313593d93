#pragma once
#include "halfgrad/nn/module.h"

namespace hg::nn {

struct GroupNormOptions {
  GroupNormOptions(int64_t groups, int64_t channels) : num_groups(groups), num_channels(channels) {}
  GroupNormOptions& eps(double e) {
    eps_ = e;
    return *this;
  }
  GroupNormOptions& affine(bool a) {
    affine_ = a;
    return *this;
  }
  int64_t num_groups, num_channels;
  double eps_ = 1e-5;
  bool affine_ = true;
};

// x [N, C, *]: normalised over each group of C / num_groups channels, then a per-channel weight
// [C] (ones) and bias [C] (zeros) when affine. Batch-size independent, unlike BatchNorm: no
// running statistics, the same in training and eval. fp32 under autocast (autograd/nn_ops.h).
class GroupNorm : public Module {
 public:
  explicit GroupNorm(const GroupNormOptions& options);
  GroupNorm(int64_t num_groups, int64_t num_channels)
      : GroupNorm(GroupNormOptions(num_groups, num_channels)) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

  Tensor weight, bias;
  GroupNormOptions options;
};

}  // namespace hg::nn
