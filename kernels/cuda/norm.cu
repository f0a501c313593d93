// Batch norm and layer norm on CUDA, with the CPU's numerics (kernels/cpu/norm.cpp): statistics
// in double by two passes (mean, then the squared deviations), stored as float32 (float64 for
// fp64 inputs); per-element math in the compute type with no fused multiply-adds, so a 16-bit
// activation is read and written with one rounding each way. One block per channel (batch
// norm) or row (layer norm) reduces; elementwise kernels apply.
#include <algorithm>

#include "kernels/cuda/cuda_nn_kernels.h"
#include "kernels/cuda/nn_common.cuh"
#include "kernels/cuda/scratch.h"

namespace hg::kernels::cuda {

using namespace ::hg::cuda;  // NOLINT: the backend's helpers

namespace {

constexpr int kReduceBlock = 512;

// A float32/float64 parameter vector (weight, bias, statistics), or none.
struct Param {
  void* data = nullptr;
  bool f64 = false;
  __device__ double get(int64_t i, double fallback) const {
    if (data == nullptr) return fallback;
    return f64 ? static_cast<const double*>(data)[i] : static_cast<const float*>(data)[i];
  }
  __device__ void set(int64_t i, double v) const {
    if (data == nullptr) return;
    if (f64)
      static_cast<double*>(data)[i] = v;
    else
      static_cast<float*>(data)[i] = static_cast<float>(v);
  }
};
Param param_of(const TensorView* v) {
  return v == nullptr ? Param{} : Param{v->data, v->dtype == DType::Float64};
}

// Un-fused arithmetic: what the CPU computes, operation by operation.
__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ inline float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ inline double add_rn(double a, double b) { return __dadd_rn(a, b); }

struct Channels {
  int64_t batch, channels, inner;                      // x viewed as [batch, channels, inner]
  __device__ int64_t at(int64_t c, int64_t k) const {  // k-th element of channel c
    return ((k / inner) * channels + c) * inner + k % inner;
  }
};
Channels channels_of(const TensorView& x) {
  int64_t inner = 1;
  for (int d = 2; d < x.ndim; ++d) inner *= x.sizes[d];
  return {x.sizes[0], x.ndim > 1 ? x.sizes[1] : 1, inner};
}

template <typename T>
__device__ inline double load_d(const T* p, int64_t i) {
  return static_cast<double>(Scalar<T>::load(p[i]));
}

template <typename T>
__global__ void bn_stats_kernel(const T* x, Channels L, double eps, Param mean_out,
                                Param invstd_out, Param var_out) {
  const int64_t c = blockIdx.x, count = L.batch * L.inner;
  double sum = 0;
  for (int64_t k = threadIdx.x; k < count; k += blockDim.x) sum += load_d(x, L.at(c, k));
  const double mean = block_sum(sum) / static_cast<double>(count);
  double sq = 0;
  for (int64_t k = threadIdx.x; k < count; k += blockDim.x) {
    const double d = load_d(x, L.at(c, k)) - mean;
    sq += d * d;
  }
  sq = block_sum(sq);
  if (threadIdx.x == 0) {
    mean_out.set(c, mean);
    invstd_out.set(c, 1.0 / sqrt(sq / static_cast<double>(count) + eps));
    var_out.set(c, count > 1 ? sq / static_cast<double>(count - 1) : NAN);  // unbiased
  }
}

template <typename T>
__global__ void bn_apply_kernel(const T* x, Channels L, Param mean, Param invstd, Param weight,
                                Param bias, T* y) {
  using C = typename Scalar<T>::Compute;
  const int64_t total = L.batch * L.channels * L.inner;
  HG_GRID_LOOP(i, total) {
    const int64_t c = (i / L.inner) % L.channels;
    const C m = static_cast<C>(mean.get(c, 0));
    const C scale = static_cast<C>(invstd.get(c, 1) * weight.get(c, 1));
    const C shift = static_cast<C>(bias.get(c, 0));
    y[i] = Scalar<T>::store(add_rn(mul_rn(Scalar<T>::load(x[i]) - m, scale), shift));
  }
}

// Per channel: sums[2c] = sum(g), sums[2c + 1] = sum(g * xhat); also grad_bias / grad_weight.
template <typename T>
__global__ void bn_backward_sums_kernel(const T* x, const T* g, Channels L, Param mean,
                                        Param invstd, Param grad_weight, Param grad_bias,
                                        double* sums) {
  const int64_t c = blockIdx.x, count = L.batch * L.inner;
  const double m = mean.get(c, 0), is = invstd.get(c, 1);
  double sum_g = 0, sum_gx = 0;
  for (int64_t k = threadIdx.x; k < count; k += blockDim.x) {
    const int64_t i = L.at(c, k);
    const double gi = load_d(g, i);
    sum_g += gi;
    sum_gx += gi * (load_d(x, i) - m) * is;
  }
  sum_g = block_sum(sum_g);
  sum_gx = block_sum(sum_gx);
  if (threadIdx.x == 0) {
    sums[2 * c] = sum_g;
    sums[2 * c + 1] = sum_gx;
    grad_bias.set(c, sum_g);
    grad_weight.set(c, sum_gx);
  }
}

template <typename T>
__global__ void bn_backward_input_kernel(bool training, const T* x, const T* g, Channels L,
                                         Param mean, Param invstd, Param weight, const double* sums,
                                         T* gx) {
  const int64_t total = L.batch * L.channels * L.inner;
  const double count = static_cast<double>(L.batch * L.inner);
  HG_GRID_LOOP(i, total) {
    const int64_t c = (i / L.inner) % L.channels;
    const double gi = load_d(g, i), w = weight.get(c, 1), is = invstd.get(c, 1);
    double v;
    if (!training) {
      v = gi * w * is;
    } else {
      const double xhat = (load_d(x, i) - mean.get(c, 0)) * is;
      v = w * is / count * (count * gi - sums[2 * c] - xhat * sums[2 * c + 1]);
    }
    gx[i] = Scalar<T>::store(static_cast<typename Scalar<T>::Compute>(v));
  }
}

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

void batch_norm(bool training, const TensorView& x, const TensorView* weight,
                const TensorView* bias, const TensorView& save_mean, const TensorView& save_invstd,
                const TensorView* batch_var, double eps, const TensorView& y) {
  const Channels L = channels_of(x);
  if (L.channels == 0) return;
  dispatch_floating(x.dtype, "batch_norm", [&]<typename T>() {
    cudaStream_t stream = current_stream();
    if (training) {
      bn_stats_kernel<T><<<one_block_each(L.channels, "batch_norm"), kReduceBlock, 0, stream>>>(
          x.ptr<T>(), L, eps, param_of(&save_mean), param_of(&save_invstd), param_of(batch_var));
      HG_CUDA_LAUNCH_CHECK("bn_stats_kernel");
    }
    const int64_t total = x.numel();
    if (total == 0) return;
    bn_apply_kernel<T><<<grid_for(total), kBlockSize, 0, stream>>>(
        x.ptr<T>(), L, param_of(&save_mean), param_of(&save_invstd), param_of(weight),
        param_of(bias), y.ptr<T>());
    HG_CUDA_LAUNCH_CHECK("bn_apply_kernel");
  });
}

void batch_norm_backward(bool training, const TensorView& x, const TensorView& grad_y,
                         const TensorView* weight, const TensorView& save_mean,
                         const TensorView& save_invstd, const TensorView* grad_x,
                         const TensorView* grad_weight, const TensorView* grad_bias) {
  const Channels L = channels_of(x);
  if (L.channels == 0) return;
  dispatch_floating(x.dtype, "batch_norm_backward", [&]<typename T>() {
    cudaStream_t stream = current_stream();
    DeviceBuffer sums(static_cast<size_t>(2 * L.channels) * sizeof(double));
    bn_backward_sums_kernel<T>
        <<<one_block_each(L.channels, "batch_norm_backward"), kReduceBlock, 0, stream>>>(
            x.ptr<T>(), grad_y.ptr<T>(), L, param_of(&save_mean), param_of(&save_invstd),
            param_of(grad_weight), param_of(grad_bias), sums.as<double>());
    HG_CUDA_LAUNCH_CHECK("bn_backward_sums_kernel");
    const int64_t total = x.numel();
    if (grad_x == nullptr || total == 0) return;
    bn_backward_input_kernel<T><<<grid_for(total), kBlockSize, 0, stream>>>(
        training, x.ptr<T>(), grad_y.ptr<T>(), L, param_of(&save_mean), param_of(&save_invstd),
        param_of(weight), sums.as<double>(), grad_x->ptr<T>());
    HG_CUDA_LAUNCH_CHECK("bn_backward_input_kernel");
  });
}

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
