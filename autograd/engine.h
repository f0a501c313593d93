#pragma once
#include "halfgrad/core/tensor.h"

namespace hg::autograd {

// Tensor::backward: see engine.cpp.
void run_backward(const Tensor& root, const Tensor& gradient, bool retain_graph);

}  // namespace hg::autograd
