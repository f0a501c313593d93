#include "halfgrad/nn/conv2d.h"

#include <cmath>
#include <sstream>

#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/nn/init.h"

namespace hg::nn {

Conv2d::Conv2d(const Conv2dOptions& opts) : Module("Conv2d"), options(opts) {
  HG_CHECK(opts.groups_ > 0 && opts.in_channels % opts.groups_ == 0 &&
               opts.out_channels % opts.groups_ == 0,
           "Conv2d: in_channels ", opts.in_channels, " and out_channels ", opts.out_channels,
           " must be divisible by groups ", opts.groups_);
  weight = register_parameter("weight", empty({opts.out_channels, opts.in_channels / opts.groups_,
                                               opts.kernel_size[0], opts.kernel_size[1]}));
  if (opts.bias_) bias = register_parameter("bias", empty({opts.out_channels}));
  reset_parameters();
}

void Conv2d::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const auto fan_in = static_cast<double>(init::fan_in(weight));  // 0 inputs: a zero bias
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(fan_in) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, weight, bias, options.stride_, options.padding_, options.dilation_,
                options.groups_);
}

std::string Conv2d::describe() const {
  std::ostringstream out;
  out << "Conv2d(" << options.in_channels << ", " << options.out_channels << ", kernel_size=("
      << options.kernel_size[0] << ", " << options.kernel_size[1] << "), stride=("
      << options.stride_[0] << ", " << options.stride_[1] << "), padding=(" << options.padding_[0]
      << ", " << options.padding_[1] << ")";
  if (options.dilation_ != Pair{1, 1})
    out << ", dilation=(" << options.dilation_[0] << ", " << options.dilation_[1] << ")";
  if (options.groups_ != 1) out << ", groups=" << options.groups_;
  if (!bias.defined()) out << ", bias=false";
  out << ")";
  return out.str();
}

}  // namespace hg::nn
