#pragma once
#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/nn/module.h"

namespace hg::nn {

struct Conv1dOptions {
  Conv1dOptions(int64_t in, int64_t out, int64_t kernel)
      : in_channels(in), out_channels(out), kernel_size(kernel) {}
  Conv1dOptions& stride(int64_t s) {
    stride_ = s;
    return *this;
  }
  Conv1dOptions& padding(int64_t p) {
    padding_ = p;
    return *this;
  }
  Conv1dOptions& dilation(int64_t d) {
    dilation_ = d;
    return *this;
  }
  Conv1dOptions& groups(int64_t g) {
    groups_ = g;
    return *this;
  }
  Conv1dOptions& bias(bool b) {
    bias_ = b;
    return *this;
  }
  int64_t in_channels, out_channels, kernel_size;
  int64_t stride_ = 1, padding_ = 0, dilation_ = 1, groups_ = 1;
  bool bias_ = true;
};

// x [N, in, L] -> [N, out, LO]; weight [out, in / groups, K], bias [out]; initialised as
// Conv2d (and PyTorch's Conv1d). Runs as conv2d over a height of one (hg::conv1d).
class Conv1d : public Module {
 public:
  explicit Conv1d(const Conv1dOptions& options);
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : Conv1d(Conv1dOptions(in_channels, out_channels, kernel_size)) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  void reset_parameters();

  Tensor weight, bias;
  Conv1dOptions options;
};

}  // namespace hg::nn
