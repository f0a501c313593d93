#include "halfgrad/nn/conv1d.h"

#include <sstream>

#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/nn/init.h"

namespace hg::nn {

Conv1d::Conv1d(const Conv1dOptions& opts) : Module("Conv1d"), options(opts) {
  HG_CHECK(opts.groups_ > 0 && opts.in_channels % opts.groups_ == 0 &&
               opts.out_channels % opts.groups_ == 0,
           "Conv1d: in_channels ", opts.in_channels, " and out_channels ", opts.out_channels,
           " must be divisible by groups ", opts.groups_);
  weight = register_parameter(
      "weight", empty({opts.out_channels, opts.in_channels / opts.groups_, opts.kernel_size}));
  if (opts.bias_) bias = register_parameter("bias", empty({opts.out_channels}));
  reset_parameters();
}

void Conv1d::reset_parameters() { init::default_weight_and_bias_(weight, bias); }

Tensor Conv1d::forward(const Tensor& x) {
  return conv1d(x, weight, bias, options.stride_, options.padding_, options.dilation_,
                options.groups_);
}

std::string Conv1d::describe() const {
  std::ostringstream out;
  out << "Conv1d(" << options.in_channels << ", " << options.out_channels
      << ", kernel_size=" << options.kernel_size << ", stride=" << options.stride_
      << ", padding=" << options.padding_;
  if (options.dilation_ != 1) out << ", dilation=" << options.dilation_;
  if (options.groups_ != 1) out << ", groups=" << options.groups_;
  if (!bias.defined()) out << ", bias=false";
  out << ")";
  return out.str();
}

}  // namespace hg::nn
