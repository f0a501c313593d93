#include "halfgrad/nn/conv2d.h"

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

void Conv2d::reset_parameters() { init::default_weight_and_bias_(weight, bias); }

Tensor Conv2d::forward(const Tensor& x) {
  if (options.padding_mode_ == PadMode::Constant)
    return conv2d(x, weight, bias, options.stride_, options.padding_, options.dilation_,
                  options.groups_);
  const auto [ph, pw] = options.padding_;
  return conv2d(pad(x, {pw, pw, ph, ph}, options.padding_mode_), weight, bias, options.stride_,
                {0, 0}, options.dilation_, options.groups_);
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
  if (options.padding_mode_ != PadMode::Constant)
    out << ", padding_mode=" << pad_mode_name(options.padding_mode_);
  out << ")";
  return out.str();
}

}  // namespace hg::nn
