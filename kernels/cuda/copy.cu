// Copy with dtype conversion (any of the 7 dtypes to any other), any layouts, broadcast source.
// Same dtype and both contiguous is a device-to-device cudaMemcpyAsync; contiguous casts take
// the 16-byte vector path of the elementwise engine; everything else the strided path.
#include "halfgrad/kernels/cuda/cuda_kernels.h"
#include "halfgrad/kernels/cuda/elementwise.cuh"

namespace hg::cuda {

namespace {

template <typename To, typename From>
struct ConvertFn {
  __device__ To operator()(From x) const { return convert<To>(x); }
};

}  // namespace

void copy(const kernels::TensorView& src, const kernels::TensorView& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  if (src.dtype == out.dtype && src.is_contiguous() && out.is_contiguous()) {
    HG_CUDA_CHECK(cudaMemcpyAsync(out.data, src.data,
                                  static_cast<std::size_t>(n) * itemsize(out.dtype),
                                  cudaMemcpyDeviceToDevice, current_stream()));
    return;
  }
  dispatch_all(out.dtype, [&]<typename To>() {
    dispatch_all(src.dtype, [&]<typename From>() {
      map<To, From>("copy_kernel", ConvertFn<To, From>{}, out, {&src});
    });
  });
}

}  // namespace hg::cuda
