#include "halfgrad/kernels/tensor_bridge.h"

#include "halfgrad/core/error.h"

namespace hg::kernels {

TensorView view_of(const Tensor& t) { return view_of(t, t.sizes()); }

TensorView view_of(const Tensor& t, const Shape& shape) {
  HG_CHECK(shape.size() <= static_cast<size_t>(kMaxDims), "kernel: ", shape.size(),
           " dims exceed the maximum of ", kMaxDims);
  HG_CHECK(shape.size() >= t.sizes().size(), "kernel: cannot view ", describe(t), " as ",
           shape_str(shape));
  TensorView v;
  v.data = t.data_ptr();
  v.dtype = t.dtype();
  v.ndim = static_cast<int>(shape.size());
  const size_t lead = shape.size() - t.sizes().size();
  for (size_t d = 0; d < shape.size(); ++d) {
    v.sizes[d] = shape[d];
    if (d < lead) {
      v.strides[d] = 0;
      continue;
    }
    const int64_t own = t.sizes()[d - lead];
    HG_CHECK(own == shape[d] || own == 1, "kernel: cannot broadcast ", describe(t), " to ",
             shape_str(shape));
    v.strides[d] = own == shape[d] ? t.strides()[d - lead] : 0;
  }
  return v;
}

}  // namespace hg::kernels
