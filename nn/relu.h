#pragma once
#include "autograd/nn_ops.h"
#include "autograd/ops.h"
#include "nn/module.h"

namespace hg::nn {

class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}
  Tensor forward(const Tensor& x) override { return relu(x); }
};

}  // namespace hg::nn
