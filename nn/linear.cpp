#include "halfgrad/nn/linear.h"

#include <sstream>

#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/nn/init.h"

namespace hg::nn {

Linear::Linear(const LinearOptions& opts) : Module("Linear"), options(opts) {
  weight = register_parameter("weight", empty({opts.out_features, opts.in_features}));
  if (opts.with_bias) bias = register_parameter("bias", empty({opts.out_features}));
  reset_parameters();
}

void Linear::reset_parameters() { init::default_weight_and_bias_(weight, bias); }

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

std::string Linear::describe() const {
  std::ostringstream out;
  out << "Linear(in_features=" << options.in_features << ", out_features=" << options.out_features
      << ", bias=" << (bias.defined() ? "true" : "false") << ")";
  return out.str();
}

}  // namespace hg::nn
