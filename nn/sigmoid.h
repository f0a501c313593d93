#pragma once
#include "autograd/ops.h"
#include "nn/module.h"

namespace hg::nn {

class Sigmoid : public Module {
 public:
  Sigmoid() : Module("Sigmoid") {}
  Tensor forward(const Tensor& x) override { return sigmoid(x); }
};

}  // namespace hg::nn
