#pragma once
// gradcheck: compares the gradients autograd computes with central finite differences, in
// fp64. Every op's backward is tested this way (tests/autograd).
#include <functional>
#include <string>
#include <vector>

#include "halfgrad/core/tensor.h"

namespace hg::autograd {

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0.0;
  std::string message;  // on failure: which input, which element, analytic vs numeric
  explicit operator bool() const { return ok; }
};

// fn maps the inputs to one output tensor. Inputs that require grad must be fp64 CPU tensors,
// views included (transposed, sliced; not expanded: stride 0 shares elements); the full
// Jacobian is compared element by element: |analytic - numeric| <= atol + rtol * |numeric|.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, double eps = 1e-6, double atol = 1e-5,
                          double rtol = 1e-3);

}  // namespace hg::autograd
