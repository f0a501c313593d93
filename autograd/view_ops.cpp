// View ops: new sizes/strides over the same storage. Their backward reshapes, permutes, sums
// or scatters the gradient back to the input's layout.
#include <algorithm>
#include <numeric>

#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/factories.h"

namespace hg {

namespace {

enum class ViewKind { Reshape, Permute, Expand, Slice };

class ViewBackward final : public autograd::Node {
 public:
  ViewBackward(ViewKind kind, const char* name) : kind_(kind), name_(name) {}
  std::string name() const override { return name_; }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Shape& shape = inputs[0].shape;
    const Tensor g = autograd::grad_as(grads[0], outputs[0].dtype);
    switch (kind_) {
      case ViewKind::Reshape:
        return {g.reshape(shape)};
      case ViewKind::Permute: {
        std::vector<int64_t> inverse(perm.size());
        for (size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<int64_t>(i);
        return {g.permute(inverse)};
      }
      case ViewKind::Expand:
        return {sum_to(g, shape)};
      case ViewKind::Slice: {
        Tensor grad_in = zeros(shape, g.options());
        Tensor window = grad_in.slice(dim, start, end, step);
        window.copy_(removed_dim ? g.unsqueeze(dim) : g);
        return {grad_in};
      }
    }
    return {Tensor()};
  }

  std::vector<int64_t> perm;                      // Permute
  int64_t dim = 0, start = 0, end = 0, step = 1;  // Slice
  bool removed_dim = false;                       // Slice by select()

 private:
  ViewKind kind_;
  const char* name_;
};

Tensor finish_view(const Tensor& input, Tensor out, ViewKind kind, const char* name,
                   const std::function<void(ViewBackward&)>& configure = {}) {
  if (autograd::needs_grad({&input})) {
    auto node = autograd::record_op<ViewBackward>({input}, out, kind, name);
    if (configure) configure(*node);
  } else if (!is_grad_enabled()) {
    out.impl()->autograd.no_grad_view_of_grad =
        input.requires_grad() || input.impl()->autograd.no_grad_view_of_grad;
  }
  return out;
}

}  // namespace

Tensor Tensor::view(const Shape& shape) const {
  autograd::check_defined(*this, "view");
  const Shape target = infer_shape(shape, numel(), "view", sizes());
  Shape new_strides;
  HG_CHECK(compute_view_strides(sizes(), strides(), target, new_strides), "view: cannot view ",
           describe(*this), " with strides ", shape_str(strides()), " as ", shape_str(target),
           " without a copy; use reshape() (or contiguous() first)");
  return finish_view(*this, make_view(*this, target, new_strides, storage_offset()),
                     ViewKind::Reshape, "ViewBackward");
}

Tensor Tensor::reshape(const Shape& shape) const {
  autograd::check_defined(*this, "reshape");
  const Shape target = infer_shape(shape, numel(), "reshape", sizes());
  Shape new_strides;
  if (compute_view_strides(sizes(), strides(), target, new_strides)) return view(target);
  return contiguous().view(target);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  autograd::check_defined(*this, "flatten");
  const int64_t s = wrap_dim(start_dim, *this, "flatten");  // 0 and -1 for a 0-dim tensor
  const int64_t e = wrap_dim(end_dim, *this, "flatten");
  if (dim() == 0) return reshape({1});
  HG_CHECK(s <= e, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim, " for ",
           describe(*this));
  Shape shape(sizes().begin(), sizes().begin() + s);
  shape.push_back(std::accumulate(sizes().begin() + s, sizes().begin() + e + 1, int64_t{1},
                                  std::multiplies<>()));
  shape.insert(shape.end(), sizes().begin() + e + 1, sizes().end());
  return reshape(shape);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  autograd::check_defined(*this, "permute");
  HG_CHECK(static_cast<int64_t>(dims.size()) == dim(), "permute: got ", dims.size(), " dims for ",
           describe(*this));
  std::vector<int64_t> perm(dims.size());
  std::vector<bool> seen(dims.size(), false);
  Shape new_sizes(dims.size()), new_strides(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = wrap_dim(dims[i], *this, "permute");
    HG_CHECK(!seen[d], "permute: dim ", dims[i], " repeats in the permutation of ",
             describe(*this));
    seen[d] = true;
    perm[i] = d;
    new_sizes[i] = sizes()[d];
    new_strides[i] = strides()[d];
  }
  return finish_view(*this, make_view(*this, new_sizes, new_strides, storage_offset()),
                     ViewKind::Permute, "PermuteBackward",
                     [&](ViewBackward& node) { node.perm = perm; });
}

Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const {
  autograd::check_defined(*this, "transpose");
  std::vector<int64_t> perm(static_cast<size_t>(dim()));
  std::iota(perm.begin(), perm.end(), 0);
  const int64_t d0 = wrap_dim(dim0, *this, "transpose");  // 0 and -1 for a 0-dim tensor
  const int64_t d1 = wrap_dim(dim1, *this, "transpose");
  if (dim() > 0) std::swap(perm[d0], perm[d1]);
  return permute(perm);
}

Tensor Tensor::t() const {
  autograd::check_defined(*this, "t");
  HG_CHECK(dim() <= 2, "t: expects a tensor with <= 2 dims, got ", describe(*this));
  return dim() < 2 ? view(sizes()) : transpose(0, 1);  // a new view either way, as PyTorch's
}

Tensor Tensor::unsqueeze(int64_t d) const {
  autograd::check_defined(*this, "unsqueeze");
  HG_CHECK(d >= -(dim() + 1) && d <= dim(), "unsqueeze: dimension ", d, " out of range for ",
           describe(*this), " (expected [", -(dim() + 1), ", ", dim(), "])");
  const int64_t at = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape shape = sizes();
  shape.insert(shape.begin() + at, 1);
  return view(shape);
}

Tensor Tensor::squeeze() const {
  autograd::check_defined(*this, "squeeze");
  Shape shape;
  for (int64_t s : sizes())
    if (s != 1) shape.push_back(s);
  return view(shape);
}

Tensor Tensor::squeeze(int64_t d) const {
  autograd::check_defined(*this, "squeeze");
  const int64_t at = wrap_dim(d, *this, "squeeze");  // 0 and -1 for a 0-dim tensor
  // nothing to remove: still a new view, as PyTorch's (a hook or retain_grad on the result must
  // not land on the input)
  if (dim() == 0 || sizes()[at] != 1) return view(sizes());
  Shape shape = sizes();
  shape.erase(shape.begin() + at);
  return view(shape);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  autograd::check_defined(*this, "slice");
  const int64_t at = wrap_sized_dim(d, *this, "slice");
  HG_CHECK(step > 0, "slice: step must be positive, got ", step);
  const int64_t n = sizes()[at];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape new_sizes = sizes(), new_strides = strides();
  new_sizes[at] = end > start ? (end - start - 1) / step + 1 : 0;  // no overflow for a huge step
  if (new_sizes[at] > 1) new_strides[at] *= step;  // step < n here, so this cannot overflow
  return finish_view(
      *this, make_view(*this, new_sizes, new_strides, storage_offset() + start * strides()[at]),
      ViewKind::Slice, "SliceBackward", [&](ViewBackward& node) {
        node.dim = at;
        node.start = start;
        node.end = end;
        node.step = step;
      });
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  autograd::check_defined(*this, "narrow");
  const int64_t at = wrap_sized_dim(d, *this, "narrow");
  const int64_t n = sizes()[at];
  HG_CHECK(start >= -n && start <= n, "narrow: start ", start, " is out of range for dim ", d,
           " of ", describe(*this));
  if (start < 0) start += n;  // as PyTorch: a negative start counts from the end
  HG_CHECK(length >= 0 && length <= n - start, "narrow: start ", start, " + length ", length,
           " is out of range for dim ", d, " of ", describe(*this));
  return slice(at, start, start + length);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  autograd::check_defined(*this, "select");
  const int64_t at = wrap_sized_dim(d, *this, "select");
  const int64_t n = sizes()[at];
  HG_CHECK(index >= -n && index < n, "select: index ", index, " is out of range for dim ", d,
           " of ", describe(*this));
  if (index < 0) index += n;
  Shape new_sizes = sizes(), new_strides = strides();
  new_sizes.erase(new_sizes.begin() + at);
  new_strides.erase(new_strides.begin() + at);
  return finish_view(
      *this, make_view(*this, new_sizes, new_strides, storage_offset() + index * strides()[at]),
      ViewKind::Slice, "SelectBackward", [&](ViewBackward& node) {
        node.dim = at;
        node.start = index;
        node.end = index + 1;
        node.removed_dim = true;
      });
}

Tensor Tensor::expand_as(const Tensor& other) const {
  autograd::check_defined(*this, "expand_as");
  autograd::check_defined(other, "expand_as (its argument)");
  return expand(other.sizes());
}

Tensor Tensor::expand(const Shape& shape) const {
  autograd::check_defined(*this, "expand");
  HG_CHECK(shape.size() >= sizes().size(), "expand: cannot expand ", describe(*this), " to ",
           shape_str(shape), " (fewer dims)");
  const size_t lead = shape.size() - sizes().size();
  Shape new_sizes(shape.size()), new_strides(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    const int64_t own = d < lead ? 1 : sizes()[d - lead];
    const int64_t want = shape[d] == -1 ? own : shape[d];
    HG_CHECK(d >= lead || shape[d] != -1, "expand: -1 is not allowed in new leading dims");
    HG_CHECK(want >= 0, "expand: cannot expand ", describe(*this), " to ", shape_str(shape),
             " (size ", want, " at dim ", d, "; only -1, keep the size, may be negative)");
    HG_CHECK(own == want || own == 1, "expand: cannot expand ", describe(*this), " to ",
             shape_str(shape), " (dim ", d, ": ", own, " vs ", want, ")");
    new_sizes[d] = want;
    new_strides[d] = (d < lead || own != want) ? 0 : strides()[d - lead];
  }
  return finish_view(*this, make_view(*this, new_sizes, new_strides, storage_offset()),
                     ViewKind::Expand, "ExpandBackward");
}

}  // namespace hg
