#pragma once
// hg::Tensor: a value handle to a TensorImpl (copies alias, like libtorch). The impl holds the
// storage, the layout (sizes, strides, offset), the dtype and the autograd fields.
//
// Methods that compute (math, views, casts) are implemented next to their differentiable
// front-ends in autograd/; this header only declares them.
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <vector>

#include "halfgrad/core/dtype.h"
#include "halfgrad/core/half.h"
#include "halfgrad/core/shape.h"
#include "halfgrad/core/storage.h"
#include "halfgrad/core/tensor_options.h"

namespace hg {

namespace autograd {
class Node;
}
struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor (defined() == false)
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
  Tensor(const Tensor&) = default;
  Tensor(Tensor&&) noexcept = default;
  // Assignment rebinds a handle, so it takes a named tensor only: `x[0] = y` (assigning to a
  // temporary view) would silently change nothing; x[0].copy_(y) writes the data.
  Tensor& operator=(const Tensor&) & = default;
  Tensor& operator=(Tensor&&) & noexcept = default;
  ~Tensor() = default;

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }

  // ---- metadata ----
  const Shape& sizes() const;
  const Shape& strides() const;
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int64_t dim() const;
  int64_t numel() const;
  int64_t storage_offset() const;
  DType dtype() const;
  Device device() const;
  TensorOptions options() const;
  bool is_contiguous() const;
  bool is_floating_point() const { return is_floating(dtype()); }
  void* data_ptr() const;  // address of element 0 (storage + offset)
  template <typename T>
  T* data() const;  // typed pointer; throws hg::Error when T does not match dtype()
  uint64_t version() const;
  const std::shared_ptr<Storage>& storage() const;

  // ---- conversions and copies ----
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor detach() const;
  template <typename T>
  T item() const;
  template <typename T>
  std::vector<T> to_vector() const;

  // ---- views (share storage) ----
  Tensor view(const Shape& shape) const;
  Tensor reshape(const Shape& shape) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;  // transpose of a 2-D tensor
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor operator[](int64_t index) const { return select(0, index); }  // t[i], as in PyTorch
  Tensor expand(const Shape& shape) const;
  Tensor expand_as(const Tensor& other) const;

  // ---- in-place (bump the version counter) ----
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& copy_(const Tensor& src);  // broadcasts src, converts dtype
  // Arithmetic in place (the result computed out of place, then copied back): other must
  // broadcast to this tensor's shape, and a result of a wider kind (a float into an int64
  // tensor) is refused rather than truncated, as in PyTorch.
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& sub_(const Tensor& other, double alpha = 1.0);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(double factor);
  Tensor& div_(const Tensor& other);
  Tensor& div_(double divisor);
  Tensor& operator+=(const Tensor& other) { return add_(other); }
  Tensor& operator-=(const Tensor& other) { return sub_(other); }
  Tensor& operator*=(const Tensor& other) { return mul_(other); }
  Tensor& operator/=(const Tensor& other) { return div_(other); }
  Tensor& operator+=(double value);
  Tensor& operator-=(double value) { return *this += -value; }
  Tensor& operator*=(double factor) { return mul_(factor); }
  Tensor& operator/=(double divisor) { return div_(divisor); }

  // ---- autograd ----
  bool requires_grad() const;
  Tensor& requires_grad_(bool enabled = true);
  Tensor grad() const;  // undefined until a backward pass reaches this leaf
  void set_grad(const Tensor& grad) const;
  std::shared_ptr<autograd::Node> grad_fn() const;
  bool is_leaf() const;
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  // f sees the gradient flowing into this tensor; returning a defined tensor replaces it. The
  // result is the hook's handle for remove_hook (as libtorch's).
  unsigned register_hook(std::function<Tensor(const Tensor&)> hook) const;
  void remove_hook(unsigned handle) const;
  void retain_grad() const;

  // ---- math (free functions in autograd/ops.h; these forward to them) ----
  Tensor sum() const;
  Tensor sum(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor max() const;
  Tensor min() const;
  Tensor argmax(int64_t dim, bool keepdim = false) const;
  Tensor matmul(const Tensor& other) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor log1p() const;
  Tensor cumsum(int64_t dim) const;
  Tensor expm1() const;
  Tensor sqrt() const;
  Tensor abs() const;
  Tensor relu() const;
  Tensor sigmoid() const;
  Tensor tanh() const;
  Tensor pow(double exponent) const;
  Tensor clamp(double min, double max) const;
  Tensor softmax(int64_t dim) const;
  Tensor log_softmax(int64_t dim) const;
  Tensor logsumexp(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor masked_fill(const Tensor& mask, double value) const;
  Tensor argmin(int64_t dim, bool keepdim = false) const;
  Tensor var() const;
  Tensor var(const std::vector<int64_t>& dims, bool keepdim = false, int64_t correction = 1) const;
  Tensor std() const;
  Tensor std(const std::vector<int64_t>& dims, bool keepdim = false, int64_t correction = 1) const;
  Tensor index_select(int64_t dim, const Tensor& index) const;
  Tensor gather(int64_t dim, const Tensor& index) const;
  Tensor flip(const std::vector<int64_t>& dims) const;
  Tensor neg() const;
  Tensor floor() const;
  Tensor ceil() const;
  Tensor round(int64_t decimals = 0) const;
  Tensor trunc() const;
  Tensor erf() const;
  Tensor sign() const;
  Tensor square() const;
  Tensor reciprocal() const;
  Tensor rsqrt() const;
  Tensor sin() const;
  Tensor cos() const;
  Tensor clamp_min(double min) const;
  Tensor clamp_max(double max) const;
  Tensor prod() const;
  Tensor prod(int64_t dim, bool keepdim = false) const;
  Tensor amax(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor norm(double p = 2.0, const std::vector<int64_t>& dims = {}, bool keepdim = false) const;
  Tensor tril(int64_t diagonal = 0) const;
  Tensor triu(int64_t diagonal = 0) const;
  Tensor roll(const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims = {}) const;
  Tensor repeat(const std::vector<int64_t>& repeats) const;
  std::vector<Tensor> chunk(int64_t chunks, int64_t dim = 0) const;
  std::vector<Tensor> split(int64_t split_size, int64_t dim = 0) const;
  Tensor isnan() const;  // bool masks, as the free functions
  Tensor isinf() const;
  Tensor isfinite() const;
  bool allclose(const Tensor& other, double rtol = 1e-5, double atol = 1e-8,
                bool equal_nan = false) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

struct AutogradMeta {
  bool requires_grad = false;
  bool retains_grad = false;
  Tensor grad;
  std::shared_ptr<autograd::Node> grad_fn;  // set on non-leaf outputs of taped ops
  uint32_t output_nr = 0;                   // which output of grad_fn this tensor is
  std::vector<std::function<Tensor(const Tensor&)>> hooks;
  // A view made under NoGradGuard of a tensor that requires grad: writing into it with grad mode
  // on is refused, as PyTorch refuses it (the write would change the base behind autograd).
  bool no_grad_view_of_grad = false;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape sizes;
  Shape strides;
  int64_t offset = 0;  // in elements
  DType dtype = kFloat32;
  AutogradMeta autograd;
};

// A tensor over fresh, uninitialised, contiguous storage.
Tensor make_tensor(const Shape& shape, DType dtype, Device device);
// A tensor sharing `base`'s storage with another layout (no autograd fields).
Tensor make_view(const Tensor& base, const Shape& sizes, const Shape& strides, int64_t offset);

// Operators (tensor or scalar on either side); defined in autograd/.
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator-(const Tensor& a);
// Elementwise comparisons, as eq/ne/lt/le/gt/ge: Bool tensors, not bools.
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, double b);
Tensor operator!=(const Tensor& a, double b);
Tensor operator<(const Tensor& a, double b);
Tensor operator<=(const Tensor& a, double b);
Tensor operator>(const Tensor& a, double b);
Tensor operator>=(const Tensor& a, double b);

// PyTorch-like printing: values (summarised when large), shape and dtype.
std::ostream& operator<<(std::ostream& out, const Tensor& t);
// "[2, 3] float16" for error messages.
std::string describe(const Tensor& t);
// wrap_dim / wrap_sized_dim (core/shape.h) for a dim of `t`, naming t's shape and dtype when the
// dim is out of range.
int64_t wrap_dim(int64_t dim, const Tensor& t, std::string_view op);
int64_t wrap_sized_dim(int64_t dim, const Tensor& t, std::string_view op);

}  // namespace hg
