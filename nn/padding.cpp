#include "halfgrad/nn/padding.h"

#include <sstream>
#include <utility>

#include "halfgrad/core/error.h"

namespace hg::nn {

Pad2d::Pad2d(std::string name, Padding2d pads, PadMode pad_mode, double fill)
    : Module(std::move(name)), padding(pads), mode(pad_mode), value(fill) {}

Tensor Pad2d::forward(const Tensor& x) {
  HG_CHECK(x.defined() && (x.dim() == 3 || x.dim() == 4), describe(),
           ": expected input [N, C, H, W] or [C, H, W], got ", hg::describe(x));
  return pad(x, {padding[0], padding[1], padding[2], padding[3]}, mode, value);
}

std::string Pad2d::describe() const {
  std::ostringstream out;
  out << type_name() << "((" << padding[0] << ", " << padding[1] << ", " << padding[2] << ", "
      << padding[3] << ")";
  if (type_name() == "ConstantPad2d") out << ", value=" << value;
  out << ")";
  return out.str();
}

}  // namespace hg::nn
