// cumsum on CUDA: one thread per line along the scanned dim, keeping a double running sum (int64
// for int64) and rounding each prefix to float and then to the dtype, as the CPU does
// (kernels/cpu/scan.cpp), so both devices give the same bits. Adjacent threads take adjacent
// lines of the inner dims, so a scan along an outer dim reads coalesced; a scan along the last
// dim reads one row per thread. O(n) work per line and no parallelism along it: a parallel scan
// would add in another order, and cumsum is not on halfgrad's hot paths.
#include <type_traits>

#include "halfgrad/kernels/cuda/common.cuh"
#include "halfgrad/kernels/cuda/cuda_check.h"
#include "halfgrad/kernels/cuda/cuda_kernels.h"

namespace hg::cuda {

namespace {

template <typename T, typename Sum>
__global__ void cumsum_kernel(const T* in, T* out, int64_t outer, int64_t n, int64_t inner,
                              bool reverse) {
  const int64_t lines = outer * inner;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t line = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; line < lines;
       line += stride) {
    const int64_t first = (line / inner) * n * inner + line % inner;
    Sum sum = Sum(0);
    for (int64_t j = 0; j < n; ++j) {
      const int64_t at = first + (reverse ? n - 1 - j : j) * inner;
      sum += static_cast<Sum>(Scalar<T>::load(in[at]));
      out[at] = Scalar<T>::store(static_cast<compute_t<T>>(sum));
    }
  }
}

template <typename T, typename Sum>
void launch(const kernels::TensorView& in, const kernels::TensorView& out, bool reverse) {
  const int64_t outer = in.sizes[0], n = in.sizes[1], inner = in.sizes[2];
  cumsum_kernel<T, Sum><<<grid_for(outer * inner), kBlockSize, 0, current_stream()>>>(
      in.ptr<T>(), out.ptr<T>(), outer, n, inner, reverse);
  HG_CUDA_LAUNCH_CHECK("cumsum_kernel");
}

}  // namespace

void cumsum(const kernels::TensorView& in, const kernels::TensorView& out, bool reverse) {
  if (in.sizes[0] * in.sizes[1] * in.sizes[2] == 0) return;
  if (in.dtype == DType::Int64) return launch<int64_t, int64_t>(in, out, reverse);
  dispatch_floating(in.dtype, "cumsum", [&]<typename T>() { launch<T, double>(in, out, reverse); });
}

}  // namespace hg::cuda
