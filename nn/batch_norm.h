#pragma once
#include <string>
#include <vector>

#include "halfgrad/nn/module.h"

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

// Batch norm over the channels C of [N, C, *]: batch statistics when training (updating the
// running ones), running statistics in eval. Parameters and statistics stay fp32 under amp O2
// (to(DType) leaves them alone), while the activations it normalises may be fp16/bf16.
// BatchNorm1d and BatchNorm2d are this layer with the input ranks their names promise.
class BatchNorm : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  // relu(forward(x)) in one kernel each way (hg::batch_norm_relu), bit for bit the two: what
  // nn::Sequential runs for this module followed by a ReLU.
  Tensor forward_relu(const Tensor& x);
  std::string describe() const override;
  using Module::to;  // to(Device), which the override below would hide
  void to(DType dtype) override;

  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  BatchNormOptions options;

 protected:
  // input_form: the accepted inputs in words, e.g. "[N, C, H, W]"; ranks: their dims.
  BatchNorm(const BatchNormOptions& options, const std::string& type_name,
            std::vector<int64_t> ranks, std::string input_form);

 private:
  Tensor run(const Tensor& x, bool relu);

  std::vector<int64_t> ranks_;
  std::string input_form_;
};

}  // namespace hg::nn
