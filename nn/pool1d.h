#pragma once
// The 1-D pooling layers for sequences [N, C, L] (hg::max_pool1d and friends), with PyTorch's
// arguments and printing. A stride of 0 is the kernel size.
#include <string>
#include <utility>

#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/nn/module.h"

namespace hg::nn {

// The window of MaxPool1d and AvgPool1d, printed as PyTorch prints it.
class WindowPool1d : public Module {
 public:
  std::string describe() const override {
    return type_name() + "(kernel_size=" + std::to_string(kernel_) +
           ", stride=" + std::to_string(stride_ == 0 ? kernel_ : stride_) +
           ", padding=" + std::to_string(padding_) + ")";
  }

 protected:
  WindowPool1d(std::string name, int64_t kernel, int64_t stride, int64_t padding)
      : Module(std::move(name)), kernel_(kernel), stride_(stride), padding_(padding) {}
  int64_t kernel_, stride_, padding_;
};

class MaxPool1d : public WindowPool1d {
 public:
  explicit MaxPool1d(int64_t kernel, int64_t stride = 0, int64_t padding = 0)
      : WindowPool1d("MaxPool1d", kernel, stride, padding) {}
  Tensor forward(const Tensor& x) override { return max_pool1d(x, kernel_, stride_, padding_); }
};

class AvgPool1d : public WindowPool1d {
 public:
  explicit AvgPool1d(int64_t kernel, int64_t stride = 0, int64_t padding = 0)
      : WindowPool1d("AvgPool1d", kernel, stride, padding) {}
  Tensor forward(const Tensor& x) override { return avg_pool1d(x, kernel_, stride_, padding_); }
};

// The output length of AdaptiveAvgPool1d and AdaptiveMaxPool1d.
class AdaptivePool1d : public Module {
 public:
  std::string describe() const override {
    return type_name() + "(output_size=" + std::to_string(output_size_) + ")";
  }

 protected:
  AdaptivePool1d(std::string name, int64_t output_size)
      : Module(std::move(name)), output_size_(output_size) {}
  int64_t output_size_;
};

class AdaptiveAvgPool1d : public AdaptivePool1d {
 public:
  explicit AdaptiveAvgPool1d(int64_t output_size)
      : AdaptivePool1d("AdaptiveAvgPool1d", output_size) {}
  Tensor forward(const Tensor& x) override { return adaptive_avg_pool1d(x, output_size_); }
};

class AdaptiveMaxPool1d : public AdaptivePool1d {
 public:
  explicit AdaptiveMaxPool1d(int64_t output_size)
      : AdaptivePool1d("AdaptiveMaxPool1d", output_size) {}
  Tensor forward(const Tensor& x) override { return adaptive_max_pool1d(x, output_size_); }
};

}  // namespace hg::nn
