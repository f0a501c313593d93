#pragma once
// Padding layers for images [N, C, H, W] or [C, H, W], libtorch's names: ZeroPad2d,
// ConstantPad2d, ReflectionPad2d, ReplicationPad2d. One number pads all four sides; four are
// (left, right, top, bottom), the order of hg::pad.
#include <array>

#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/nn/module.h"

namespace hg::nn {

using Padding2d = std::array<int64_t, 4>;  // (left, right, top, bottom)

class Pad2d : public Module {
 public:
  Pad2d(std::string name, Padding2d pads, PadMode pad_mode, double fill = 0.0);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

  Padding2d padding;
  PadMode mode;
  double value;
};

class ZeroPad2d : public Pad2d {
 public:
  explicit ZeroPad2d(Padding2d pads) : Pad2d("ZeroPad2d", pads, PadMode::Constant) {}
  explicit ZeroPad2d(int64_t p) : ZeroPad2d(Padding2d{p, p, p, p}) {}
};

class ConstantPad2d : public Pad2d {
 public:
  ConstantPad2d(Padding2d pads, double fill)
      : Pad2d("ConstantPad2d", pads, PadMode::Constant, fill) {}
  ConstantPad2d(int64_t p, double fill) : ConstantPad2d(Padding2d{p, p, p, p}, fill) {}
};

class ReflectionPad2d : public Pad2d {
 public:
  explicit ReflectionPad2d(Padding2d pads) : Pad2d("ReflectionPad2d", pads, PadMode::Reflect) {}
  explicit ReflectionPad2d(int64_t p) : ReflectionPad2d(Padding2d{p, p, p, p}) {}
};

class ReplicationPad2d : public Pad2d {
 public:
  explicit ReplicationPad2d(Padding2d pads) : Pad2d("ReplicationPad2d", pads, PadMode::Replicate) {}
  explicit ReplicationPad2d(int64_t p) : ReplicationPad2d(Padding2d{p, p, p, p}) {}
};

}  // namespace hg::nn
