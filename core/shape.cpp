#include "halfgrad/core/shape.h"

#include <sstream>

#include "halfgrad/core/error.h"

namespace hg {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i] > 1 ? shape[i] : 1;
  }
  return strides;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

std::ostream& operator<<(std::ostream& out, const Shape& shape) { return out << shape_str(shape); }

int64_t wrap_dim(int64_t dim, int64_t ndim, std::string_view op) {
  const int64_t lo = ndim == 0 ? -1 : -ndim;
  const int64_t hi = ndim == 0 ? 0 : ndim - 1;
  HG_CHECK(dim >= lo && dim <= hi, op, ": dimension ", dim, " out of range for a tensor of ", ndim,
           " dims (expected [", lo, ", ", hi, "])");
  return dim < 0 ? dim + (ndim == 0 ? 1 : ndim) : dim;
}

int64_t wrap_sized_dim(int64_t dim, int64_t ndim, std::string_view op) {
  HG_CHECK(ndim > 0, op, ": dimension ", dim, " of a 0-dim tensor (it has no dimensions)");
  return wrap_dim(dim, ndim, op);
}

Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t sa = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t sb = i < n - b.size() ? 1 : b[i - (n - b.size())];
    HG_CHECK(sa == sb || sa == 1 || sb == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
             " cannot be broadcast (dim ", i, ": ", sa, " vs ", sb, ")");
    out[i] = sa == 1 ? sb : sa;
  }
  return out;
}

// Walks old and new dims in chunks of equal numel; each chunk of the old layout must be
// contiguous in itself for the view to exist (same rule as PyTorch's computeStride).
bool compute_view_strides(const Shape& sizes, const Shape& strides, const Shape& target,
                          Shape& out_strides) {
  out_strides.assign(target.size(), 0);
  if (shape_numel(sizes) <= 1) {  // empty or one element: any strides work, take contiguous
    out_strides = contiguous_strides(target);
    return true;
  }
  int64_t view_d = static_cast<int64_t>(target.size()) - 1;
  int64_t chunk_base_stride = strides.empty() ? 1 : strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
    tensor_numel *= sizes[d];
    const bool chunk_ends =
        d == 0 || (sizes[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base_stride);
    if (!chunk_ends) continue;
    while (view_d >= 0 && (view_numel < tensor_numel || target[view_d] == 1)) {
      out_strides[view_d] = view_numel * chunk_base_stride;
      view_numel *= target[view_d];
      --view_d;
    }
    if (view_numel != tensor_numel) return false;
    if (d > 0) {
      chunk_base_stride = strides[d - 1];
      tensor_numel = 1;
      view_numel = 1;
    }
  }
  return view_d == -1;
}

Shape infer_shape(const Shape& requested, int64_t numel, std::string_view op, const Shape& from) {
  Shape shape = requested;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      HG_CHECK(infer_at < 0, op, ": only one dimension can be -1 in ", shape_str(requested));
      infer_at = static_cast<int64_t>(i);
    } else {
      HG_CHECK(shape[i] >= 0, op, ": invalid size ", shape[i], " in ", shape_str(requested));
      known *= shape[i];
    }
  }
  if (infer_at >= 0) {
    HG_CHECK(known != 0 && numel % known == 0, op, ": shape ", shape_str(requested),
             " is invalid for input of shape ", shape_str(from), " (", numel, " elements)");
    shape[infer_at] = numel / known;
  }
  HG_CHECK(shape_numel(shape) == numel, op, ": shape ", shape_str(requested),
           " is invalid for input of shape ", shape_str(from), " (", numel, " elements)");
  return shape;
}

}  // namespace hg
