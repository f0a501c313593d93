#pragma once
#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/nn/module.h"

namespace hg::nn {

class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1)
      : Module("Flatten"), start_dim_(start_dim), end_dim_(end_dim) {}
  Tensor forward(const Tensor& x) override { return x.flatten(start_dim_, end_dim_); }
  std::string describe() const override {
    return "Flatten(start_dim=" + std::to_string(start_dim_) +
           ", end_dim=" + std::to_string(end_dim_) + ")";
  }

 private:
  int64_t start_dim_, end_dim_;
};

}  // namespace hg::nn
