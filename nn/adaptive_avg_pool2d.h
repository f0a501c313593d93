#pragma once
#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/nn/module.h"

namespace hg::nn {

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Pair output_size) : Module("AdaptiveAvgPool2d"), size_(output_size) {}
  explicit AdaptiveAvgPool2d(int64_t output_size)
      : AdaptiveAvgPool2d(Pair{output_size, output_size}) {}
  Tensor forward(const Tensor& x) override { return adaptive_avg_pool2d(x, size_); }
  std::string describe() const override {  // as PyTorch prints it: a square size as one number
    const std::string size = size_[0] == size_[1] ? std::to_string(size_[0])
                                                  : "(" + std::to_string(size_[0]) + ", " +
                                                        std::to_string(size_[1]) + ")";
    return "AdaptiveAvgPool2d(output_size=" + size + ")";
  }

 private:
  Pair size_;
};

}  // namespace hg::nn
