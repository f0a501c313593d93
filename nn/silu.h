#pragma once
#include "autograd/ops.h"
#include "nn/module.h"

namespace hg::nn {

// x * sigmoid(x).
class SiLU : public Module {
 public:
  SiLU() : Module("SiLU") {}
  Tensor forward(const Tensor& x) override { return silu(x); }
};

}  // namespace hg::nn
