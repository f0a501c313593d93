#pragma once
#include <sstream>

#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/nn/module.h"

namespace hg::nn {

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5) : Module("Dropout"), p_(p) {}
  Tensor forward(const Tensor& x) override { return dropout(x, p_, is_training()); }
  std::string describe() const override {
    std::ostringstream out;
    out << "Dropout(p=" << p_ << ")";  // p=0.5, not std::to_string's 0.500000
    return out.str();
  }

 private:
  double p_;
};

// Zeroes whole channels of [N, C, H, W] images (hg::dropout2d), when training.
class Dropout2d : public Module {
 public:
  explicit Dropout2d(double p = 0.5) : Module("Dropout2d"), p_(p) {}
  Tensor forward(const Tensor& x) override { return dropout2d(x, p_, is_training()); }
  std::string describe() const override {
    std::ostringstream out;
    out << "Dropout2d(p=" << p_ << ")";
    return out.str();
  }

 private:
  double p_;
};

}  // namespace hg::nn
