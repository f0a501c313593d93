// Tensor's methods that copy, convert or modify in place (autograd state: tensor_autograd.cpp).
#include <utility>

#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/cuda.h"
#include "halfgrad/core/factories.h"

namespace hg {

namespace {

// Identity-shaped backward for copies: clone/contiguous (same dtype) and casts (to(DType)).
class CopyBackward final : public autograd::Node {
 public:
  explicit CopyBackward(const char* name) : name_(name) {}
  std::string name() const override { return name_; }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    return {grads[0].to(inputs[0].dtype)};  // a cast's backward casts the gradient back
  }

 private:
  const char* name_;
};

Tensor copy_to_new(const Tensor& src, DType dtype, const char* node_name) {
  Tensor out = make_tensor(src.sizes(), dtype, src.device());
  kernels::copy(src.device())(kernels::view_of(src), kernels::view_of(out));
  // an integer or bool result is no part of the graph (PyTorch's x.long() of a tensor that
  // requires grad): it gets no gradient and passes none back
  if (is_floating(dtype) && autograd::needs_grad({&src}))
    autograd::record_op<CopyBackward>({src}, out, node_name);
  return out;
}

// Whether two tensors may share memory: the same storage and intersecting byte ranges (the
// lowest and highest byte each layout reaches; interleaved views count as overlapping).
bool may_overlap(const Tensor& a, const Tensor& b) {
  if (a.storage() != b.storage() || a.numel() == 0 || b.numel() == 0) return false;
  auto byte_range = [](const Tensor& t) {
    int64_t lo = t.storage_offset(), hi = lo;
    for (int64_t d = 0; d < t.dim(); ++d) {
      const int64_t span = (t.sizes()[d] - 1) * t.strides()[d];
      (span < 0 ? lo : hi) += span;
    }
    const auto item = static_cast<int64_t>(itemsize(t.dtype()));
    return std::pair<int64_t, int64_t>{lo * item, (hi + 1) * item};
  };
  const auto [a_lo, a_hi] = byte_range(a);
  const auto [b_lo, b_hi] = byte_range(b);
  return a_lo < b_hi && b_lo < a_hi;
}

bool same_layout(const Tensor& a, const Tensor& b) {
  return a.storage() == b.storage() && a.storage_offset() == b.storage_offset() &&
         a.sizes() == b.sizes() && a.strides() == b.strides() && a.dtype() == b.dtype();
}

// A move between devices: the gradient moves back to where the input lives.
class ToDeviceBackward final : public autograd::Node {
 public:
  std::string name() const override { return "ToDeviceBackward"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    return {grads[0].to(inputs[0].device)};
  }
};

// The bytes of t in row-major order on t's device (t itself when already contiguous; the copy
// is not taped: the caller records the whole move as one node).
Tensor contiguous_untaped(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor out = make_tensor(t.sizes(), t.dtype(), t.device());
  kernels::copy(t.device())(kernels::view_of(t), kernels::view_of(out));
  return out;
}

// shared_ok: the op writes one value everywhere (fill_), so elements that share memory are fine.
void check_in_place(const Tensor& t, const char* op, bool shared_ok = false) {
  autograd::check_defined(t, op);
  // in-place ops are not recorded: a leaf (a weight) is updated under NoGradGuard, as PyTorch
  // asks; for a computed tensor that would drop the op from its gradient, so say so
  HG_CHECK(!(is_grad_enabled() && t.requires_grad()), op, ": ", describe(t), " requires grad ",
           "and cannot be modified in place while grad mode is on (",
           t.is_leaf() ? "update a leaf under hg::NoGradGuard"
                       : "compute out of place instead, y = y * 3 for y.mul_(3): under "
                         "hg::NoGradGuard the change would be missing from the gradient",
           ")");
  HG_CHECK(!(is_grad_enabled() && t.impl()->autograd.no_grad_view_of_grad), op, ": ", describe(t),
           " is a view made under hg::NoGradGuard of a tensor that requires grad, and cannot be "
           "modified in place while grad mode is on (as in PyTorch): write to it under "
           "NoGradGuard too, or take the view of a detach()ed tensor");
  // Elements that share memory (an expand: stride 0) would end with whichever write came last.
  for (int64_t d = 0; d < t.dim() && !shared_ok; ++d) {
    HG_CHECK(t.sizes()[d] <= 1 || t.strides()[d] != 0, op, ": ", describe(t),
             " has elements that share memory (an expanded view, stride 0 in dim ", d,
             "); write into a clone() or contiguous() copy instead, as PyTorch requires");
  }
}

// add_ and mul_ compute out of place, then copy back: a result of a wider kind than the tensor
// (a float into an int64, anything but bool into a bool) would be truncated silently, so it is
// refused, as PyTorch refuses it ("result type Float can't be cast to the desired output type").
void check_result_fits(const Tensor& t, const Tensor& result, const char* op) {
  const bool narrowing = (!t.is_floating_point() && result.is_floating_point()) ||
                         (t.dtype() == kBool && result.dtype() != kBool);
  HG_CHECK(!narrowing, op, ": the result is ", dtype_name(result.dtype()),
           ", which cannot be stored in place in ", describe(t),
           " without truncation (compute out of place, or convert the tensor first)");
}

// The end of every arithmetic in-place op: result (computed out of place from *this and
// other) must keep this tensor's shape and fit its dtype; then it is copied in.
Tensor& write_back(Tensor& self, const Tensor& result, const Tensor& other, const char* op) {
  HG_CHECK(result.sizes() == self.sizes(), op, ": ", describe(other), " does not broadcast to ",
           describe(self));
  check_result_fits(self, result, op);
  return self.copy_(result);
}

}  // namespace

Tensor Tensor::to(DType dtype) const {
  autograd::check_defined(*this, "to");
  return dtype == this->dtype() ? *this : copy_to_new(*this, dtype, "CastBackward");
}

Tensor Tensor::to(Device target) const {
  autograd::check_defined(*this, "to");
  if (target == device()) return *this;
  HG_CHECK(cuda::is_available(), "to: cannot move ", describe(*this), " to ", target.str(),
           ": no CUDA device (halfgrad built without CUDA, or no GPU present)");
  HG_CHECK(target.is_cpu() || device().is_cpu(), "to: cannot move ", describe(*this), " to ",
           target.str(), ": copies between CUDA devices are not supported");
  const Tensor src = contiguous_untaped(*this);
  Tensor out = make_tensor(sizes(), dtype(), target);
  const std::size_t nbytes = static_cast<std::size_t>(numel()) * itemsize(dtype());
  if (target.is_cuda()) {
    cuda::copy_host_to_device(out.data_ptr(), src.data_ptr(), nbytes);
  } else {
    cuda::copy_device_to_host(out.data_ptr(), src.data_ptr(), nbytes);
  }
  if (autograd::needs_grad({this})) autograd::record_op<ToDeviceBackward>({*this}, out);
  return out;
}

Tensor Tensor::contiguous() const {
  autograd::check_defined(*this, "contiguous");
  return is_contiguous() ? *this : copy_to_new(*this, dtype(), "ContiguousBackward");
}

Tensor Tensor::clone() const {
  autograd::check_defined(*this, "clone");
  return copy_to_new(*this, dtype(), "CloneBackward");
}

Tensor Tensor::detach() const {
  autograd::check_defined(*this, "detach");
  return make_view(*this, sizes(), strides(), storage_offset());
}

Tensor& Tensor::fill_(double value) {
  check_in_place(*this, "fill_", /*shared_ok=*/true);  // as PyTorch, which allows it too
  check_fill_value(value, dtype(), "fill_");
  kernels::fill(device())(kernels::view_of(*this), value);
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_in_place(*this, "copy_");
  autograd::check_defined(src, "copy_");
  HG_CHECK(!(is_grad_enabled() && src.requires_grad()), "copy_: source ", describe(src),
           " requires grad, but in-place ops are not recorded: compute out of place (y = x + w, "
           "not x.add_(w)) for its gradient to flow, or write src.detach() if none should");
  HG_CHECK(broadcast_shapes(src.sizes(), sizes(), "copy_") == sizes(), "copy_: source ",
           describe(src), " does not broadcast to the destination ", describe(*this));
  Tensor from = src.to(device());
  if (!same_layout(from, *this) && may_overlap(from, *this)) {
    NoGradGuard no_grad;  // an element may be read after it was written: read from a copy
    from = from.clone();
  }
  kernels::copy(device())(kernels::view_of(from, sizes()), kernels::view_of(*this));
  storage()->bump_version();
  return *this;
}

namespace {
// a + alpha * b (or a - alpha * b): 16-bit operands compute in float, so the result rounds once
// when it is written back, not once more after the product
Tensor combine_scaled(const Tensor& a, const Tensor& b, double alpha, bool subtract) {
  if (alpha == 1.0) return subtract ? sub(a, b) : add(a, b);  // the kernel rounds once
  const bool widen = is_low_precision(result_type(a, b));
  const Tensor x = widen ? a.to(kFloat32) : a, y = widen ? b.to(kFloat32) : b;
  return subtract ? sub(x, y * alpha) : add(x, y * alpha);
}

// Whether `other`'s shape broadcasts to `self` without growing it.
bool broadcasts_to(const Shape& other, const Shape& self) {
  if (other.size() > self.size()) return false;
  const size_t lead = self.size() - other.size();
  for (size_t d = 0; d < other.size(); ++d)
    if (other[d] != 1 && other[d] != self[lead + d]) return false;
  return true;
}

// An in-place op's operand must be defined and broadcast to the tensor's own shape.
void check_operand(const Tensor& self, const Tensor& other, const char* op) {
  autograd::check_defined(other, op);
  HG_CHECK(broadcasts_to(other.sizes(), self.sizes()), op, ": ", describe(other),
           " does not broadcast to ", describe(self));
}

// self op= other computed straight into self, when that writes what the out-of-place op and the
// copy back would: self contiguous (the kernels write dense outputs), a result of self's dtype
// and shape, `other` on self's device and read nowhere self is written in another layout, and
// nothing for write_back to refuse (an operand that requires grad under grad mode). Saves the
// result's allocation and a pass over self: the engine accumulates a shared leaf's gradients so.
bool binary_into_self(kernels::BinaryOp op, Tensor& self, const Tensor& other) {
  if (!self.is_contiguous() || other.device() != self.device()) return false;
  if (is_grad_enabled() && other.requires_grad()) return false;
  if (result_type(self, other) != self.dtype()) return false;  // (check_operand: the shape)
  if (op == kernels::BinaryOp::Div && !self.is_floating_point()) return false;  // true division
  const Tensor b = other.to(self.dtype());
  if (may_overlap(b, self) && !same_layout(b, self)) return false;
  kernels::binary(self.device())(op, kernels::view_of(self), kernels::view_of(b, self.sizes()),
                                 kernels::view_of(self));
  self.storage()->bump_version();
  return true;
}

// self op= alpha * other, into self where combine_scaled would compute the same: alpha 1, or a
// result of 32 bits or more (the product rounded to it, then the sum; 16-bit results widen and
// round once on the copy back, so they stay out of place).
bool scaled_into_self(kernels::BinaryOp op, Tensor& self, const Tensor& other, double alpha) {
  if (alpha == 1.0) return binary_into_self(op, self, other);
  if (is_low_precision(result_type(self, other)) || !self.is_contiguous()) return false;
  if (is_grad_enabled() && other.requires_grad()) return false;
  return binary_into_self(op, self, other * alpha);
}

// self = op(self) for a scalar op on a contiguous floating tensor (the kernel that *this * 2.0
// runs, writing into self): what the out-of-place op and the copy back would write.
bool scalar_op_into_self(kernels::UnaryOp op, Tensor& self, kernels::UnaryParams params) {
  if (!self.is_floating_point() || !self.is_contiguous()) return false;
  kernels::unary(self.device())(op, kernels::view_of(self), kernels::view_of(self), params);
  self.storage()->bump_version();
  return true;
}
}  // namespace

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_in_place(*this, "add_");
  check_operand(*this, other, "add_");
  if (scaled_into_self(kernels::BinaryOp::Add, *this, other, alpha)) return *this;
  return write_back(*this, combine_scaled(*this, other, alpha, false), other, "add_");
}

Tensor& Tensor::sub_(const Tensor& other, double alpha) {
  check_in_place(*this, "sub_");
  check_operand(*this, other, "sub_");
  if (scaled_into_self(kernels::BinaryOp::Sub, *this, other, alpha)) return *this;
  return write_back(*this, combine_scaled(*this, other, alpha, true), other, "sub_");
}

Tensor& Tensor::mul_(const Tensor& other) {
  check_in_place(*this, "mul_");
  check_operand(*this, other, "mul_");
  if (binary_into_self(kernels::BinaryOp::Mul, *this, other)) return *this;
  return write_back(*this, mul(*this, other), other, "mul_");
}

Tensor& Tensor::mul_(double factor) {
  check_in_place(*this, "mul_");
  if (scalar_op_into_self(kernels::UnaryOp::Affine, *this, {factor, -0.0})) return *this;
  return write_back(*this, *this * factor, Tensor(), "mul_");
}

Tensor& Tensor::div_(const Tensor& other) {
  check_in_place(*this, "div_");
  check_operand(*this, other, "div_");
  if (binary_into_self(kernels::BinaryOp::Div, *this, other)) return *this;
  return write_back(*this, div(*this, other), other, "div_");
}

Tensor& Tensor::div_(double divisor) {
  check_in_place(*this, "div_");
  if (scalar_op_into_self(kernels::UnaryOp::DivScalar, *this, {divisor, 0.0})) return *this;
  return write_back(*this, *this / divisor, Tensor(), "div_");
}

Tensor& Tensor::operator+=(double value) {
  check_in_place(*this, "add_");
  if (scalar_op_into_self(kernels::UnaryOp::Affine, *this, {1.0, value})) return *this;
  return write_back(*this, *this + value, Tensor(), "add_");
}

}  // namespace hg
