#include "halfgrad/nn/group_norm.h"

#include <sstream>

#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"

namespace hg::nn {

GroupNorm::GroupNorm(const GroupNormOptions& opts) : Module("GroupNorm"), options(opts) {
  HG_CHECK(
      opts.num_groups > 0 && opts.num_channels >= 0 && opts.num_channels % opts.num_groups == 0,
      "GroupNorm: num_channels ", opts.num_channels, " must be divisible by num_groups ",
      opts.num_groups);
  if (opts.affine_) {
    weight = register_parameter("weight", ones({opts.num_channels}));
    bias = register_parameter("bias", zeros({opts.num_channels}));
  }
}

Tensor GroupNorm::forward(const Tensor& x) {
  HG_CHECK(x.defined() && x.dim() >= 2 && x.size(1) == options.num_channels, describe(),
           ": expected input [N, ", options.num_channels, ", *], got ", hg::describe(x));
  return group_norm(x, options.num_groups, weight, bias, options.eps_);
}

std::string GroupNorm::describe() const {
  std::ostringstream out;
  out << "GroupNorm(" << options.num_groups << ", " << options.num_channels
      << ", eps=" << options.eps_ << (options.affine_ ? "" : ", affine=false") << ")";
  return out.str();
}

}  // namespace hg::nn
