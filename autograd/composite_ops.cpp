// Ops composed of other differentiable ops: their backward is the chain of their parts', and
// they run on every backend those parts do (no kernels of their own).
#include <algorithm>
#include <cmath>

#include "halfgrad/amp/autocast.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/core/shape.h"

namespace hg {

// x > 0 ? x : slope * x. The slope multiplies in float (affine), and NaN passes through.
Tensor leaky_relu(const Tensor& x, double negative_slope) {
  autograd::check_floating(x, "leaky_relu");
  return where(gt(x, wrap_scalar(0, x)), x, x * negative_slope);
}

// x * sigmoid(x), also called swish. A 16-bit x is computed in fp32 and rounded once (two
// roundings, of the sigmoid and of the product, lose most bits among fp16's subnormals).
Tensor silu(const Tensor& x) {
  autograd::check_floating(x, "silu");
  if (is_low_precision(x.dtype())) {
    const Tensor wide = x.to(kFloat32);
    return (wide * sigmoid(wide)).to(x.dtype());
  }
  return x * sigmoid(x);
}

// PyTorch's formula, log1p(exp(beta x)) / beta unless beta x > threshold. The exp sees beta x
// clamped to the threshold: where x itself is taken, an exp overflowing to inf would turn the
// zero gradient of the unused branch into 0 * inf = NaN.
Tensor softplus(const Tensor& input, double beta, double threshold) {
  const Tensor x_in = amp::autocast(amp::OpId::Softplus, input);
  autograd::check_floating(x_in, "softplus");
  HG_CHECK(std::isfinite(beta) && beta != 0.0 && !std::isnan(threshold), "softplus: beta ", beta,
           " must be finite and non-zero and threshold ", threshold, " a number, for ",
           describe(x_in));
  const bool widen = is_low_precision(x_in.dtype());
  const Tensor x = widen ? x_in.to(kFloat32) : x_in;
  const Tensor z = beta == 1.0 ? x : x * beta;
  Tensor soft = log1p(exp(clamp_max(z, threshold)));
  if (beta != 1.0) soft = soft / beta;
  const Tensor out = where(gt(z, wrap_scalar(threshold, z)), x, soft);
  return widen ? out.to(x_in.dtype()) : out;
}

namespace {

// scale * (x > 0 ? x : alpha expm1(x)) in float for 16-bit x, rounded once. expm1 sees x
// clamped to 0, so a large x cannot overflow it (and NaN its unused branch's gradient).
Tensor scaled_elu(const Tensor& input, double alpha, double scale, const char* op) {
  autograd::check_floating(input, op);
  HG_CHECK(std::isfinite(alpha), op, ": alpha must be finite, got ", alpha, " for ",
           describe(input));
  const bool widen = is_low_precision(input.dtype());
  const Tensor x = widen ? input.to(kFloat32) : input;
  Tensor out = where(gt(x, wrap_scalar(0, x)), x, expm1(clamp_max(x, 0.0)) * alpha);
  if (scale != 1.0) out = out * scale;
  return widen ? out.to(input.dtype()) : out;
}

}  // namespace

Tensor elu(const Tensor& x, double alpha) { return scaled_elu(x, alpha, 1.0, "elu"); }

// The constants of Klambauer et al. (2017), as torch.nn.SELU.
Tensor selu(const Tensor& x) {
  return scaled_elu(x, 1.6732632423543772848170429916717, 1.0507009873554804934193349852946,
                    "selu");
}

// In the input's dtype under autocast, as PyTorch's (on neither list): a 16-bit x is widened
// first, so the softplus inside runs in fp32 and the result rounds once.
Tensor mish(const Tensor& input) {
  autograd::check_floating(input, "mish");
  const bool widen = is_low_precision(input.dtype());
  const Tensor x = widen ? input.to(kFloat32) : input;
  const Tensor out = x * tanh(softplus(x));
  return widen ? out.to(input.dtype()) : out;
}

// log(sum(exp(x))) over dims without overflow: the max is subtracted first (as a constant, so
// the gradient is softmax(x)), and an infinite max is replaced by 0 so that inf - inf never
// makes a NaN. 16-bit inputs compute in fp32 and round once at the end; under a 16-bit autocast
// the result stays fp32 (PyTorch's fp32 list).
Tensor logsumexp(const Tensor& input, const std::vector<int64_t>& dims, bool keepdim) {
  autograd::check_floating(input, "logsumexp");
  HG_CHECK(!dims.empty(), "logsumexp: name the dims to reduce, got none for ", describe(input));
  const bool widen = is_low_precision(input.dtype());
  const Tensor x = widen ? input.to(kFloat32) : input;
  Tensor out;
  if (x.numel() == 0) {
    out = log(sum(exp(x), dims, keepdim));  // empty sums: log 0 = -inf
  } else {
    Tensor shift = amax(x.detach(), dims, /*keepdim=*/true);
    shift = where(eq(abs(shift), wrap_scalar(INFINITY, shift)), wrap_scalar(0, shift), shift);
    const Tensor sums = sum(exp(x - shift), dims, keepdim);
    out = log(sums) + (keepdim ? shift : shift.reshape(sums.sizes()));
  }
  return widen && !amp::is_autocast_enabled() ? out.to(input.dtype()) : out;
}

// x with value wherever mask (bool, broadcast to x) is true; no gradient flows there. The
// result keeps x's dtype: value is converted as fill_ converts (an int64 x truncates 2.7 to 2,
// as PyTorch does).
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  autograd::check_defined(x, "masked_fill");
  HG_CHECK(mask.defined() && mask.dtype() == kBool, "masked_fill: the mask must be bool, got ",
           describe(mask), " for ", describe(x));
  const bool broadcasts = [&] {
    try {
      return broadcast_shapes(mask.sizes(), x.sizes(), "masked_fill") == x.sizes();
    } catch (const Error&) {
      return false;
    }
  }();
  HG_CHECK(broadcasts, "masked_fill: mask ", describe(mask), " does not broadcast to ",
           describe(x));
  // the value in x's dtype, as PyTorch's masked_fill: on an integer x a fraction truncates and a
  // whole number wraps as a binary op's scalar does (uint8 -1 is 255); NaN or a value past
  // int64 has no integer reading, and a finite value past a float dtype's range is refused
  // (a bool x takes any value: nonzero, NaN included, is true, as PyTorch's)
  if (x.dtype() != kBool)
    check_fill_value(value, x.is_floating_point() ? x.dtype() : kInt64, "masked_fill");
  if (x.is_floating_point()) return where(mask, scalar_tensor(value, x.options()), x);
  const double whole = x.dtype() == kBool ? static_cast<double>(value != 0.0) : std::trunc(value);
  return where(mask, wrap_scalar(whole, x).to(x.dtype()), x);
}

// The square root of var: its gradient is var's divided by 2 std (inf where std is 0, as
// PyTorch's: a constant input has no direction to move in).
Tensor std(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, int64_t correction) {
  return sqrt(var(x, dims, keepdim, correction));
}
Tensor std(const Tensor& x) { return sqrt(var(x)); }

// One index_select per dim with indices n-1, ..., 0: any dtype, and the gradient of a float x
// is flipped back by index_select's own backward.
Tensor flip(const Tensor& x, const std::vector<int64_t>& dims) {
  autograd::check_defined(x, "flip");
  std::vector<int64_t> seen;
  Tensor out = x;
  for (const int64_t dim : dims) {
    const int64_t d = wrap_sized_dim(dim, x.dim(), "flip");
    HG_CHECK(std::find(seen.begin(), seen.end(), d) == seen.end(), "flip: dim ", d,
             " appears more than once in the dims of ", describe(x));
    seen.push_back(d);
    const int64_t n = x.size(d);
    out = index_select(out, d, arange(n - 1, -1, -1, TensorOptions(kInt64).device(x.device())));
  }
  return dims.empty() ? x.clone() : out;
}

// index [*] == arange(C) broadcast to [*, C]: the classes are checked first, on the host (a
// CUDA index synchronises), as PyTorch checks them.
Tensor one_hot(const Tensor& index, int64_t num_classes) {
  autograd::check_defined(index, "one_hot");
  HG_CHECK(index.dtype() == kInt64, "one_hot: index must be int64, got ", describe(index));
  HG_CHECK(num_classes >= -1, "one_hot: num_classes must be -1 (inferred) or >= 0, got ",
           num_classes, " for ", describe(index));
  HG_CHECK(index.numel() > 0 || num_classes >= 0,
           "one_hot: cannot infer num_classes from an empty index ", describe(index));
  if (index.numel() > 0) {
    const int64_t smallest = min(index).item<int64_t>();
    const int64_t largest = max(index).item<int64_t>();
    HG_CHECK(smallest >= 0, "one_hot: class values must be >= 0, got ", smallest, " in ",
             describe(index));
    if (num_classes == -1) num_classes = largest + 1;
    HG_CHECK(largest < num_classes, "one_hot: class values must be < num_classes ", num_classes,
             ", got ", largest, " in ", describe(index));
  }
  const Tensor classes = arange(num_classes, TensorOptions(kInt64).device(index.device()));
  return eq(index.detach().unsqueeze(-1), classes).to(kInt64);
}

}  // namespace hg
