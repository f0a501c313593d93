#pragma once
#include "autograd/nn_ops.h"
#include "autograd/ops.h"
#include "nn/module.h"

namespace hg::nn {

class GELU : public Module {
 public:
  GELU() : Module("GELU") {}
  Tensor forward(const Tensor& x) override { return gelu(x); }
};

}  // namespace hg::nn
