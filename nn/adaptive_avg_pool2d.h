#pragma once
#include "autograd/nn_ops.h"
#include "nn/module.h"

namespace hg::nn {

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Pair output_size) : Module("AdaptiveAvgPool2d"), size_(output_size) {}
  explicit AdaptiveAvgPool2d(int64_t output_size)
      : AdaptiveAvgPool2d(Pair{output_size, output_size}) {}
  Tensor forward(const Tensor& x) override { return adaptive_avg_pool2d(x, size_); }

 private:
  Pair size_;
};

}  // namespace hg::nn
