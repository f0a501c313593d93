#pragma once
// Internal to amp/: the multi-tensor gradient unscale shared by GradScaler's host and device
// modes (amp/grad_scaler.cpp, amp/grad_scaler_device.cpp).
#include <vector>

#include "halfgrad/core/tensor.h"

namespace hg::amp::detail {

// One gradient's place in the multi-tensor unscale: the view read, the view written, and how
// the result gets back to the parameter.
struct UnscaleTarget {
  Tensor param, in, out;
  bool replace;  // a 16-bit gradient is replaced by its fp32 unscaled copy
};
UnscaleTarget unscale_target(const Tensor& param);

// Unscales the targets' gradients (all on one device) by inv_scale (float32 [1] on that device)
// in one unscale_grads launch per device, sets found_inf (float32 [1]) when a value is inf or
// NaN, and hands the results to the parameters. Reads nothing back.
void unscale_into_params(std::vector<UnscaleTarget>& targets, const Tensor& inv_scale,
                         const Tensor& found_inf);

}  // namespace hg::amp::detail
