#pragma once
// Small helpers shared by the op front-ends in autograd/.
#include <string>
#include <string_view>

#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/autograd/node.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/tensor.h"
#include "halfgrad/kernels/kernels.h"
#include "halfgrad/kernels/tensor_bridge.h"

namespace hg::autograd {

// A 0-dim operand: an out-of-range value becomes inf as a conversion makes it (fills check the
// range, as PyTorch's do; an operand such as the 1e39 of `x + 1e39` must not).
inline Tensor operand_scalar(double value, DType dtype, Device device) {
  Tensor scalar = make_tensor({}, dtype, device);
  kernels::fill(device)(kernels::view_of(scalar), value);
  return scalar;
}

inline void check_defined(const Tensor& t, std::string_view op) {
  HG_CHECK(t.defined(), op, ": got an undefined tensor");
}

inline void check_floating(const Tensor& t, std::string_view op) {
  check_defined(t, op);
  HG_CHECK(t.is_floating_point(), op, ": expected a floating-point tensor, got ", describe(t));
}

inline void check_same_device(const Tensor& a, const Tensor& b, std::string_view op) {
  HG_CHECK(a.device() == b.device(), op, ": tensors are on different devices: ", describe(a),
           " and ", describe(b));
}

// A node whose output gradient must arrive in the output's dtype (cast if not).
inline Tensor grad_as(const Tensor& grad, DType dtype) {
  return grad.dtype() == dtype ? grad : grad.to(dtype);
}

// A loss's elementwise values reduced as asked: unchanged, summed, or averaged over all
// elements (autograd/binary_loss_ops.cpp).
Tensor reduce_elementwise(const Tensor& per_element, Reduction reduction);

// embedding's lookup of table rows [V, D] by int64 `index`, recorded for backward, without the
// CPU's range check: for callers that checked the indices already (autograd/index_ops.cpp). On
// CUDA the kernel still reports an index out of range late (autograd/sampling_ops.cpp), naming
// `call` (the caller's op and operands; empty: embedding).
Tensor lookup_rows(const Tensor& index, const Tensor& table, const std::string& call = {});

}  // namespace hg::autograd
