// argsort on CUDA: an element's place in its row is its rank, the number of elements that come
// before it in the stable order (NaN after every number ascending, before descending), counted
// by one thread against the whole row. O(cols^2) work per row and no shared state: exact for
// any length, the CPU's std::stable_sort order to the index; quick for the short rows sort and
// topk are mostly used on (class scores), slow for rows of many thousands.
#include "halfgrad/kernels/cuda/cuda_kernels.h"
#include "halfgrad/kernels/cuda/nn_common.cuh"

namespace hg::cuda {

namespace {

template <typename C>
__device__ inline bool comes_before(C x, C y, bool descending) {
  if (descending) return (x != x && y == y) || x > y;
  return (y != y && x == x) || x < y;
}

template <typename T>
__global__ void rank_kernel(const T* in, int64_t* order, int64_t rows, int64_t cols,
                            bool descending) {
  HG_GRID_LOOP(i, rows * cols) {
    const int64_t r = i / cols, c = i - r * cols;
    const T* row = in + r * cols;
    const auto x = Scalar<T>::load(row[c]);
    int64_t rank = 0;
    for (int64_t j = 0; j < cols; ++j) {
      const auto y = Scalar<T>::load(row[j]);
      // y comes first, or ties with x and stands before it (stable)
      rank += comes_before(y, x, descending) || (j < c && !comes_before(x, y, descending));
    }
    order[r * cols + rank] = c;
  }
}

}  // namespace

void argsort(const kernels::TensorView& in, const kernels::TensorView& out, bool descending) {
  const int64_t rows = in.sizes[0], cols = in.sizes[1];
  if (rows * cols == 0) return;
  dispatch_floating(in.dtype, "argsort", [&]<typename T>() {
    rank_kernel<T><<<grid_for(rows * cols), kBlockSize, 0, current_stream()>>>(
        in.ptr<T>(), out.ptr<int64_t>(), rows, cols, descending);
    HG_CUDA_LAUNCH_CHECK("rank_kernel");
  });
}

}  // namespace hg::cuda
