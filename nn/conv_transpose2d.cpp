#include "halfgrad/nn/conv_transpose2d.h"

#include <sstream>

#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/nn/init.h"

namespace hg::nn {

ConvTranspose2d::ConvTranspose2d(const ConvTranspose2dOptions& opts)
    : Module("ConvTranspose2d"), options(opts) {
  HG_CHECK(opts.groups_ > 0 && opts.in_channels % opts.groups_ == 0 &&
               opts.out_channels % opts.groups_ == 0,
           "ConvTranspose2d: in_channels ", opts.in_channels, " and out_channels ",
           opts.out_channels, " must be divisible by groups ", opts.groups_);
  weight = register_parameter("weight", empty({opts.in_channels, opts.out_channels / opts.groups_,
                                               opts.kernel_size[0], opts.kernel_size[1]}));
  if (opts.bias_) bias = register_parameter("bias", empty({opts.out_channels}));
  reset_parameters();
}

void ConvTranspose2d::reset_parameters() { init::default_weight_and_bias_(weight, bias); }

Tensor ConvTranspose2d::forward(const Tensor& x) {
  return conv_transpose2d(x, weight, bias, options.stride_, options.padding_,
                          options.output_padding_, options.groups_, options.dilation_);
}

std::string ConvTranspose2d::describe() const {
  const auto pair = [](Pair p) {
    return "(" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + ")";
  };
  std::ostringstream out;
  out << "ConvTranspose2d(" << options.in_channels << ", " << options.out_channels
      << ", kernel_size=" << pair(options.kernel_size) << ", stride=" << pair(options.stride_);
  if (options.padding_ != Pair{0, 0}) out << ", padding=" << pair(options.padding_);
  if (options.output_padding_ != Pair{0, 0})
    out << ", output_padding=" << pair(options.output_padding_);
  if (options.dilation_ != Pair{1, 1}) out << ", dilation=" << pair(options.dilation_);
  if (options.groups_ != 1) out << ", groups=" << options.groups_;
  if (!bias.defined()) out << ", bias=false";
  out << ")";
  return out.str();
}

}  // namespace hg::nn
