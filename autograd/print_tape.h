#pragma once
// print_tape(root, out): the recorded nodes that lead to root, newest first, with their output
// shapes and dtypes and where each input's gradient goes. Under autocast the CastBackward nodes
// show exactly where precision changes: the main teaching view of autograd x AMP.
#include <ostream>

#include "halfgrad/core/tensor.h"

namespace hg::autograd {

void print_tape(const Tensor& root, std::ostream& out);

}  // namespace hg::autograd
