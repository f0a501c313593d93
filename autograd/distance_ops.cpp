// norm, normalize and cosine_similarity (autograd/ops.h): composites of the reductions and
// elementwise ops. 16-bit inputs compute in fp32 (squares of fp16 overflow past 256) and the
// result is rounded once; under autocast they are fp32, as PyTorch's list has them.
#include <cmath>
#include <vector>

#include "halfgrad/amp/autocast.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/shape.h"

namespace hg {

namespace {

std::vector<int64_t> all_dims(const Tensor& x) {
  std::vector<int64_t> dims(static_cast<size_t>(x.dim()));
  for (int64_t d = 0; d < x.dim(); ++d) dims[static_cast<size_t>(d)] = d;
  return dims;
}

// s^(1/p) with a zero gradient where s is 0 (PyTorch's convention for the norm of a zero
// vector) instead of the root's inf times a zero: 0 * inf would be NaN.
Tensor zero_safe_root(const Tensor& s, double p) {
  const Tensor zero = eq(s.detach(), wrap_scalar(0, s));
  const Tensor safe = where(zero, wrap_scalar(1, s), s);
  return where(zero, wrap_scalar(0, s), p == 2.0 ? sqrt(safe) : pow(safe, 1.0 / p));
}

}  // namespace

Tensor norm(const Tensor& input, double p, const std::vector<int64_t>& dims, bool keepdim) {
  const Tensor x_in = amp::autocast(amp::OpId::Norm, input);
  autograd::check_floating(x_in, "norm");
  HG_CHECK(!std::isnan(p) && (p >= 1.0 || p == 0.0 || std::isinf(p)), "norm: p must be >= 1, 0 ",
           "or +-inf, got ", p, " for ", describe(x_in));
  const bool widen = is_low_precision(x_in.dtype());
  // a 0-dim x as [1], reduced back to 0-dim
  const Tensor x =
      (widen ? x_in.to(kFloat32) : x_in).reshape(x_in.dim() == 0 ? Shape{1} : x_in.sizes());
  const std::vector<int64_t> over = dims.empty() ? all_dims(x) : dims;
  const bool keep = keepdim && x_in.dim() > 0;
  Tensor out;
  if (std::isinf(p)) {
    out = p > 0 ? amax(abs(x), over, keep) : -amax(-abs(x), over, keep);
  } else if (p == 0.0) {
    out = sum(ne(x.detach(), wrap_scalar(0, x)).to(x.dtype()), over, keep);
  } else if (p == 1.0) {
    out = sum(abs(x), over, keep);
  } else {
    out = zero_safe_root(sum(p == 2.0 ? x * x : pow(abs(x), p), over, keep), p);
  }
  return widen && !amp::is_autocast_enabled() ? out.to(x_in.dtype()) : out;
}

// x / max(norm(x, p, dim), eps), as torch.nn.functional.normalize.
Tensor normalize(const Tensor& x, double p, int64_t dim, double eps) {
  autograd::check_floating(x, "normalize");
  HG_CHECK(eps >= 0, "normalize: eps must be >= 0, got ", eps, " for ", describe(x));
  return x / clamp_min(norm(x, p, {dim}, true), eps);
}

// sum(a * b) / max(|a| |b|, eps) along dim of a and b broadcast together, as
// torch.nn.functional.cosine_similarity's documented formula. fp32 under autocast (its list).
Tensor cosine_similarity(const Tensor& a_in, const Tensor& b_in, int64_t dim, double eps) {
  const auto in = amp::autocast(amp::OpId::Norm, {a_in, b_in});
  autograd::check_floating(in[0], "cosine_similarity");
  autograd::check_floating(in[1], "cosine_similarity");
  const bool widen = is_low_precision(in[0].dtype()) || is_low_precision(in[1].dtype());
  // broadcast first, as torch: then dim means the same dim of both
  const Shape shape = broadcast_shapes(in[0].sizes(), in[1].sizes(), "cosine_similarity");
  const Tensor a = (widen ? in[0].to(kFloat32) : in[0]).expand(shape);
  const Tensor b = (widen ? in[1].to(kFloat32) : in[1]).expand(shape);
  const Tensor dot = sum(a * b, {dim});
  const Tensor out = dot / clamp_min(norm(a, 2, {dim}) * norm(b, 2, {dim}), eps);
  return widen && !amp::is_autocast_enabled() ? out.to(result_type(in[0], in[1])) : out;
}

}  // namespace hg
