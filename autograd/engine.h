#pragma once
// The backward engine (engine.cpp). Tensor::backward calls run_backward; the two functions
// below are libtorch's torch::autograd::backward and torch::autograd::grad.
#include <vector>

#include "halfgrad/core/tensor.h"

namespace hg::autograd {

// Tensor::backward: see engine.cpp.
void run_backward(const Tensor& root, const Tensor& gradient, bool retain_graph);

// Backward from several roots at once, each with its gradient (none: every root is a scalar and
// gets 1); one pass, so a node shared by two roots runs once with their gradients summed.
void backward(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors = {},
              bool retain_graph = false);

// The gradients of the outputs (weighted by grad_outputs, or 1 for scalar outputs) with respect
// to each input, returned in the inputs' order instead of accumulated into .grad: no tensor's
// .grad changes. Inputs may be leaves or results of recorded ops; each must require grad. Only
// the nodes on the way to an input run. An input the outputs do not depend on is an error,
// unless allow_unused (then its gradient is undefined). The gradients are not differentiable
// (no double backward).
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false,
                         bool allow_unused = false);

// True on a thread while autograd::grad runs there (a node whose backward would change some
// .grad, as checkpoint's, refuses to run then).
bool in_grad_call();

}  // namespace hg::autograd
