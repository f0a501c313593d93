#pragma once
#include "halfgrad/nn/module.h"

namespace hg::nn {

struct LinearOptions {
  LinearOptions(int64_t in, int64_t out) : in_features(in), out_features(out) {}
  LinearOptions& bias(bool b) {
    with_bias = b;
    return *this;
  }
  int64_t in_features, out_features;
  bool with_bias = true;
};

// y = x W^T + b: x [*, in] -> [*, out]; weight [out, in], bias [out].
class Linear : public Module {
 public:
  explicit Linear(const LinearOptions& options);
  Linear(int64_t in, int64_t out) : Linear(LinearOptions(in, out)) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  void reset_parameters();

  Tensor weight, bias;
  LinearOptions options;
};

}  // namespace hg::nn
