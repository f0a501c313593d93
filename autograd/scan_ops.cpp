// cumsum: prefix sums along a dim (kernels::cumsum, on every device). Its backward is the
// gradient summed from the other end, the same kernel run in reverse along the dim.
#include "halfgrad/amp/autocast.h"
#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/shape.h"

namespace hg {

namespace {

// x's prefix sums along dim (suffix sums when reverse), x seen as [outer, n, inner].
Tensor scan(const Tensor& x, int64_t dim, bool reverse) {
  Tensor xc;
  {
    NoGradGuard no_grad;
    xc = x.contiguous();
  }
  Tensor out = make_tensor(xc.sizes(), xc.dtype(), xc.device());
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= xc.size(d);
  for (int64_t d = dim + 1; d < xc.dim(); ++d) inner *= xc.size(d);
  const int64_t n = xc.dim() == 0 ? 1 : xc.size(dim);
  const auto as_lines = [&](const Tensor& t) {
    kernels::TensorView v = kernels::view_of(t);
    v.ndim = 3;
    v.sizes[0] = outer;
    v.sizes[1] = n;
    v.sizes[2] = inner;
    v.strides[0] = n * inner;
    v.strides[1] = inner;
    v.strides[2] = 1;
    return v;
  };
  kernels::cumsum(xc.device())(as_lines(xc), as_lines(out), reverse);
  return out;
}

class CumsumBackward final : public autograd::Node {
 public:
  explicit CumsumBackward(int64_t dim) : dim_(dim) {}
  std::string name() const override { return "CumsumBackward"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    return {scan(autograd::grad_as(grads[0], outputs[0].dtype), dim_, /*reverse=*/true)};
  }

 private:
  int64_t dim_;
};

}  // namespace

Tensor cumsum(const Tensor& input, int64_t dim) {
  autograd::check_defined(input, "cumsum");
  // bool and uint8 sum in int64, as torch's cumsum
  const Tensor x = input.is_floating_point() || input.dtype() == kInt64
                       ? amp::autocast(amp::OpId::Cumsum, input)
                       : input.to(kInt64);
  HG_CHECK(x.dim() > 0 || dim == 0 || dim == -1, "cumsum: dim ", dim,
           " is out of range for a 0-dim tensor (0 or -1), got ", describe(x));
  const int64_t d = x.dim() == 0 ? 0 : wrap_sized_dim(dim, x, "cumsum");
  Tensor out = scan(x, d, false);
  if (autograd::needs_grad({&x})) autograd::record_op<CumsumBackward>({x}, out, d);
  return out;
}

}  // namespace hg
