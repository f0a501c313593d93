#pragma once
#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/nn/module.h"

namespace hg::nn {

struct Conv2dOptions {
  Conv2dOptions(int64_t in, int64_t out, Pair kernel)
      : in_channels(in), out_channels(out), kernel_size(kernel) {}
  Conv2dOptions(int64_t in, int64_t out, int64_t kernel)
      : Conv2dOptions(in, out, Pair{kernel, kernel}) {}
  // one number for both dims, or (h, w) as the functional conv2d takes them
  Conv2dOptions& stride(int64_t s) { return stride(Pair{s, s}); }
  Conv2dOptions& stride(Pair s) {
    stride_ = s;
    return *this;
  }
  Conv2dOptions& padding(int64_t p) { return padding(Pair{p, p}); }
  Conv2dOptions& padding(Pair p) {
    padding_ = p;
    return *this;
  }
  Conv2dOptions& dilation(int64_t d) { return dilation(Pair{d, d}); }
  Conv2dOptions& dilation(Pair d) {
    dilation_ = d;
    return *this;
  }
  Conv2dOptions& groups(int64_t g) {
    groups_ = g;
    return *this;
  }
  Conv2dOptions& bias(bool b) {
    bias_ = b;
    return *this;
  }
  // How the padding is filled, as PyTorch's padding_mode: zeros (Constant, the default, inside
  // the convolution), or Reflect, Replicate, Circular (an hg::pad before it).
  Conv2dOptions& padding_mode(PadMode m) {
    padding_mode_ = m;
    return *this;
  }
  int64_t in_channels, out_channels;
  Pair kernel_size;
  Pair stride_{1, 1}, padding_{0, 0}, dilation_{1, 1};
  int64_t groups_ = 1;
  bool bias_ = true;
  PadMode padding_mode_ = PadMode::Constant;
};

// x [N, in, H, W] -> [N, out, HO, WO]; weight [out, in / groups, KH, KW], bias [out].
class Conv2d : public Module {
 public:
  explicit Conv2d(const Conv2dOptions& options);
  // Conv2d(3, 8, 3): stride 1, no padding, with bias (like Linear(in, out)).
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : Conv2d(Conv2dOptions(in_channels, out_channels, kernel_size)) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  void reset_parameters();

  Tensor weight, bias;
  Conv2dOptions options;
};

}  // namespace hg::nn
