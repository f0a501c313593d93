#pragma once
#include "halfgrad/core/device.h"
#include "halfgrad/core/dtype.h"

namespace hg {

// TensorOptions().dtype(kFloat16).device(kCUDA).requires_grad(true): each setter returns a copy.
class TensorOptions {
 public:
  TensorOptions() = default;
  TensorOptions(DType d)
      : dtype_(d), has_dtype_(true) {}     // NOLINT: zeros({2}, kFloat16) reads well
  TensorOptions(Device d) : device_(d) {}  // NOLINT
  DType dtype() const { return dtype_; }
  // Whether a dtype was given; factories that can infer one (from_vector) do so only if not.
  bool has_dtype() const { return has_dtype_; }
  Device device() const { return device_; }
  bool requires_grad() const { return requires_grad_; }
  TensorOptions dtype(DType d) const {
    TensorOptions o = *this;
    o.dtype_ = d;
    o.has_dtype_ = true;
    return o;
  }
  TensorOptions device(Device d) const {
    TensorOptions o = *this;
    o.device_ = d;
    return o;
  }
  TensorOptions requires_grad(bool r) const {
    TensorOptions o = *this;
    o.requires_grad_ = r;
    return o;
  }

 private:
  DType dtype_ = kFloat32;
  bool has_dtype_ = false;
  Device device_ = kCPU;
  bool requires_grad_ = false;
};

}  // namespace hg
