// Splitting along a dim (views: narrow), picking elements by index (index_select, gather) and
// ordering them (sort, topk). The picks are embedding's row lookup (autograd::lookup_rows of flat
// indices in a [rows, width] view of the input), so every backend's embedding kernels and its
// backward (a scatter-add: repeated indices sum their gradients) do the work; indices are
// range-checked once here. sort adds one kernel, the order (argsort), and picks by it.
#include <cstddef>
#include <cstring>
#include <string>

#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/factories.h"

namespace hg {

namespace {

// int64 indices on x's device, all in [0, bound) (checked on the CPU; on CUDA the lookup kernel
// checks them and reports a bad one late, as it does for embedding itself: lookup_call).
void check_indices(const Tensor& index, const Tensor& x, int64_t bound, const char* op) {
  autograd::check_defined(index, op);
  HG_CHECK(index.dtype() == kInt64, op, ": indices must be int64, got ", describe(index));
  autograd::check_same_device(index, x, op);
  if (index.numel() == 0 || index.device().is_cuda()) return;
  NoGradGuard no_grad;
  const int64_t lo = min(index).item<int64_t>(), hi = max(index).item<int64_t>();
  HG_CHECK(lo >= 0 && hi < bound, op, ": index ", lo < 0 ? lo : hi, " is out of range for size ",
           bound, " of ", describe(x));
}

// How a late CUDA report names the call: "gather on CUDA along dim 1 of [4, 5] float32 with
// [4, 3] int64 indices" (positions are counted in the indices' row-major order).
std::string lookup_call(const char* op, int64_t dim, const Tensor& x, const Tensor& index) {
  if (!index.device().is_cuda()) return {};
  return std::string(op) + " on CUDA along dim " + std::to_string(dim) + " of " + describe(x) +
         " with " + describe(index) + " indices";
}

int64_t product(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

}  // namespace

namespace {

// The backward of all of split's pieces at once: one cat of their gradients (zeros for a piece
// no gradient reached). Per-piece narrow backwards would each build a zero tensor of x's whole
// shape and sum them, quadratic in the number of pieces (an RNN's time steps).
class SplitBackward final : public autograd::Node {
 public:
  explicit SplitBackward(int64_t dim) : dim_(dim) {}
  std::string name() const override { return "SplitBackward"; }
  bool takes_undefined_grads() const override { return true; }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    std::vector<Tensor> pieces;
    for (size_t i = 0; i < grads.size(); ++i) {
      const autograd::OutputInfo& piece = outputs[i];
      pieces.push_back(grads[i].defined()
                           ? autograd::grad_as(grads[i], piece.dtype)
                           : zeros(piece.shape, TensorOptions(piece.dtype).device(piece.device)));
    }
    return {cat(pieces, dim_)};
  }

 private:
  int64_t dim_;
};

}  // namespace

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  autograd::check_defined(x, "split");
  dim = wrap_sized_dim(dim, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    HG_CHECK(s >= 0, "split: sizes must be >= 0, got ", s);
    total += s;
  }
  HG_CHECK(total == x.size(dim), "split: sizes sum to ", total, ", but dim ", dim, " of ",
           describe(x), " has ", x.size(dim));
  std::vector<Tensor> parts;
  int64_t start = 0;
  if (!autograd::needs_grad({&x})) {
    for (int64_t s : sizes) {
      parts.push_back(x.narrow(dim, start, s));
      start += s;
    }
    return parts;
  }
  for (int64_t s : sizes) {  // views as narrow's, recorded once below
    Shape shape = x.sizes();
    shape[dim] = s;
    parts.push_back(make_view(x, shape, x.strides(), x.storage_offset() + start * x.stride(dim)));
    start += s;
  }
  autograd::record(std::make_shared<SplitBackward>(dim), {x}, parts);
  return parts;
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  autograd::check_defined(x, "split");
  dim = wrap_sized_dim(dim, x.dim(), "split");
  HG_CHECK(split_size > 0 || x.size(dim) == 0, "split: split_size must be > 0, got ", split_size);
  std::vector<int64_t> sizes;
  for (int64_t left = x.size(dim); left > 0; left -= split_size)
    sizes.push_back(std::min(split_size, left));
  if (sizes.empty()) sizes.push_back(0);  // an empty dim splits into one empty part, as torch
  return split(x, sizes, dim);
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  autograd::check_defined(x, "chunk");
  HG_CHECK(chunks > 0, "chunk: chunks must be > 0, got ", chunks);
  dim = wrap_sized_dim(dim, x.dim(), "chunk");
  const int64_t size = x.size(dim);
  return split(x, size == 0 ? 1 : (size + chunks - 1) / chunks, dim);
}

namespace {

// index_select of a tensor that has no gradient (int64 labels, uint8 images, bool masks): whole
// rows copied on the CPU, a CUDA tensor through the host and back (no CUDA kernel for these yet).
Tensor select_rows_on_host(const Tensor& x, int64_t dim, const Tensor& index) {
  const Tensor from = x.to(kCPU).transpose(0, dim).contiguous();
  const Tensor picks = index.to(kCPU).reshape({-1}).contiguous();
  Shape shape = from.sizes();
  shape[0] = picks.numel();
  Tensor out = empty(shape, TensorOptions(x.dtype()));
  const size_t row_bytes =
      static_cast<size_t>(product(Shape(shape.begin() + 1, shape.end()))) * itemsize(x.dtype());
  const auto* src = static_cast<const std::byte*>(from.data_ptr());
  auto* dst = static_cast<std::byte*>(out.data_ptr());
  const int64_t* rows = picks.data<int64_t>();
  for (int64_t i = 0; i < picks.numel(); ++i) {
    HG_CHECK(rows[i] >= 0 && rows[i] < from.size(0), "index_select: index ", rows[i],
             " is out of range for size ", from.size(0), " of ", describe(x));
    std::memcpy(dst + static_cast<size_t>(i) * row_bytes,
                src + static_cast<size_t>(rows[i]) * row_bytes, row_bytes);
  }
  return out.transpose(0, dim).contiguous().to(x.device());
}

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  autograd::check_defined(x, "index_select");
  dim = wrap_sized_dim(dim, x.dim(), "index_select");
  check_indices(index, x, x.size(dim), "index_select");
  HG_CHECK(index.dim() <= 1, "index_select: index must be 0-D or 1-D, got ", describe(index));
  if (!is_floating(x.dtype())) return select_rows_on_host(x, dim, index);
  // [size(dim), the rest]: the rows to pick from
  const Tensor moved = x.transpose(0, dim);
  Shape shape = moved.sizes();
  const int64_t width = product(Shape(shape.begin() + 1, shape.end()));
  const Tensor rows = autograd::lookup_rows(index.reshape({-1}), moved.reshape({shape[0], width}),
                                            lookup_call("index_select", dim, x, index));
  shape[0] = index.numel();
  return rows.reshape(shape).transpose(0, dim).contiguous();
}

namespace {

// Each picked element's position in x made contiguous (int64, index's shape).
Tensor flat_positions(const Tensor& x, int64_t dim, const Tensor& index) {
  NoGradGuard no_grad;
  const Shape strides = contiguous_strides(x.sizes());
  Tensor flat = index * static_cast<double>(x.dim() == 0 ? 1 : strides[dim]);
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d == dim) continue;
    Shape along(x.dim(), 1);
    along[d] = index.size(d);
    const auto options = TensorOptions(kInt64).device(x.device());
    flat = flat + arange(index.size(d), options).reshape(along) * static_cast<double>(strides[d]);
  }
  return flat;
}

// gather's lookup of the elements at `flat` positions, as rows of width 1 of x made contiguous.
Tensor lookup_elements(const Tensor& x, const Tensor& flat, const std::string& call = {}) {
  return autograd::lookup_rows(flat, x.contiguous().reshape({x.numel(), 1}), call)
      .reshape(flat.sizes());
}

// The order of x along dim (int64, x's shape): argsort on the rows of x with dim moved last.
Tensor order_along(const Tensor& x, int64_t dim, bool descending) {
  const Tensor rows = x.detach().transpose(dim, -1).contiguous();
  const int64_t cols = x.size(dim);
  Tensor order = make_tensor(rows.sizes(), kInt64, x.device());
  if (rows.numel() > 0) {
    const Shape table{rows.numel() / cols, cols};
    kernels::argsort(x.device())(kernels::view_of(rows.view(table)),
                                 kernels::view_of(order.view(table)), descending);
  }
  return order.transpose(dim, -1).contiguous();
}

}  // namespace

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  autograd::check_floating(x, "gather");
  dim = wrap_dim(dim, x.dim(), "gather");
  check_indices(index, x, x.dim() == 0 ? 1 : x.size(dim), "gather");
  HG_CHECK(index.dim() == x.dim(), "gather: index ", describe(index), " must have as many dims as ",
           describe(x));
  for (int64_t d = 0; d < x.dim(); ++d)
    HG_CHECK(d == dim || index.size(d) <= x.size(d), "gather: index ", describe(index),
             " is larger than ", describe(x), " at dim ", d);
  Tensor flat = flat_positions(x, dim, index);
  if (index.device().is_cuda() && index.numel() > 0) {
    // An index past its dim may still land inside x's flat table (a neighbouring row's element):
    // such a position becomes -1, out of range for the lookup, which reports it late.
    NoGradGuard no_grad;
    const int64_t bound = x.dim() == 0 ? 1 : x.size(dim);
    const Tensor outside = ne(clamp(index, 0.0, static_cast<double>(bound - 1)), index);
    flat = where(outside, full({}, -1.0, flat.options()), flat);
  }
  return lookup_elements(x, flat, lookup_call("gather", dim, x, index));
}

ValuesIndices sort(const Tensor& x, int64_t dim, bool descending) {
  autograd::check_floating(x, "sort");
  if (x.dim() == 0) return {x.clone(), zeros({}, TensorOptions(kInt64).device(x.device()))};
  dim = wrap_sized_dim(dim, x.dim(), "sort");
  // the values picked by the order, so the gradient flows back through the lookup's scatter-add
  const Tensor indices = order_along(x, dim, descending);
  return {lookup_elements(x, flat_positions(x, dim, indices)), indices};
}

Tensor argsort(const Tensor& x, int64_t dim, bool descending) {
  autograd::check_floating(x, "argsort");
  if (x.dim() == 0) return zeros({}, TensorOptions(kInt64).device(x.device()));
  return order_along(x, wrap_sized_dim(dim, x.dim(), "argsort"), descending);
}

ValuesIndices topk(const Tensor& x, int64_t k, int64_t dim, bool largest) {
  autograd::check_floating(x, "topk");
  const int64_t d = wrap_dim(dim, x.dim(), "topk");
  const int64_t size = x.dim() == 0 ? 1 : x.size(d);
  HG_CHECK(k >= 0 && k <= size, "topk: k ", k, " is out of range for ", size,
           " elements along dim ", d, " of ", describe(x));
  if (x.dim() == 0) return sort(x);
  const Tensor indices = order_along(x, d, largest).narrow(d, 0, k).contiguous();
  return {lookup_elements(x, flat_positions(x, d, indices)), indices};
}

}  // namespace hg
