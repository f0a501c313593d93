// Softmax and log-softmax over the last dim of contiguous [rows, cols] views, and their
// backward, with the CPU's formulas (kernels/cpu/softmax.cpp) in float (double for fp64):
//   max m (NaN ignored, like std::max), s = sum exp(x - m),
//   softmax y = exp(x - m) * (1 / s), log_softmax y = (x - m) - log s;
//   backward: softmax dx = y (g - sum g y), log_softmax dx = g - exp(y) sum g.
// A warp per row when rows are short (<= 1024 columns), a 256-thread block per row otherwise;
// the row sums are tree reductions, so they differ from the CPU's running sums by rounding.
#include <cub/block/block_reduce.cuh>
#include <cuda/std/limits>

#include "halfgrad/kernels/cuda/cuda_kernels.h"
#include "halfgrad/kernels/cuda/elementwise.cuh"

namespace hg::cuda {

namespace {

constexpr int kSoftmaxBlock = 256;
constexpr int kWarp = 32;

struct MaxIgnoringNaN {
  template <typename C>
  __device__ C operator()(C a, C b) const {
    return a < b ? b : a;
  }
};
struct Plus {
  template <typename C>
  __device__ C operator()(C a, C b) const {
    return a + b;
  }
};

// A reduction over the threads that share a row, returned to all of them. Group is kWarp
// (one warp per row) or kSoftmaxBlock (the whole block).
template <int Group, typename C, typename Op>
__device__ C row_reduce(C value, Op op) {
  if constexpr (Group == kWarp) {
#pragma unroll
    for (int offset = kWarp / 2; offset > 0; offset /= 2)
      value = op(value, __shfl_xor_sync(0xffffffffu, value, offset));
    return value;
  } else {
    using BlockReduce = cub::BlockReduce<C, kSoftmaxBlock>;
    __shared__ typename BlockReduce::TempStorage temp;
    __shared__ C result;
    const C reduced = BlockReduce(temp).Reduce(value, op);
    if (threadIdx.x == 0) result = reduced;
    __syncthreads();
    const C out = result;
    __syncthreads();  // temp and result are reused by the next call
    return out;
  }
}

template <int Group>
struct RowSchedule {  // which row this thread group owns first, and how far to jump
  __device__ static int64_t lane() { return threadIdx.x % Group; }
  __device__ static int64_t first() {
    return static_cast<int64_t>(blockIdx.x) * (kSoftmaxBlock / Group) + threadIdx.x / Group;
  }
  __device__ static int64_t step() {
    return static_cast<int64_t>(gridDim.x) * (kSoftmaxBlock / Group);
  }
};

template <int Group, typename T>
__global__ void softmax_kernel(const T* x, T* y, int64_t rows, int64_t cols, bool log) {
  using C = compute_t<T>;
  using S = RowSchedule<Group>;
  // r is the same for all threads of a group (a warp, or the whole block), so every thread of
  // a group reaches the shuffles and __syncthreads of row_reduce together.
  for (int64_t r = S::first(); r < rows; r += S::step()) {
    const T* xr = x + r * cols;
    C max = -::cuda::std::numeric_limits<C>::infinity();
    for (int64_t c = S::lane(); c < cols; c += Group)
      max = MaxIgnoringNaN{}(max, Scalar<T>::load(xr[c]));
    max = row_reduce<Group>(max, MaxIgnoringNaN{});
    C sum = 0;
    for (int64_t c = S::lane(); c < cols; c += Group) sum += exp_(Scalar<T>::load(xr[c]) - max);
    sum = row_reduce<Group>(sum, Plus{});
    T* yr = y + r * cols;
    if (log) {  // (x - max) - log(sum), as the CPU: max + log(sum) would round log(sum) away
      const C log_sum = log_(sum);
      for (int64_t c = S::lane(); c < cols; c += Group)
        yr[c] = Scalar<T>::store((Scalar<T>::load(xr[c]) - max) - log_sum);
    } else {
      const C scale = C(1) / sum;
      for (int64_t c = S::lane(); c < cols; c += Group)
        yr[c] = Scalar<T>::store(exp_(Scalar<T>::load(xr[c]) - max) * scale);
    }
  }
}

template <int Group, typename T>
__global__ void softmax_backward_kernel(const T* y, const T* g, T* dx, int64_t rows, int64_t cols,
                                        bool log) {
  using C = compute_t<T>;
  using S = RowSchedule<Group>;
  for (int64_t r = S::first(); r < rows; r += S::step()) {
    const int64_t base = r * cols;
    C dot = 0;
    for (int64_t c = S::lane(); c < cols; c += Group) {
      const C gc = Scalar<T>::load(g[base + c]);
      dot += log ? gc : mul_rn(gc, Scalar<T>::load(y[base + c]));
    }
    dot = row_reduce<Group>(dot, Plus{});
    for (int64_t c = S::lane(); c < cols; c += Group) {
      const C yc = Scalar<T>::load(y[base + c]), gc = Scalar<T>::load(g[base + c]);
      dx[base + c] = Scalar<T>::store(log ? gc - mul_rn(exp_(yc), dot) : yc * (gc - dot));
    }
  }
}

int64_t rows_of(const kernels::TensorView& v) {
  const int64_t cols = v.sizes[v.ndim - 1];
  return cols > 0 ? v.numel() / cols : 0;
}

// Blocks for `rows` rows at `rows_per_block` each, capped (the kernels loop over the rest).
unsigned blocks_for_rows(int64_t rows, int rows_per_block) {
  const int64_t blocks = (rows + rows_per_block - 1) / rows_per_block;
  return static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(blocks, 1), 65535LL * 16));
}

}  // namespace

void softmax(bool log, const kernels::TensorView& in, const kernels::TensorView& out) {
  const int64_t cols = in.sizes[in.ndim - 1], rows = rows_of(in);
  if (rows == 0 || cols == 0) return;
  dispatch_floating(in.dtype, "softmax", [&]<typename T>() {
    cudaStream_t stream = current_stream();
    if (cols <= 1024) {
      softmax_kernel<kWarp, T>
          <<<blocks_for_rows(rows, kSoftmaxBlock / kWarp), kSoftmaxBlock, 0, stream>>>(
              in.ptr<T>(), out.ptr<T>(), rows, cols, log);
    } else {
      softmax_kernel<kSoftmaxBlock, T><<<blocks_for_rows(rows, 1), kSoftmaxBlock, 0, stream>>>(
          in.ptr<T>(), out.ptr<T>(), rows, cols, log);
    }
    HG_CUDA_LAUNCH_CHECK("softmax_kernel");
  });
}

void softmax_backward(bool log, const kernels::TensorView& y, const kernels::TensorView& grad_out,
                      const kernels::TensorView& grad_in) {
  const int64_t cols = y.sizes[y.ndim - 1], rows = rows_of(y);
  if (rows == 0 || cols == 0) return;
  dispatch_floating(y.dtype, "softmax_backward", [&]<typename T>() {
    cudaStream_t stream = current_stream();
    if (cols <= 1024) {
      softmax_backward_kernel<kWarp, T>
          <<<blocks_for_rows(rows, kSoftmaxBlock / kWarp), kSoftmaxBlock, 0, stream>>>(
              y.ptr<T>(), grad_out.ptr<T>(), grad_in.ptr<T>(), rows, cols, log);
    } else {
      softmax_backward_kernel<kSoftmaxBlock, T>
          <<<blocks_for_rows(rows, 1), kSoftmaxBlock, 0, stream>>>(
              y.ptr<T>(), grad_out.ptr<T>(), grad_in.ptr<T>(), rows, cols, log);
    }
    HG_CUDA_LAUNCH_CHECK("softmax_backward_kernel");
  });
}

}  // namespace hg::cuda
