#pragma once
#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/nn/module.h"

namespace hg::nn {

struct ConvTranspose2dOptions {
  ConvTranspose2dOptions(int64_t in, int64_t out, Pair kernel)
      : in_channels(in), out_channels(out), kernel_size(kernel) {}
  ConvTranspose2dOptions(int64_t in, int64_t out, int64_t kernel)
      : ConvTranspose2dOptions(in, out, Pair{kernel, kernel}) {}
  // one number for both dims, or (h, w) as the functional conv_transpose2d takes them
  ConvTranspose2dOptions& stride(int64_t s) { return stride(Pair{s, s}); }
  ConvTranspose2dOptions& stride(Pair s) {
    stride_ = s;
    return *this;
  }
  ConvTranspose2dOptions& padding(int64_t p) { return padding(Pair{p, p}); }
  ConvTranspose2dOptions& padding(Pair p) {
    padding_ = p;
    return *this;
  }
  // Added to one side of the output: picks among the sizes a stride > 1 leaves open, e.g. stride
  // 2, kernel 3, padding 1 and output_padding 1 exactly double H and W.
  ConvTranspose2dOptions& output_padding(int64_t p) { return output_padding(Pair{p, p}); }
  ConvTranspose2dOptions& output_padding(Pair p) {
    output_padding_ = p;
    return *this;
  }
  ConvTranspose2dOptions& dilation(int64_t d) { return dilation(Pair{d, d}); }
  ConvTranspose2dOptions& dilation(Pair d) {
    dilation_ = d;
    return *this;
  }
  ConvTranspose2dOptions& groups(int64_t g) {
    groups_ = g;
    return *this;
  }
  ConvTranspose2dOptions& bias(bool b) {
    bias_ = b;
    return *this;
  }
  int64_t in_channels, out_channels;
  Pair kernel_size;
  Pair stride_{1, 1}, padding_{0, 0}, output_padding_{0, 0}, dilation_{1, 1};
  int64_t groups_ = 1;
  bool bias_ = true;
};

// x [N, in, H, W] -> [N, out, HO, WO] (the sizes of conv_transpose2d in autograd/nn_ops.h);
// weight [in, out / groups, KH, KW] (in first: it is conv2d's weight of the way back), bias
// [out]. PyTorch's initialisation (fan_in from weight.size(1), as torch computes it).
class ConvTranspose2d : public Module {
 public:
  explicit ConvTranspose2d(const ConvTranspose2dOptions& options);
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : ConvTranspose2d(ConvTranspose2dOptions(in_channels, out_channels, kernel_size)) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  void reset_parameters();

  Tensor weight, bias;
  ConvTranspose2dOptions options;
};

}  // namespace hg::nn
