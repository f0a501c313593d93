#include "halfgrad/nn/layer_norm.h"

#include <sstream>

#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/core/factories.h"

namespace hg::nn {

LayerNorm::LayerNorm(Shape shape, double eps_value, bool affine)
    : Module("LayerNorm"), normalized_shape(std::move(shape)), eps(eps_value) {
  if (affine) {
    weight = register_parameter("weight", ones(normalized_shape));
    bias = register_parameter("bias", zeros(normalized_shape));
  }
}

Tensor LayerNorm::forward(const Tensor& x) {
  return layer_norm(x, normalized_shape, weight, bias, eps);
}

std::string LayerNorm::describe() const {
  std::ostringstream out;
  out << "LayerNorm(" << shape_str(normalized_shape) << ", eps=" << eps << ")";
  return out.str();
}

}  // namespace hg::nn
