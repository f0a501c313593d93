// Reductions: sum, mean, prod, max/min (whole tensor or along a dim, with indices), argmax/argmin,
// var, and sum_to (the inverse of broadcasting, used by every broadcasting backward).
#include <algorithm>
#include <cmath>

#include "halfgrad/amp/autocast.h"
#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/factories.h"

namespace hg {

namespace {

using kernels::ReduceOp;

std::vector<bool> reduced_mask(const Tensor& x, const std::vector<int64_t>& dims, const char* op) {
  std::vector<bool> mask(static_cast<size_t>(x.dim()), dims.empty());
  for (int64_t d : dims) {
    const int64_t w = wrap_dim(d, x, op);
    if (x.dim() == 0) continue;  // dim 0 / -1 of a 0-dim tensor: nothing to reduce
    HG_CHECK(!mask[w] || dims.empty(), op, ": dim ", d, " appears twice in the dims of ",
             describe(x));
    mask[w] = true;
  }
  return mask;
}

Shape reduced_shape(const Tensor& x, const std::vector<bool>& mask, bool keepdim) {
  Shape out;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (!mask[d])
      out.push_back(x.sizes()[d]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}

// The gradient of a reduction, broadcast back over the reduced dims.
Tensor expand_back(const Tensor& g, const Shape& input_shape, const std::vector<bool>& mask,
                   bool keepdim) {
  Shape kept = input_shape;
  for (size_t d = 0; d < kept.size(); ++d)
    if (mask[d]) kept[d] = 1;
  Tensor shaped = keepdim ? g : g.reshape(kept);
  return shaped.expand(input_shape);
}

class ReduceBackward final : public autograd::Node {
 public:
  ReduceBackward(ReduceOp op, std::vector<bool> mask, bool keepdim, int64_t count)
      : op_(op), mask_(std::move(mask)), keepdim_(keepdim), count_(count) {}
  std::string name() const override {
    return op_ == ReduceOp::Sum    ? "SumBackward"
           : op_ == ReduceOp::Mean ? "MeanBackward"
           : op_ == ReduceOp::Max  ? "MaxBackward"
           : op_ == ReduceOp::Prod ? "ProdBackward"
                                   : "MinBackward";
  }
  bool release_saved() override { return release_all(input_, result_); }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Shape& shape = inputs[0].shape;
    const Tensor g = autograd::grad_as(grads[0], outputs[0].dtype);
    if (op_ == ReduceOp::Sum) return {expand_back(g, shape, mask_, keepdim_)};
    if (op_ == ReduceOp::Mean)
      return {expand_back(g / static_cast<double>(count_), shape, mask_, keepdim_)};
    if (op_ == ReduceOp::Prod) return {prod_grad(expand_back(g, shape, mask_, keepdim_))};
    // max/min of several dims: the gradient is shared evenly among the tied extremes (the NaNs,
    // where the result is NaN)
    const Tensor& x = input_.unpack(*this);
    const Tensor r = expand_back(result_.unpack(*this), shape, mask_, keepdim_);
    const Tensor hit = where(ne(r, r), ne(x, x), eq(x, r));
    const Tensor hits = sum(hit.to(g.dtype()), dims_of_mask(), true);
    const Tensor share =
        expand_back(g, shape, mask_, keepdim_) / expand_back(hits, shape, mask_, true);
    return {where(hit, share, zeros_like(x))};
  }
  void save(const Tensor& x, const Tensor& result) {
    input_ = autograd::SavedTensor(x);
    result_ = autograd::SavedTensor(result);
  }

 private:
  // The product of the others: prod / x without zeros; with one zero, the product of the rest at
  // the zero and 0 elsewhere; with more, 0 (torch's rule, with no division by a zero).
  Tensor prod_grad(const Tensor& g) const {
    const Tensor& x = input_.unpack(*this);
    const Shape& shape = inputs[0].shape;
    const Tensor is_zero = eq(x, wrap_scalar(0.0, x));
    const Tensor others = where(is_zero, ones_like(x), x);
    const Tensor product = expand_back(reduce_dims(ReduceOp::Prod, others), shape, mask_, true);
    const Tensor zero_count =
        expand_back(reduce_dims(ReduceOp::Sum, is_zero.to(kFloat32)), shape, mask_, true);
    const Tensor none = eq(zero_count, wrap_scalar(0.0, zero_count));
    const Tensor one = eq(zero_count, wrap_scalar(1.0, zero_count));
    const Tensor at_zero = where(one, product, zeros_like(product));
    const Tensor at_nonzero = where(none, product / x, zeros_like(product));
    return g * where(is_zero, at_zero, at_nonzero);
  }
  // op over the reduced dims, kept (for the backward's own products and counts)
  Tensor reduce_dims(ReduceOp op, const Tensor& t) const;
  std::vector<int64_t> dims_of_mask() const {
    std::vector<int64_t> dims;
    for (size_t d = 0; d < mask_.size(); ++d)
      if (mask_[d]) dims.push_back(static_cast<int64_t>(d));
    return dims;
  }
  ReduceOp op_;
  std::vector<bool> mask_;
  bool keepdim_;
  int64_t count_;
  autograd::SavedTensor input_, result_;
};

Tensor reduce_op(ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim,
                 const char* name) {
  autograd::check_defined(x, name);
  const std::vector<bool> mask = reduced_mask(x, dims, name);
  int64_t count = 1;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (mask[d]) count *= x.sizes()[d];
  if (op == ReduceOp::Max || op == ReduceOp::Min)
    HG_CHECK(count > 0, name, ": cannot reduce over zero elements of ", describe(x));
  if (op == ReduceOp::Mean)
    HG_CHECK(x.is_floating_point(), name, ": expected a floating-point tensor, got ", describe(x));
  // integer sums and products in int64, as torch's
  const bool integer_sum = (op == ReduceOp::Sum || op == ReduceOp::Prod) && !x.is_floating_point();
  const Shape out_shape = reduced_shape(x, mask, keepdim);
  Tensor out = make_tensor(out_shape, integer_sum ? kInt64 : x.dtype(), x.device());
  // out seen with x's sizes: stride 0 in the reduced dims
  kernels::TensorView out_view = kernels::view_of(x);
  out_view.data = out.data_ptr();
  out_view.dtype = out.dtype();
  const Shape kept_strides = contiguous_strides(reduced_shape(x, mask, true));
  for (int d = 0; d < out_view.ndim; ++d) out_view.strides[d] = mask[d] ? 0 : kept_strides[d];
  kernels::reduce(x.device())(op, kernels::view_of(x), out_view);
  if (autograd::needs_grad({&x})) {
    auto node = autograd::record_op<ReduceBackward>({x}, out, op, mask, keepdim, count);
    if (op == ReduceOp::Max || op == ReduceOp::Min || op == ReduceOp::Prod) node->save(x, out);
  }
  return out;
}

Tensor ReduceBackward::reduce_dims(ReduceOp op, const Tensor& t) const {
  return reduce_op(op, t, dims_of_mask(), true, op == ReduceOp::Prod ? "prod" : "sum");
}

class ArgReduceBackward final : public autograd::Node {  // values of max/min along one dim
 public:
  ArgReduceBackward(bool is_max, int64_t dim, bool keepdim, const Tensor& indices)
      : is_max_(is_max), dim_(dim), keepdim_(keepdim), indices_(indices) {}
  std::string name() const override { return is_max_ ? "MaxDimBackward" : "MinDimBackward"; }
  bool release_saved() override { return indices_.reset(); }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Shape& shape = inputs[0].shape;
    Tensor g = autograd::grad_as(grads[0], outputs[0].dtype);
    Tensor idx = indices_.unpack(*this);
    if (!keepdim_) {
      g = g.unsqueeze(dim_);
      idx = idx.unsqueeze(dim_);
    }
    Shape line(shape.size(), 1);
    line[dim_] = shape[dim_];
    const Tensor positions =
        arange(shape[dim_], TensorOptions(kInt64).device(g.device())).reshape(line);
    return {where(eq(positions, idx), g.expand(shape), zeros(shape, g.options()))};
  }

 private:
  bool is_max_;
  int64_t dim_;
  bool keepdim_;
  autograd::SavedTensor indices_;
};

ValuesIndices arg_reduce_op(bool is_max, const Tensor& x, int64_t dim, bool keepdim,
                            bool want_values, const char* name) {
  autograd::check_defined(x, name);
  const int64_t d = wrap_dim(dim, x, name);
  const Tensor src = x.dim() == 0 ? x.reshape({1}) : x;
  HG_CHECK(src.sizes()[d] > 0, name, ": cannot reduce over an empty dim ", dim, " of ",
           describe(x));
  Shape kept = src.sizes();
  kept[d] = 1;
  Tensor indices = make_tensor(kept, kInt64, x.device());
  Tensor values = want_values ? make_tensor(kept, x.dtype(), x.device()) : Tensor();
  const kernels::TensorView values_view =
      want_values ? kernels::view_of(values) : kernels::TensorView{};
  kernels::arg_reduce(x.device())(is_max, kernels::view_of(src), static_cast<int>(d),
                                  want_values ? &values_view : nullptr, kernels::view_of(indices));
  if (!keepdim || x.dim() == 0) {
    indices = indices.squeeze(d);
    if (want_values) values = values.squeeze(d);
  }
  if (want_values && autograd::needs_grad({&x})) {
    autograd::record_op<ArgReduceBackward>({src}, values, is_max, d, keepdim && x.dim() > 0,
                                           indices);
  }
  return {values, indices};
}

}  // namespace

Tensor sum(const Tensor& x) {
  return reduce_op(ReduceOp::Sum, amp::autocast(amp::OpId::Sum, x), {}, false, "sum");
}
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return reduce_op(ReduceOp::Sum, amp::autocast(amp::OpId::Sum, x), dims, keepdim, "sum");
}
Tensor mean(const Tensor& x) {
  return reduce_op(ReduceOp::Mean, amp::autocast(amp::OpId::Mean, x), {}, false, "mean");
}
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return reduce_op(ReduceOp::Mean, amp::autocast(amp::OpId::Mean, x), dims, keepdim, "mean");
}
// fp32 under autocast, as PyTorch lists it; integers multiply in int64 (wrapping on overflow).
Tensor prod(const Tensor& x) {
  return reduce_op(ReduceOp::Prod, amp::autocast(amp::OpId::Prod, x), {}, false, "prod");
}
Tensor prod(const Tensor& x, int64_t dim, bool keepdim) {
  return reduce_op(ReduceOp::Prod, amp::autocast(amp::OpId::Prod, x), {dim}, keepdim, "prod");
}
Tensor max(const Tensor& x) { return reduce_op(ReduceOp::Max, x, {}, false, "max"); }
Tensor min(const Tensor& x) { return reduce_op(ReduceOp::Min, x, {}, false, "min"); }
Tensor amax(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return reduce_op(ReduceOp::Max, x, dims, keepdim, "amax");
}
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_reduce_op(true, x, dim, keepdim, true, "max");
}
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_reduce_op(false, x, dim, keepdim, true, "min");
}
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_reduce_op(true, x, dim, keepdim, false, "argmax").indices;
}
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_reduce_op(false, x, dim, keepdim, false, "argmin").indices;
}

Tensor var(const Tensor& x_in, const std::vector<int64_t>& dims, bool keepdim, int64_t correction) {
  const Tensor x16 = amp::autocast(amp::OpId::Var, x_in);
  autograd::check_floating(x16, "var");
  // 16-bit inputs are centred, squared and summed in float (squares overflow fp16 past 256),
  // the result stored in their dtype
  const bool narrow = x16.dtype() == kFloat16 || x16.dtype() == kBFloat16;
  const Tensor x = narrow ? x16.to(kFloat32) : x16;
  const std::vector<bool> mask = reduced_mask(x, dims, "var");
  int64_t count = 1;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (mask[d]) count *= x.sizes()[d];
  const Tensor centered = x - mean(x, dims, true);
  const double denominator = static_cast<double>(std::max<int64_t>(count - correction, 0));
  const Tensor result = sum(square(centered), dims, keepdim) / denominator;
  return narrow ? result.to(x16.dtype()) : result;
}
Tensor var(const Tensor& x) { return var(x, {}, false, 1); }

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.sizes() == shape) return x;
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  HG_CHECK(lead >= 0, "sum_to: cannot sum ", describe(x), " to ", shape_str(shape));
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && x.sizes()[d] != 1)) dims.push_back(d);
  Tensor summed = dims.empty() ? x : sum(x, dims, true);
  return summed.reshape(shape);
}

}  // namespace hg
