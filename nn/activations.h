#pragma once
// The activation layers: each is its free function (autograd/ops.h) as a Module, for
// Sequential. They hold nothing but their arguments (a slope, alpha, beta, a dim).
#include <sstream>
#include <string>
#include <utility>

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
// The exact (erf) form, or with GeluApproximate::Tanh the tanh approximation (GPT-2's).
class GELU : public Module {
 public:
  explicit GELU(GeluApproximate approximate_form = GeluApproximate::None)
      : Module("GELU"), approximate(approximate_form) {}
  Tensor forward(const Tensor& x) override { return gelu(x, approximate); }
  std::string describe() const override {
    return approximate == GeluApproximate::Tanh ? "GELU(approximate='tanh')" : "GELU()";
  }

  GeluApproximate approximate;
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
struct SELU : ElementwiseActivation<hg::selu> {
  SELU() : ElementwiseActivation("SELU") {}
};
struct Mish : ElementwiseActivation<hg::mish> {  // x * tanh(softplus(x))
  Mish() : ElementwiseActivation("Mish") {}
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

// x > 0 ? x : alpha * (exp(x) - 1).
class ELU : public Module {
 public:
  explicit ELU(double alpha_value = 1.0) : Module("ELU"), alpha(alpha_value) {}
  Tensor forward(const Tensor& x) override { return elu(x, alpha); }
  std::string describe() const override {
    std::ostringstream out;
    out << "ELU(alpha=" << alpha << ")";
    return out.str();
  }

  double alpha;
};

// log(1 + exp(beta * x)) / beta, linear above the threshold (fp32 under autocast).
class Softplus : public Module {
 public:
  explicit Softplus(double beta_value = 1.0, double threshold_value = 20.0)
      : Module("Softplus"), beta(beta_value), threshold(threshold_value) {}
  Tensor forward(const Tensor& x) override { return softplus(x, beta, threshold); }
  std::string describe() const override {
    std::ostringstream out;
    out << "Softplus(beta=" << beta << ", threshold=" << threshold << ")";
    return out.str();
  }

  double beta, threshold;
};

// softmax or log_softmax along dim (a classifier's last layer; fp32 under autocast).
template <Tensor (*Fn)(const Tensor&, int64_t)>
class DimActivation : public Module {
 public:
  DimActivation(std::string type_name, int64_t dim_value)
      : Module(std::move(type_name)), dim(dim_value) {}
  Tensor forward(const Tensor& x) override { return Fn(x, dim); }
  std::string describe() const override {
    return type_name() + "(dim=" + std::to_string(dim) + ")";
  }

  int64_t dim;
};
struct Softmax : DimActivation<hg::softmax> {
  explicit Softmax(int64_t dim_value) : DimActivation("Softmax", dim_value) {}
};
struct LogSoftmax : DimActivation<hg::log_softmax> {
  explicit LogSoftmax(int64_t dim_value) : DimActivation("LogSoftmax", dim_value) {}
};

}  // namespace hg::nn
