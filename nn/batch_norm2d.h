#pragma once
#include "nn/module.h"

namespace hg::nn {

struct BatchNormOptions {
  explicit BatchNormOptions(int64_t features) : num_features(features) {}
  BatchNormOptions& eps(double e) {
    eps_ = e;
    return *this;
  }
  BatchNormOptions& momentum(double m) {
    momentum_ = m;
    return *this;
  }
  BatchNormOptions& affine(bool a) {
    affine_ = a;
    return *this;
  }
  int64_t num_features;
  double eps_ = 1e-5, momentum_ = 0.1;
  bool affine_ = true;
};

// Batch norm over [N, C, H, W]: batch statistics when training (updating the running ones),
// running statistics in eval. Parameters and statistics stay fp32 under amp O2 (to(DType)
// leaves them alone), while the activations it normalises may be fp16/bf16.
class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(const BatchNormOptions& options);
  explicit BatchNorm2d(int64_t features) : BatchNorm2d(BatchNormOptions(features)) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  using Module::to;  // to(Device), which the override below would hide
  void to(DType dtype) override;

  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  BatchNormOptions options;
};

}  // namespace hg::nn
