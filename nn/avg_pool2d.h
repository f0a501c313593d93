#pragma once
#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/nn/module.h"

namespace hg::nn {

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int64_t kernel, int64_t stride = 0, int64_t padding = 0)
      : Module("AvgPool2d"),
        kernel_{kernel, kernel},
        stride_{stride, stride},
        padding_{padding, padding} {}
  Tensor forward(const Tensor& x) override { return avg_pool2d(x, kernel_, stride_, padding_); }
  std::string describe() const override {
    const int64_t stride = stride_[0] == 0 ? kernel_[0] : stride_[0];  // 0: the kernel
    return "AvgPool2d(kernel_size=" + std::to_string(kernel_[0]) +
           ", stride=" + std::to_string(stride) + ", padding=" + std::to_string(padding_[0]) + ")";
  }

 private:
  Pair kernel_, stride_, padding_;
};

}  // namespace hg::nn
