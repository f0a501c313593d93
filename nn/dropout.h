#pragma once
#include "autograd/nn_ops.h"
#include "autograd/ops.h"
#include "nn/module.h"

namespace hg::nn {

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5) : Module("Dropout"), p_(p) {}
  Tensor forward(const Tensor& x) override { return dropout(x, p_, is_training()); }
  std::string describe() const override { return "Dropout(p=" + std::to_string(p_) + ")"; }

 private:
  double p_;
};

}  // namespace hg::nn
