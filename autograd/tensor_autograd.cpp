// Tensor's methods that read or set autograd state (requires_grad, grad, hooks, backward), and
// its math methods, which forward to the free functions.
#include <functional>
#include <memory>
#include <vector>

#include "halfgrad/autograd/engine.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"

namespace hg {

// ---- autograd state ----

bool Tensor::requires_grad() const {
  return defined() && (impl()->autograd.requires_grad || impl()->autograd.grad_fn != nullptr);
}

Tensor& Tensor::requires_grad_(bool enabled) {
  autograd::check_defined(*this, "requires_grad_");
  HG_CHECK(is_leaf() || enabled, "requires_grad_: ", describe(*this),
           " is not a leaf; use "
           "detach() to make one");
  HG_CHECK(!enabled || is_floating_point(),
           "requires_grad_: only floating-point tensors can "
           "require gradients, got ",
           describe(*this));
  impl()->autograd.requires_grad = enabled;
  return *this;
}

Tensor Tensor::grad() const { return defined() ? impl()->autograd.grad : Tensor(); }
void Tensor::set_grad(const Tensor& grad) const {
  // A gradient of another shape would only fail later, inside an optimizer step or an
  // accumulation, far from the mistake. The dtype may differ (GradScaler keeps fp32 gradients
  // of fp16 parameters).
  HG_CHECK(!grad.defined() ||
               (grad.sizes() == sizes() && grad.is_floating_point() && grad.device() == device()),
           "set_grad: gradient ", describe(grad), " does not match the tensor ", describe(*this),
           " (same shape and device, a floating dtype)");
  impl()->autograd.grad = grad;
}
std::shared_ptr<autograd::Node> Tensor::grad_fn() const {
  return defined() ? impl()->autograd.grad_fn : nullptr;
}
bool Tensor::is_leaf() const { return grad_fn() == nullptr; }

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  autograd::check_defined(*this, "backward");
  autograd::run_backward(*this, gradient, retain_graph);
}

namespace {
// A leaf's hooks live on the tensor, a non-leaf's on the node that made it (by output number).
std::vector<std::function<Tensor(const Tensor&)>>& hooks_of(const Tensor& t) {
  if (t.is_leaf()) return t.impl()->autograd.hooks;
  return t.grad_fn()->output_hooks[t.impl()->autograd.output_nr];
}
}  // namespace

unsigned Tensor::register_hook(std::function<Tensor(const Tensor&)> hook) const {
  HG_CHECK(requires_grad(), "register_hook: ", describe(*this), " does not require grad");
  HG_CHECK(hook != nullptr, "register_hook: the hook is empty, for ", describe(*this));
  auto& hooks = hooks_of(*this);
  hooks.push_back(std::move(hook));
  return static_cast<unsigned>(hooks.size() - 1);
}

// The slot is emptied, not erased, so the other handles stay valid.
void Tensor::remove_hook(unsigned handle) const {
  HG_CHECK(defined(), "remove_hook: got an undefined tensor");  // requires_grad may be off now
  auto& hooks = hooks_of(*this);
  HG_CHECK(handle < hooks.size() && hooks[handle] != nullptr, "remove_hook: ", describe(*this),
           " has no hook with handle ", handle, " (", hooks.size(),
           " registered; a removed one cannot be removed again)");
  hooks[handle] = nullptr;
}

void Tensor::retain_grad() const {
  HG_CHECK(requires_grad(), "retain_grad: ", describe(*this), " does not require grad");
  if (is_leaf() || impl()->autograd.retains_grad) return;
  impl()->autograd.retains_grad = true;
  std::weak_ptr<TensorImpl> weak = impl_ptr();
  register_hook([weak](const Tensor& g) {
    if (auto impl = weak.lock()) {
      Tensor& slot = impl->autograd.grad;
      slot = slot.defined() ? slot + g : g.clone();
    }
    return Tensor();
  });
}

// ---- math methods forward to the free functions ----
Tensor Tensor::sum() const { return hg::sum(*this); }
Tensor Tensor::sum(const std::vector<int64_t>& dims, bool keepdim) const {
  return hg::sum(*this, dims, keepdim);
}
Tensor Tensor::mean() const { return hg::mean(*this); }
Tensor Tensor::mean(const std::vector<int64_t>& dims, bool keepdim) const {
  return hg::mean(*this, dims, keepdim);
}
Tensor Tensor::max() const { return hg::max(*this); }
Tensor Tensor::min() const { return hg::min(*this); }
Tensor Tensor::argmax(int64_t dim, bool keepdim) const { return hg::argmax(*this, dim, keepdim); }
Tensor Tensor::matmul(const Tensor& other) const { return hg::matmul(*this, other); }
Tensor Tensor::exp() const { return hg::exp(*this); }
Tensor Tensor::log1p() const { return hg::log1p(*this); }
Tensor Tensor::cumsum(int64_t dim) const { return hg::cumsum(*this, dim); }
Tensor Tensor::expm1() const { return hg::expm1(*this); }
Tensor Tensor::log() const { return hg::log(*this); }
Tensor Tensor::sqrt() const { return hg::sqrt(*this); }
Tensor Tensor::abs() const { return hg::abs(*this); }
Tensor Tensor::relu() const { return hg::relu(*this); }
Tensor Tensor::sigmoid() const { return hg::sigmoid(*this); }
Tensor Tensor::tanh() const { return hg::tanh(*this); }
Tensor Tensor::pow(double exponent) const { return hg::pow(*this, exponent); }
Tensor Tensor::clamp(double min, double max) const { return hg::clamp(*this, min, max); }
Tensor Tensor::softmax(int64_t dim) const { return hg::softmax(*this, dim); }
Tensor Tensor::log_softmax(int64_t dim) const { return hg::log_softmax(*this, dim); }
Tensor Tensor::logsumexp(const std::vector<int64_t>& dims, bool keepdim) const {
  return hg::logsumexp(*this, dims, keepdim);
}
Tensor Tensor::masked_fill(const Tensor& mask, double value) const {
  return hg::masked_fill(*this, mask, value);
}
Tensor Tensor::argmin(int64_t dim, bool keepdim) const { return hg::argmin(*this, dim, keepdim); }
Tensor Tensor::var() const { return hg::var(*this); }
Tensor Tensor::var(const std::vector<int64_t>& dims, bool keepdim, int64_t correction) const {
  return hg::var(*this, dims, keepdim, correction);
}
Tensor Tensor::std() const { return hg::std(*this); }
Tensor Tensor::std(const std::vector<int64_t>& dims, bool keepdim, int64_t correction) const {
  return hg::std(*this, dims, keepdim, correction);
}
Tensor Tensor::index_select(int64_t dim, const Tensor& index) const {
  return hg::index_select(*this, dim, index);
}
Tensor Tensor::gather(int64_t dim, const Tensor& index) const {
  return hg::gather(*this, dim, index);
}
Tensor Tensor::flip(const std::vector<int64_t>& dims) const { return hg::flip(*this, dims); }
Tensor Tensor::neg() const { return hg::neg(*this); }
Tensor Tensor::floor() const { return hg::floor(*this); }
Tensor Tensor::ceil() const { return hg::ceil(*this); }
Tensor Tensor::round(int64_t decimals) const {
  return decimals == 0 ? hg::round(*this) : hg::round(*this, decimals);
}
Tensor Tensor::trunc() const { return hg::trunc(*this); }
Tensor Tensor::erf() const { return hg::erf(*this); }
Tensor Tensor::sign() const { return hg::sign(*this); }
Tensor Tensor::square() const { return hg::square(*this); }
Tensor Tensor::reciprocal() const { return hg::reciprocal(*this); }
Tensor Tensor::rsqrt() const { return hg::rsqrt(*this); }
Tensor Tensor::sin() const { return hg::sin(*this); }
Tensor Tensor::cos() const { return hg::cos(*this); }
Tensor Tensor::clamp_min(double min) const { return hg::clamp_min(*this, min); }
Tensor Tensor::clamp_max(double max) const { return hg::clamp_max(*this, max); }
Tensor Tensor::prod() const { return hg::prod(*this); }
Tensor Tensor::prod(int64_t dim, bool keepdim) const { return hg::prod(*this, dim, keepdim); }
Tensor Tensor::amax(const std::vector<int64_t>& dims, bool keepdim) const {
  return hg::amax(*this, dims, keepdim);
}
Tensor Tensor::norm(double p, const std::vector<int64_t>& dims, bool keepdim) const {
  return hg::norm(*this, p, dims, keepdim);
}
Tensor Tensor::tril(int64_t diagonal) const { return hg::tril(*this, diagonal); }
Tensor Tensor::triu(int64_t diagonal) const { return hg::triu(*this, diagonal); }
Tensor Tensor::roll(const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims) const {
  return hg::roll(*this, shifts, dims);
}
Tensor Tensor::repeat(const std::vector<int64_t>& repeats) const {
  return hg::repeat(*this, repeats);
}
std::vector<Tensor> Tensor::chunk(int64_t chunks, int64_t dim) const {
  return hg::chunk(*this, chunks, dim);
}
std::vector<Tensor> Tensor::split(int64_t split_size, int64_t dim) const {
  return hg::split(*this, split_size, dim);
}
Tensor Tensor::isnan() const { return hg::isnan(*this); }
Tensor Tensor::isinf() const { return hg::isinf(*this); }
Tensor Tensor::isfinite() const { return hg::isfinite(*this); }
bool Tensor::allclose(const Tensor& other, double rtol, double atol, bool equal_nan) const {
  return hg::allclose(*this, other, rtol, atol, equal_nan);
}

}  // namespace hg
