// Tensor metadata, construction and host read-back. Computing methods live in autograd/.
#include "halfgrad/core/tensor.h"

#include <algorithm>
#include <sstream>

#include "halfgrad/core/error.h"
#include "halfgrad/kernels/kernels.h"
#include "halfgrad/kernels/tensor_bridge.h"

namespace hg {

namespace {
const TensorImpl& checked(const TensorImpl* impl) {
  HG_CHECK(impl != nullptr, "tensor: use of an undefined tensor");
  return *impl;
}
}  // namespace

const Shape& Tensor::sizes() const { return checked(impl()).sizes; }
const Shape& Tensor::strides() const { return checked(impl()).strides; }
int64_t Tensor::dim() const { return static_cast<int64_t>(sizes().size()); }
int64_t Tensor::size(int64_t d) const { return sizes()[wrap_sized_dim(d, *this, "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[wrap_sized_dim(d, *this, "stride")]; }
int64_t Tensor::numel() const { return shape_numel(sizes()); }
int64_t Tensor::storage_offset() const { return checked(impl()).offset; }
DType Tensor::dtype() const { return checked(impl()).dtype; }
Device Tensor::device() const { return checked(impl()).storage->device(); }
const std::shared_ptr<Storage>& Tensor::storage() const { return checked(impl()).storage; }
uint64_t Tensor::version() const { return storage()->version(); }
TensorOptions Tensor::options() const { return TensorOptions().dtype(dtype()).device(device()); }

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;  // as PyTorch: no element is out of place
  int64_t expected = 1;
  for (int64_t d = dim() - 1; d >= 0; --d) {
    if (sizes()[d] != 1 && strides()[d] != expected) return false;
    expected *= sizes()[d];
  }
  return true;
}

void* Tensor::data_ptr() const {
  return static_cast<char*>(storage()->data()) +
         storage_offset() * static_cast<int64_t>(itemsize(dtype()));
}

namespace {
// to_vector<int>/item<int> read back through int64.
template <typename T>
constexpr DType readback_dtype() {
  if constexpr (std::is_same_v<T, int>)
    return kInt64;
  else
    return dtype_of<T>();
}
}  // namespace

template <typename T>
T* Tensor::data() const {
  HG_CHECK(dtype() == dtype_of<T>(), "data<", dtype_name(dtype_of<T>()), ">: tensor ",
           describe(*this), " has dtype ", dtype_name(dtype()));
  // A device address handed to host code would be dereferenced on the host (a segfault).
  HG_CHECK(device().is_cpu(), "data<", dtype_name(dtype_of<T>()), ">: tensor ", describe(*this),
           " lives in device memory; read it on the host through a copy: .to(hg::kCPU)");
  return static_cast<T*>(data_ptr());
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  // Read back through a contiguous CPU copy in T's dtype (int goes through int64).
  // detached: a read-back is no op of the graph (and an int64 read of a tensor that requires
  // grad is allowed)
  Tensor host = detach().to(kCPU).to(readback_dtype<T>()).contiguous();
  using Stored = std::conditional_t<std::is_same_v<T, int>, int64_t, T>;
  const Stored* p = static_cast<const Stored*>(host.data_ptr());
  std::vector<T> out(static_cast<size_t>(host.numel()));
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(p[i]);
  return out;
}

template <typename T>
T Tensor::item() const {
  HG_CHECK(numel() == 1, "item: expected a tensor with one element, got ", describe(*this));
  return to_vector<T>()[0];
}

#define HG_INSTANTIATE(T)                               \
  template std::vector<T> Tensor::to_vector<T>() const; \
  template T Tensor::item<T>() const;
HG_INSTANTIATE(float)
HG_INSTANTIATE(double)
HG_INSTANTIATE(Half)
HG_INSTANTIATE(BFloat16)
HG_INSTANTIATE(int64_t)
HG_INSTANTIATE(uint8_t)
HG_INSTANTIATE(bool)
HG_INSTANTIATE(int)
#undef HG_INSTANTIATE
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template Half* Tensor::data<Half>() const;
template BFloat16* Tensor::data<BFloat16>() const;
template int64_t* Tensor::data<int64_t>() const;
template uint8_t* Tensor::data<uint8_t>() const;
template bool* Tensor::data<bool>() const;

Tensor make_tensor(const Shape& shape, DType dtype, Device device) {
  for (int64_t s : shape) HG_CHECK(s >= 0, "empty: negative size in shape ", shape_str(shape));
  HG_CHECK(device.is_cpu() || device.index == 0, "empty: device ", device.str(),
           " is not supported (halfgrad uses one GPU, cuda:0)");
  HG_CHECK(shape.size() <= static_cast<size_t>(kernels::kMaxDims), "empty: shape ",
           shape_str(shape), " has more than ", kernels::kMaxDims, " dims");
  // The strides multiply every size above 1, zeros or not (shape [0, 2^40, 2^40] has no
  // elements but stride 2^80 in dim 0), so bound that product as well as the byte count.
  constexpr int64_t kMaxElements = int64_t{1} << 48;  // 256 Ti elements: no machine has them
  int64_t span = 1;
  for (int64_t s : shape) {
    HG_CHECK(s <= 1 || span <= kMaxElements / s, "empty: shape ", shape_str(shape),
             " is too large (more than 2^48 elements or strides)");
    span *= s > 1 ? s : 1;
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage =
      std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * itemsize(dtype), device);
  impl->sizes = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor make_view(const Tensor& base, const Shape& sizes, const Shape& strides, int64_t offset) {
  HG_CHECK(sizes.size() <= static_cast<size_t>(kernels::kMaxDims), "view: a view of ",
           describe(base), " as ", shape_str(sizes), " would have more than ", kernels::kMaxDims,
           " dims, the most a halfgrad tensor has");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->sizes = sizes;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

std::string describe(const Tensor& t) {
  if (!t.defined()) return "(undefined tensor)";
  std::ostringstream out;  // (a stream: GCC 12 warns falsely on chained std::string +)
  out << shape_str(t.sizes()) << ' ' << dtype_name(t.dtype());
  if (!t.device().is_cpu()) out << ' ' << t.device().str();
  return out.str();
}

int64_t wrap_dim(int64_t dim, const Tensor& t, std::string_view op) {
  const int64_t n = std::max<int64_t>(t.dim(), 1);  // 0 and -1 for a 0-dim tensor
  HG_CHECK(dim >= -n && dim < n, op, ": dimension ", dim, " out of range for ", describe(t),
           ", a tensor of ", t.dim(), " dims (expected [", -n, ", ", n - 1, "])");
  return dim < 0 ? dim + n : dim;
}

int64_t wrap_sized_dim(int64_t dim, const Tensor& t, std::string_view op) {
  HG_CHECK(t.dim() > 0, op, ": dimension ", dim, " of ", describe(t),
           ", a 0-dim tensor (it has no dimensions)");
  return wrap_dim(dim, t, op);
}

}  // namespace hg
