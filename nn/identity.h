#pragma once
#include "halfgrad/autograd/ops.h"
#include "halfgrad/nn/module.h"

namespace hg::nn {

// Returns its input: a placeholder where a layer is switched off (a Sequential slot, a head).
class Identity : public Module {
 public:
  Identity() : Module("Identity") {}
  Tensor forward(const Tensor& x) override { return x; }
};

}  // namespace hg::nn
