#pragma once
#include "autograd/ops.h"
#include "nn/module.h"

namespace hg::nn {

class Tanh : public Module {
 public:
  Tanh() : Module("Tanh") {}
  Tensor forward(const Tensor& x) override { return tanh(x); }
};

}  // namespace hg::nn
