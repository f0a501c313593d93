// Questions asked of values, answered with bool masks: is it finite, NaN, infinite, close to
// another value. The tools of a mixed-precision post-mortem (where did the fp16 activations
// overflow? how far is the bf16 result from the fp32 one?). Composed of comparisons, so they run
// on every backend; nothing here is recorded on the tape.
#include <cmath>

#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/factories.h"

namespace hg {

namespace {

Tensor all_false(const Tensor& x) { return zeros(x.sizes(), x.options().dtype(kBool)); }

// a | b and a & b of bool masks (where keeps its operands' dtype, bool here).
Tensor either(const Tensor& a, const Tensor& b) { return where(a, a, b); }
Tensor both(const Tensor& a, const Tensor& b) { return where(a, b, a); }

void check_tolerances(double rtol, double atol, const Tensor& a, const Tensor& b) {
  HG_CHECK(rtol >= 0 && atol >= 0, "isclose: rtol and atol must be >= 0, got rtol=", rtol,
           " atol=", atol, " for ", describe(a), " and ", describe(b));
}

}  // namespace

// |x| < inf is false for inf and for NaN (every comparison with NaN is).
Tensor isfinite(const Tensor& input) {
  autograd::check_defined(input, "isfinite");
  if (!input.is_floating_point()) return ones(input.sizes(), input.options().dtype(kBool));
  const Tensor x = input.detach();
  return lt(abs(x), wrap_scalar(INFINITY, x));
}

// NaN is the one value not equal to itself.
Tensor isnan(const Tensor& input) {
  autograd::check_defined(input, "isnan");
  if (!input.is_floating_point()) return all_false(input);
  const Tensor x = input.detach();
  return ne(x, x);
}

Tensor isinf(const Tensor& input) {
  autograd::check_defined(input, "isinf");
  if (!input.is_floating_point()) return all_false(input);
  const Tensor x = input.detach();
  return eq(abs(x), wrap_scalar(INFINITY, x));
}

// torch.isclose's steps: equal values are close (so inf with inf); NaN with NaN when asked; the
// rest are close where |a - b| is finite and within atol + rtol * |b|. The allowed error is one
// float rounding (affine), where PyTorch's (atol + (rtol * b).abs()) rounds twice in a 16-bit
// dtype: the two can differ in the last bit of a 16-bit allowance.
Tensor isclose(const Tensor& a_in, const Tensor& b_in, double rtol, double atol, bool equal_nan) {
  autograd::check_defined(a_in, "isclose");
  autograd::check_defined(b_in, "isclose");
  HG_CHECK(a_in.dtype() == b_in.dtype(), "isclose: ", describe(a_in), " and ", describe(b_in),
           " differ in dtype (compare a.to(b.dtype()) with b, as torch.isclose asks)");
  check_tolerances(rtol, atol, a_in, b_in);
  autograd::check_same_device(a_in, b_in, "isclose");
  const Tensor a = a_in.detach(), b = b_in.detach();
  Tensor close = eq(a, b);
  if (equal_nan && a.is_floating_point()) close = either(close, both(isnan(a), isnan(b)));
  if (a.dtype() == kBool || (rtol == 0 && atol == 0)) return close;
  const Tensor wide_a = a.is_floating_point() ? a : a.to(kFloat32);
  const Tensor wide_b = b.is_floating_point() ? b : b.to(kFloat32);
  const Tensor actual = abs(wide_a - wide_b);
  const Tensor allowed = affine(abs(wide_b), rtol, atol);
  return either(close, both(isfinite(actual), le(actual, allowed)));
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol, bool equal_nan) {
  const Tensor close = isclose(a, b, rtol, atol, equal_nan);
  if (close.numel() == 0) return true;
  return min(close.to(kInt64)).item<int64_t>() == 1;
}

}  // namespace hg
