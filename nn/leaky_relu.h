#pragma once
#include <sstream>

#include "autograd/ops.h"
#include "nn/module.h"

namespace hg::nn {

// x > 0 ? x : negative_slope * x.
class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01)
      : Module("LeakyReLU"), negative_slope(negative_slope) {}
  Tensor forward(const Tensor& x) override { return leaky_relu(x, negative_slope); }
  std::string describe() const override {
    std::ostringstream out;
    out << "LeakyReLU(negative_slope=" << negative_slope << ")";
    return out.str();
  }

  double negative_slope;
};

}  // namespace hg::nn
