#pragma once
// From Tensor to the kernels' TensorView (host side only: .cu files never see this header).
#include "halfgrad/core/tensor.h"
#include "halfgrad/kernels/tensor_view.h"

namespace hg::kernels {

// The view of t as it is.
TensorView view_of(const Tensor& t);
// The view of t broadcast to `shape` (stride 0 in broadcast dims); t must be broadcastable.
TensorView view_of(const Tensor& t, const Shape& shape);

}  // namespace hg::kernels
