#pragma once
#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/nn/module.h"

namespace hg::nn {

// hg::interpolate's options: size or scale_factor, mode (nearest by default), align_corners.
using UpsampleOptions = InterpolateOptions;

// Images [N, C, H, W] resized by hg::interpolate:
//   nn::Upsample(nn::UpsampleOptions().scale_factor(2).mode(InterpolateMode::Bilinear))
class Upsample : public Module {
 public:
  explicit Upsample(const UpsampleOptions& options);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

  UpsampleOptions options;
};

}  // namespace hg::nn
