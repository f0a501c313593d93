// softmax / log_softmax along any dim: the dim is moved last (a copy only when needed), the
// kernel works on rows, and the result is moved back into a contiguous tensor.
#include <algorithm>

#include "halfgrad/amp/autocast.h"
#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"

namespace hg {

namespace {

// x with `dim` moved last, contiguous. Untaped: the nodes below handle the layout themselves.
Tensor dim_last(const Tensor& x, int64_t dim) {
  NoGradGuard no_grad;
  return (dim == x.dim() - 1 ? x : x.transpose(dim, -1)).contiguous();
}

Tensor dim_back(const Tensor& y, int64_t dim) {
  NoGradGuard no_grad;
  return dim == y.dim() - 1 ? y : y.transpose(dim, -1);
}

class SoftmaxBackward final : public autograd::Node {
 public:
  SoftmaxBackward(bool log, int64_t dim, const Tensor& y_last) : log_(log), dim_(dim), y_(y_last) {}
  std::string name() const override { return log_ ? "LogSoftmaxBackward" : "SoftmaxBackward"; }
  bool release_saved() override { return y_.reset(); }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor& y = y_.unpack(*this);
    const Tensor g = dim_last(autograd::grad_as(grads[0], y.dtype()), dim_);
    Tensor dx = make_tensor(y.sizes(), y.dtype(), y.device());
    kernels::softmax_backward(y.device())(log_, kernels::view_of(y), kernels::view_of(g),
                                          kernels::view_of(dx));
    return {dim_back(dx, dim_)};
  }

 private:
  bool log_;
  int64_t dim_;
  autograd::SavedTensor y_;
};

Tensor softmax_op(const Tensor& x, int64_t dim, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  autograd::check_floating(x, name);
  const int64_t n = std::max<int64_t>(x.dim(), 1);  // a 0-dim tensor takes dim 0 or -1
  HG_CHECK(dim >= -n && dim < n, name, ": dimension ", dim, " out of range for ", describe(x),
           ", a tensor of ", x.dim(), " dims (expected [", -n, ", ", n - 1, "])");
  if (x.dim() == 0) return softmax_op(x.reshape({1}), 0, log).reshape({});
  const int64_t d = dim < 0 ? dim + n : dim;
  const Tensor x_last = dim_last(x, d);
  Tensor y_last = make_tensor(x_last.sizes(), x.dtype(), x.device());
  kernels::softmax(x.device())(log, kernels::view_of(x_last), kernels::view_of(y_last));
  // contiguous, as PyTorch's: over another dim than the last the result is a copy moved back
  // (the node keeps the dim-last rows it computed from)
  Tensor out = d == x.dim() - 1 ? y_last : [&] {
    NoGradGuard no_grad;
    return dim_back(y_last, d).contiguous();
  }();
  if (autograd::needs_grad({&x})) {
    if (out.is_same(y_last)) out = make_view(y_last, out.sizes(), out.strides(), 0);
    autograd::record_op<SoftmaxBackward>({x}, out, log, d, y_last);
  }
  return out;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) {
  return softmax_op(amp::autocast(amp::OpId::Softmax, x), dim, false);
}
Tensor log_softmax(const Tensor& x, int64_t dim) {
  return softmax_op(amp::autocast(amp::OpId::LogSoftmax, x), dim, true);
}

}  // namespace hg
