// Ops composed of other differentiable ops: their backward is the chain of their parts', and
// they run on every backend those parts do (no kernels of their own).
#include <cmath>

#include "autograd/op_helpers.h"
#include "autograd/ops.h"

namespace hg {

// x > 0 ? x : slope * x. The slope multiplies in float (affine), and NaN passes through.
Tensor leaky_relu(const Tensor& x, double negative_slope) {
  autograd::check_floating(x, "leaky_relu");
  return where(gt(x, wrap_scalar(0, x)), x, x * negative_slope);
}

// x * sigmoid(x), also called swish.
Tensor silu(const Tensor& x) {
  autograd::check_floating(x, "silu");
  return x * sigmoid(x);
}

// log(sum(exp(x))) over dims without overflow: the max is subtracted first (as a constant, so
// the gradient is softmax(x)), and an infinite max is replaced by 0 so that inf - inf never
// makes a NaN. Under a 16-bit autocast exp and log run in fp32, so the result is fp32.
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  autograd::check_floating(x, "logsumexp");
  HG_CHECK(!dims.empty(), "logsumexp: name the dims to reduce, got none for ", describe(x));
  Tensor shift = amax(x.detach(), dims, /*keepdim=*/true);
  shift = where(eq(abs(shift), wrap_scalar(INFINITY, shift)), wrap_scalar(0, shift), shift);
  const Tensor sums = sum(exp(x - shift), dims, keepdim);
  return log(sums) + (keepdim ? shift : shift.reshape(sums.sizes()));
}

// x with value wherever mask (bool, broadcast to x) is true; no gradient flows there.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  autograd::check_defined(x, "masked_fill");
  HG_CHECK(mask.defined() && mask.dtype() == kBool, "masked_fill: the mask must be bool, got ",
           describe(mask), " for ", describe(x));
  const Tensor out = where(mask, wrap_scalar(value, x), x);
  HG_CHECK(out.sizes() == x.sizes(), "masked_fill: mask ", describe(mask),
           " does not broadcast to ", describe(x));
  return out;
}

}  // namespace hg
