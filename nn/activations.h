#pragma once
// The elementwise activation layers: each is its free function (autograd/ops.h) as a Module,
// for Sequential. They hold nothing but, for LeakyReLU, the slope.
#include <sstream>
#include <string>

#include "halfgrad/autograd/ops.h"
#include "halfgrad/nn/module.h"

namespace hg::nn {

// A parameter-free layer that applies Fn to its input.
template <Tensor (*Fn)(const Tensor&)>
class ElementwiseActivation : public Module {
 public:
  explicit ElementwiseActivation(std::string type_name) : Module(std::move(type_name)) {}
  Tensor forward(const Tensor& x) override { return Fn(x); }
};

struct ReLU : ElementwiseActivation<hg::relu> {
  ReLU() : ElementwiseActivation("ReLU") {}
};
struct GELU : ElementwiseActivation<hg::gelu> {  // the exact (erf) form
  GELU() : ElementwiseActivation("GELU") {}
};
struct SiLU : ElementwiseActivation<hg::silu> {  // x * sigmoid(x)
  SiLU() : ElementwiseActivation("SiLU") {}
};
struct Sigmoid : ElementwiseActivation<hg::sigmoid> {
  Sigmoid() : ElementwiseActivation("Sigmoid") {}
};
struct Tanh : ElementwiseActivation<hg::tanh> {
  Tanh() : ElementwiseActivation("Tanh") {}
};

// x > 0 ? x : negative_slope * x.
class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double slope = 0.01) : Module("LeakyReLU"), negative_slope(slope) {}
  Tensor forward(const Tensor& x) override { return leaky_relu(x, negative_slope); }
  std::string describe() const override {
    std::ostringstream out;
    out << "LeakyReLU(negative_slope=" << negative_slope << ")";
    return out.str();
  }

  double negative_slope;
};

}  // namespace hg::nn
