#pragma once
#include "halfgrad/nn/module.h"

namespace hg::nn {

// Normalises over the trailing dims `normalized_shape`, with elementwise affine parameters.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

  Tensor weight, bias;
  Shape normalized_shape;
  double eps;
};

}  // namespace hg::nn
