// Layer norm on CUDA, with the CPU's numerics (kernels/cpu/norm.cpp): statistics in double by
// two passes (mean, then the squared deviations), stored as float32 (float64 for fp64 inputs);
// per-element math in the compute type with no fused multiply-adds, so a 16-bit activation is
// read and written with one rounding each way. One block per row reduces; the weight and bias
// gradients sum over chunks of rows in two passes. Batch norm: kernels/cuda/batch_norm.cu.
#include <algorithm>

#include "halfgrad/kernels/cuda/cuda_nn_kernels.h"
#include "halfgrad/kernels/cuda/nn_common.cuh"
#include "halfgrad/kernels/cuda/norm_common.cuh"
#include "halfgrad/kernels/cuda/scratch.h"

namespace hg::kernels::cuda {

using namespace ::hg::cuda;  // NOLINT: the backend's helpers

namespace {

template <typename T>
__global__ void ln_forward_kernel(const T* x, int64_t cols, const T* w, const T* b, double eps,
                                  Param mean_out, Param invstd_out, T* y) {
  using C = typename Scalar<T>::Compute;
  const int64_t r = blockIdx.x;
  const T* row = x + r * cols;
  double sum = 0;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) sum += load_d(row, i);
  const double mean = block_sum(sum) / static_cast<double>(cols);
  double sq = 0;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
    const double d = load_d(row, i) - mean;
    sq += d * d;
  }
  const double invstd = 1.0 / sqrt(block_sum(sq) / static_cast<double>(cols) + eps);
  if (threadIdx.x == 0) {
    mean_out.set(r, mean);
    invstd_out.set(r, invstd);
  }
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
    C v = static_cast<C>((load_d(row, i) - mean) * invstd);
    if (w != nullptr) v = mul_rn(v, Scalar<T>::load(w[i]));
    if (b != nullptr) v = add_rn(v, Scalar<T>::load(b[i]));
    y[r * cols + i] = Scalar<T>::store(v);
  }
}

template <typename T>
__global__ void ln_backward_input_kernel(const T* x, const T* g, int64_t cols, const T* w,
                                         Param mean, Param invstd, T* gx) {
  const int64_t r = blockIdx.x;
  const double m = mean.get(r, 0), is = invstd.get(r, 1), d = static_cast<double>(cols);
  const T* xr = x + r * cols;
  const T* gr = g + r * cols;
  double sum_gh = 0, sum_ghx = 0;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
    const double gh = load_d(gr, i) * (w != nullptr ? load_d(w, i) : 1.0);
    sum_gh += gh;
    sum_ghx += gh * ((load_d(xr, i) - m) * is);
  }
  sum_gh = block_sum(sum_gh);
  sum_ghx = block_sum(sum_ghx);
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
    const double xhat = (load_d(xr, i) - m) * is;
    const double gh = load_d(gr, i) * (w != nullptr ? load_d(w, i) : 1.0);
    gx[r * cols + i] = Scalar<T>::store(
        static_cast<typename Scalar<T>::Compute>(is / d * (d * gh - sum_gh - xhat * sum_ghx)));
  }
}

// grad_weight[i] = sum over rows of g * xhat, grad_bias[i] = sum of g, in two passes so that a
// long input keeps the GPU busy (a thread per column alone was 3 blocks for [65536, 768]):
// partial sums over chunks of kLnRowChunk rows, a thread per (chunk, column) with neighbouring
// threads on neighbouring columns; then a thread per column adds its chunks in order, so the
// result is the same run after run.
constexpr int64_t kLnRowChunk = 64;

template <typename T>
__global__ void ln_params_partial_kernel(const T* x, const T* g, int64_t rows, int64_t cols,
                                         Param mean, Param invstd, double* partial) {
  const int64_t chunks = (rows + kLnRowChunk - 1) / kLnRowChunk;
  HG_GRID_LOOP(k, chunks * cols) {  // partial: [chunks, 2, cols]
    const int64_t chunk = k / cols, i = k % cols;
    const int64_t first = chunk * kLnRowChunk;
    const int64_t last = first + kLnRowChunk < rows ? first + kLnRowChunk : rows;
    double sw = 0, sb = 0;
    for (int64_t r = first; r < last; ++r) {
      const double gi = load_d(g, r * cols + i);
      sw += gi * ((load_d(x, r * cols + i) - mean.get(r, 0)) * invstd.get(r, 1));
      sb += gi;
    }
    partial[(2 * chunk) * cols + i] = sw;
    partial[(2 * chunk + 1) * cols + i] = sb;
  }
}

template <typename T>
__global__ void ln_params_finish_kernel(const double* partial, int64_t chunks, int64_t cols, T* gw,
                                        T* gb) {
  HG_GRID_LOOP(i, cols) {
    double sw = 0, sb = 0;
    for (int64_t c = 0; c < chunks; ++c) {
      sw += partial[(2 * c) * cols + i];
      sb += partial[(2 * c + 1) * cols + i];
    }
    using C = typename Scalar<T>::Compute;
    if (gw != nullptr) gw[i] = Scalar<T>::store(static_cast<C>(sw));
    if (gb != nullptr) gb[i] = Scalar<T>::store(static_cast<C>(sb));
  }
}

int64_t rows_of(const TensorView& x) {
  const int64_t cols = x.sizes[x.ndim - 1];
  return x.numel() / (cols > 0 ? cols : 1);
}

template <typename T>
T* ptr_or_null(const TensorView* v) {
  return v == nullptr ? nullptr : v->ptr<T>();
}

}  // namespace

void layer_norm(const TensorView& x, const TensorView* weight, const TensorView* bias, double eps,
                const TensorView& save_mean, const TensorView& save_invstd, const TensorView& y) {
  const int64_t cols = x.sizes[x.ndim - 1], rows = rows_of(x);
  if (rows == 0 || cols == 0) return;
  dispatch_floating(x.dtype, "layer_norm", [&]<typename T>() {
    ln_forward_kernel<T><<<one_block_each(rows, "layer_norm"), kBlockSize, 0, current_stream()>>>(
        x.ptr<T>(), cols, ptr_or_null<T>(weight), ptr_or_null<T>(bias), eps, param_of(&save_mean),
        param_of(&save_invstd), y.ptr<T>());
    HG_CUDA_LAUNCH_CHECK("ln_forward_kernel");
  });
}

void layer_norm_backward(const TensorView& x, const TensorView& grad_y, const TensorView* weight,
                         const TensorView& save_mean, const TensorView& save_invstd,
                         const TensorView* grad_x, const TensorView* grad_weight,
                         const TensorView* grad_bias) {
  const int64_t cols = x.sizes[x.ndim - 1], rows = rows_of(x);
  if (cols == 0) return;
  dispatch_floating(x.dtype, "layer_norm_backward", [&]<typename T>() {
    cudaStream_t stream = current_stream();
    if (grad_x != nullptr && rows > 0) {
      ln_backward_input_kernel<T>
          <<<one_block_each(rows, "layer_norm_backward"), kBlockSize, 0, stream>>>(
              x.ptr<T>(), grad_y.ptr<T>(), cols, ptr_or_null<T>(weight), param_of(&save_mean),
              param_of(&save_invstd), grad_x->ptr<T>());
      HG_CUDA_LAUNCH_CHECK("ln_backward_input_kernel");
    }
    if (grad_weight == nullptr && grad_bias == nullptr) return;
    // no rows: no chunks, and the finishing kernel writes sums of nothing, zeros
    const int64_t chunks = (rows + kLnRowChunk - 1) / kLnRowChunk;
    Scratch partial(static_cast<std::size_t>(std::max<int64_t>(1, 2 * chunks * cols)) *
                    sizeof(double));
    ln_params_partial_kernel<T><<<grid_for(chunks * cols), kBlockSize, 0, stream>>>(
        x.ptr<T>(), grad_y.ptr<T>(), rows, cols, param_of(&save_mean), param_of(&save_invstd),
        partial.as<double>());
    HG_CUDA_LAUNCH_CHECK("ln_params_partial_kernel");
    ln_params_finish_kernel<T><<<grid_for(cols), kBlockSize, 0, stream>>>(
        partial.as<double>(), chunks, cols, ptr_or_null<T>(grad_weight), ptr_or_null<T>(grad_bias));
    HG_CUDA_LAUNCH_CHECK("ln_params_finish_kernel");
  });
}

}  // namespace hg::kernels::cuda
