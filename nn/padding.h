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
  Pad2d(std::string name, Padding2d padding, PadMode mode, double value = 0.0);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

  Padding2d padding;
  PadMode mode;
  double value;
};

class ZeroPad2d : public Pad2d {
 public:
  explicit ZeroPad2d(Padding2d padding) : Pad2d("ZeroPad2d", padding, PadMode::Constant) {}
  explicit ZeroPad2d(int64_t p) : ZeroPad2d(Padding2d{p, p, p, p}) {}
};

class ConstantPad2d : public Pad2d {
 public:
  ConstantPad2d(Padding2d padding, double value)
      : Pad2d("ConstantPad2d", padding, PadMode::Constant, value) {}
  ConstantPad2d(int64_t p, double value) : ConstantPad2d(Padding2d{p, p, p, p}, value) {}
};

class ReflectionPad2d : public Pad2d {
 public:
  explicit ReflectionPad2d(Padding2d padding)
      : Pad2d("ReflectionPad2d", padding, PadMode::Reflect) {}
  explicit ReflectionPad2d(int64_t p) : ReflectionPad2d(Padding2d{p, p, p, p}) {}
};

class ReplicationPad2d : public Pad2d {
 public:
  explicit ReplicationPad2d(Padding2d padding)
      : Pad2d("ReplicationPad2d", padding, PadMode::Replicate) {}
  explicit ReplicationPad2d(int64_t p) : ReplicationPad2d(Padding2d{p, p, p, p}) {}
};

}  // namespace hg::nn
