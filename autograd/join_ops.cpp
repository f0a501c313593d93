// cat and stack: copy each input into its window of one output; backward slices it apart.
#include <algorithm>

#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/factories.h"

namespace hg {

namespace {

class CatBackward final : public autograd::Node {
 public:
  explicit CatBackward(int64_t dim) : dim_(dim) {}
  std::string name() const override { return "CatBackward"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor g = autograd::grad_as(grads[0], outputs[0].dtype);
    std::vector<Tensor> result;
    int64_t start = 0;
    for (const auto& info : inputs) {
      if (static_cast<int64_t>(info.shape.size()) != g.dim()) {  // a legacy empty input
        result.push_back(zeros(info.shape, TensorOptions(info.dtype).device(g.device())));
        continue;
      }
      const int64_t length = info.shape[dim_];
      result.push_back(g.narrow(dim_, start, length).to(info.dtype));
      start += length;
    }
    return result;
  }

 private:
  int64_t dim_;
};

// PyTorch's legacy rule: a 1-D empty tensor joins any cat, so out = cat({out, x}) can start from
// an empty out
bool legacy_empty(const Tensor& t) { return t.dim() == 1 && t.size(0) == 0; }

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  HG_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  for (const Tensor& t : tensors) autograd::check_defined(t, "cat");
  const auto shaped = std::find_if(tensors.begin(), tensors.end(),
                                   [](const Tensor& t) { return !legacy_empty(t); });
  const size_t ref = shaped == tensors.end() ? 0 : static_cast<size_t>(shaped - tensors.begin());
  const Tensor& first = tensors[ref];
  HG_CHECK(first.dim() > 0, "cat: cannot concatenate zero-dimensional tensor ", ref, " ",
           describe(first), " (use stack)");
  const int64_t d = wrap_dim(dim, first, "cat");
  DType dtype = first.dtype();
  Shape shape = first.sizes();
  shape[d] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    autograd::check_same_device(first, t, "cat");
    dtype = promote_types(dtype, t.dtype());
    if (legacy_empty(t) && first.dim() != 1) continue;
    bool same = t.dim() == first.dim();
    for (int64_t k = 0; same && k < t.dim(); ++k) same = k == d || t.size(k) == first.size(k);
    HG_CHECK(same, "cat: tensor ", i, " ", describe(t), " does not match tensor ", ref, " ",
             describe(first), " outside dim ", d);
    shape[d] += t.size(d);
  }
  Tensor out = make_tensor(shape, dtype, first.device());
  int64_t start = 0;
  for (const Tensor& t : tensors) {
    if (t.dim() != out.dim()) continue;  // a legacy empty one
    NoGradGuard no_grad;
    Tensor window = out.narrow(d, start, t.size(d));
    kernels::copy(t.device())(kernels::view_of(t), kernels::view_of(window));
    start += t.size(d);
  }
  if (autograd::needs_grad(tensors)) autograd::record_op<CatBackward>(tensors, out, d);
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  HG_CHECK(!tensors.empty(), "stack: expected a non-empty list of tensors");
  autograd::check_defined(tensors[0], "stack");
  const int64_t rank = tensors[0].dim() + 1;  // of the result
  HG_CHECK(dim >= -rank && dim < rank, "stack: dimension ", dim, " out of range for stacking ",
           describe(tensors[0]), " into a tensor of ", rank, " dims (expected [", -rank, ", ",
           rank - 1, "])");
  const int64_t d = dim < 0 ? dim + rank : dim;
  std::vector<Tensor> expanded;
  for (size_t i = 0; i < tensors.size(); ++i) {
    HG_CHECK(tensors[i].defined() && tensors[i].sizes() == tensors[0].sizes(), "stack: tensor ", i,
             " ", describe(tensors[i]), " differs in shape from tensor 0 ", describe(tensors[0]));
    expanded.push_back(tensors[i].unsqueeze(d));
  }
  return cat(expanded, d);
}

}  // namespace hg
