#include "halfgrad/nn/upsample.h"

#include <sstream>

#include "halfgrad/core/error.h"

namespace hg::nn {

Upsample::Upsample(const UpsampleOptions& opts) : Module("Upsample"), options(opts) {
  HG_CHECK(opts.size_.has_value() != opts.scale_factor_.has_value(),
           "Upsample: give either size or scale_factor, not ", opts.size_ ? "both" : "neither");
}

Tensor Upsample::forward(const Tensor& x) { return interpolate(x, options); }

std::string Upsample::describe() const {
  std::ostringstream out;
  out << "Upsample(";
  if (options.size_) {
    out << "size=(" << (*options.size_)[0] << ", " << (*options.size_)[1] << ")";
  } else {
    const auto& s = *options.scale_factor_;
    out << "scale_factor=";
    if (s[0] == s[1])
      out << s[0];
    else
      out << "(" << s[0] << ", " << s[1] << ")";
  }
  const bool bilinear = options.mode_ == InterpolateMode::Bilinear;
  out << ", mode=" << (bilinear ? "bilinear" : "nearest");
  if (bilinear && options.align_corners_) out << ", align_corners=true";
  out << ")";
  return out.str();
}

}  // namespace hg::nn
