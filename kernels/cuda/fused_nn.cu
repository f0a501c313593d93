// The fused nn families on CUDA (kernels/fused_nn_kernels.h): dropout draws its mask from the
// Philox stream inside the kernel (one Philox block per thread, 4 elements), bit-identical to
// the CPU's mask; softmax + cross-entropy is one warp per row forward (max, sum of exp, the
// target's logit and the smoothing mean in registers, float inside) and one thread per element
// backward, with the row's log-sum-exp saved in between; the losses' mean over the counted
// targets is one block forward (for cross_entropy, the loss kernel's last block) and one
// broadcast backward.

#include "halfgrad/core/half.h"
#include "halfgrad/kernels/cuda/cuda_fused_nn_kernels.h"
#include "halfgrad/kernels/cuda/nn_common.cuh"
#include "halfgrad/kernels/cuda/target_check.h"
#include "halfgrad/kernels/fused_nn_math.h"

namespace hg::kernels::cuda {

using namespace ::hg::cuda;  // NOLINT: the backend's helpers

namespace {

template <typename T, typename C>
__global__ void dropout_kernel(const T* x, int64_t n, uint64_t seed, uint64_t offset, float p,
                               C scale, T* y) {
  const int64_t blocks = (n + 3) / 4;
  HG_GRID_LOOP(b, blocks) {
    bool keep[4];
    fused_math::dropout_keep4(seed, offset, static_cast<uint64_t>(b), p, keep);
    for (int j = 0; j < 4 && 4 * b + j < n; ++j) {
      const int64_t i = 4 * b + j;
      y[i] = Scalar<T>::store(static_cast<C>(Scalar<T>::load(x[i])) * (keep[j] ? scale : C(0)));
    }
  }
}

template <typename C>
__device__ inline C warp_sum(C v) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
template <typename C>
__device__ inline C warp_max(C v) {
  for (int o = 16; o > 0; o /= 2) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// One row's loss and log-sum-exp, by the 32 lanes of a warp (lane 0 writes them).
// L: the loss's type, T's own or float for 16-bit logits (autocast's float32 policy, no cast).
template <typename T, typename L, typename C>
__device__ void cross_entropy_row(const T* x, const int64_t* target, int64_t n, int64_t cols,
                                  int64_t ignore_index, C ls, bool smooth, L* loss, C* lse,
                                  long long* first_bad) {
  const int lane = threadIdx.x % 32;
  const T* xr = x + n * cols;
  C max = -INFINITY;
  for (int64_t c = lane; c < cols; c += 32) max = fmax(max, static_cast<C>(Scalar<T>::load(xr[c])));
  max = warp_max(max);
  C sum = 0, total = 0;
  for (int64_t c = lane; c < cols; c += 32) {
    const C v = static_cast<C>(Scalar<T>::load(xr[c]));
    sum += exp(v - max);
    total += v - max;  // mean(x) - max below: x - max keeps the spread of large logits
  }
  sum = warp_sum(sum);
  total = warp_sum(total);
  if (lane != 0) return;
  const C log_sum = log(sum);  // the loss adds it last, as the CPU: max + log_sum loses its bits
  lse[2 * n] = max;            // kept in two parts for the backward, as on the CPU
  lse[2 * n + 1] = log_sum;
  const int64_t t = target[n];
  if (t == ignore_index) {
    loss[n] = Scalar<L>::store(C(0));
  } else if (t < 0 || t >= cols) {
    atomicMin(first_bad, static_cast<long long>(n));  // reported late (kernels/cuda/target_check.h)
    loss[n] = Scalar<L>::store(C(NAN));
  } else {
    C value = (max - static_cast<C>(Scalar<T>::load(xr[t]))) + log_sum;
    if (smooth) value = (C(1) - ls) * value + ls * (log_sum - total / static_cast<C>(cols));
    loss[n] = Scalar<L>::store(value);
  }
}

// The mean over the counted targets by one block (kBlockSize threads): each thread adds its rows
// (a stride of blockDim.x) in double, then block_sum adds the threads' sums in a fixed order, so
// the result is the same run after run, and the same in both kernels that call it. The values
// are read past L1 (__ldcg): in the loss kernel's last block they were written by other blocks.
template <typename T, typename C>
__device__ void block_mean_over_targets(const T* values, const int64_t* target, int64_t rows,
                                        int64_t ignore_index, T* out, C* count) {
  double sum = 0.0, counted = 0.0;  // (a double counts exactly to 2^53)
  for (int64_t n = threadIdx.x; n < rows; n += blockDim.x) {
    if (target[n] == ignore_index) continue;
    sum += static_cast<double>(static_cast<C>(Scalar<T>::load(__ldcg(values + n))));
    counted += 1.0;
  }
  sum = block_sum(sum);
  counted = block_sum(counted);
  if (threadIdx.x != 0) return;
  const C divisor = static_cast<C>(counted);
  *count = divisor;
  *out = Scalar<T>::store(static_cast<C>(sum) / divisor);
}

// How many of a mean-taking loss kernel's blocks have finished their rows. Zero between launches:
// the last block's atomicInc wraps it back. One counter per device serves every launch because
// halfgrad issues its work on one stream (as kernels/cuda/target_check.h relies on too), so
// two of these kernels never run at once.
__device__ unsigned int cross_entropy_blocks_done = 0;

constexpr int kRowsPerBlock = kBlockSize / 32;  // one warp per row
static_assert(kRowsPerBlock * 32 == kBlockSize, "the mean's block_sum order is mean_over_targets'");

// One warp per row. With mean != nullptr the last block to finish also writes the mean over the
// counted targets and their count (the CUDA Programming Guide's "last block" reduction): one
// launch where cross_entropy + mean_over_targets took two, with the same bits.
template <typename T, typename L, typename C>
__global__ void cross_entropy_kernel(const T* x, const int64_t* target, int64_t rows, int64_t cols,
                                     int64_t ignore_index, C ls, bool smooth, L* loss, C* lse,
                                     L* mean, C* count, long long* first_bad) {
  const int64_t n = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.x / 32;
  if (n < rows)  // whole warps skip together
    cross_entropy_row(x, target, n, cols, ignore_index, ls, smooth, loss, lse, first_bad);
  if (mean == nullptr) return;
  __shared__ bool last;
  __threadfence();  // this thread's loss is visible to every block before the count says so
  __syncthreads();
  if (threadIdx.x == 0)
    last = atomicInc(&cross_entropy_blocks_done, gridDim.x - 1) == gridDim.x - 1;
  __syncthreads();
  if (last) block_mean_over_targets(loss, target, rows, ignore_index, mean, count);
}

// count != nullptr: grad_loss is the mean's gradient [1], each row's share rounded to the loss's
// type L as mean_over_targets_backward_kernel rounds it.
template <typename T, typename L, typename C>
__global__ void cross_entropy_backward_kernel(const T* x, const int64_t* target, const C* lse,
                                              const L* grad_loss, const C* count, int64_t rows,
                                              int64_t cols, int64_t ignore_index, C ls, T* dx) {
  const int64_t total = rows * cols;
  const C uniform = ls / static_cast<C>(cols);
  const C share = count != nullptr ? static_cast<C>(Scalar<L>::load(Scalar<L>::store(
                                         static_cast<C>(Scalar<L>::load(grad_loss[0])) / *count)))
                                   : C(0);
  HG_GRID_LOOP(i, total) {
    const int64_t n = i / cols, c = i % cols, t = target[n];
    if (t == ignore_index) {
      dx[i] = Scalar<T>::store(C(0));
      continue;
    }
    const C p = exp((static_cast<C>(Scalar<T>::load(x[i])) - lse[2 * n]) - lse[2 * n + 1]);
    const C target_share = c == t ? C(1) - ls : C(0);
    const C g = count != nullptr ? share : static_cast<C>(Scalar<L>::load(grad_loss[n]));
    dx[i] = Scalar<T>::store(g * (p - target_share - uniform));
  }
}

template <typename T, typename C>
__global__ void mean_over_targets_kernel(const T* values, const int64_t* target, int64_t rows,
                                         int64_t ignore_index, T* out, C* count) {
  block_mean_over_targets(values, target, rows, ignore_index, out, count);
}

template <typename T, typename C>
__global__ void mean_over_targets_backward_kernel(const T* grad_out, const C* count, int64_t n,
                                                  T* grad_values) {
  const T share = Scalar<T>::store(static_cast<C>(Scalar<T>::load(grad_out[0])) / *count);
  HG_GRID_LOOP(i, n) grad_values[i] = share;
}

}  // namespace

void dropout(const TensorView& in, double p, uint64_t seed, uint64_t offset,
             const TensorView& out) {
  const int64_t n = in.numel();
  if (n == 0) return;
  dispatch_floating(in.dtype, "dropout", [&]<typename T>() {
    using C = typename Scalar<T>::Compute;
    // the kept value's multiplier, rounded to T as the mask tensor of the composition holds it
    const double exact = 1.0 / (1.0 - p);
    C scale;
    if constexpr (std::is_same_v<T, double>)
      scale = exact;
    else if constexpr (std::is_same_v<T, float>)
      scale = static_cast<float>(exact);
    else if constexpr (std::is_same_v<T, __half>)
      scale = static_cast<float>(Half(static_cast<float>(exact)));
    else
      scale = static_cast<float>(BFloat16(static_cast<float>(exact)));
    dropout_kernel<T, C><<<grid_for((n + 3) / 4), kBlockSize, 0, current_stream()>>>(
        in.ptr<T>(), n, seed, offset, static_cast<float>(p), scale, out.ptr<T>());
    HG_CUDA_LAUNCH_CHECK("dropout_kernel");
  });
}

void cross_entropy(const TensorView& logits, const TensorView& target, int64_t ignore_index,
                   double label_smoothing, const TensorView& loss, const TensorView& lse,
                   const TensorView& mean, const TensorView& count, int64_t* bad_target) {
  const int64_t rows = logits.sizes[0], cols = logits.sizes[1];
  check_loss_dtype(logits.dtype, loss.dtype, "cross_entropy");
  *bad_target = -1;  // a bad target is reported late, by the next loss (target_check.h)
  const bool of_mean = mean.data != nullptr;
  if (rows == 0) {
    if (of_mean) mean_over_targets(loss, target, ignore_index, mean, count);  // 0 / 0
    return;
  }
  dispatch_floating(logits.dtype, "cross_entropy", [&]<typename T>() {
    with_loss_type<T>(loss.dtype, [&]<typename L>() {
      using C = typename Scalar<T>::Compute;
      cudaStream_t stream = current_stream();
      TargetCheck check(stream, "cross_entropy", rows, cols);
      const unsigned blocks =
          one_block_each((rows + kRowsPerBlock - 1) / kRowsPerBlock, "cross_entropy");
      cross_entropy_kernel<T, L, C><<<blocks, kBlockSize, 0, stream>>>(
          logits.ptr<T>(), target.ptr<int64_t>(), rows, cols, ignore_index,
          static_cast<C>(label_smoothing), label_smoothing > 0.0, loss.ptr<L>(), lse.ptr<C>(),
          of_mean ? mean.ptr<L>() : nullptr, of_mean ? count.ptr<C>() : nullptr, check.slot());
      HG_CUDA_LAUNCH_CHECK("cross_entropy_kernel");
      check.queue();
    });
  });
}

void cross_entropy_backward(const TensorView& logits, const TensorView& target,
                            const TensorView& lse, const TensorView& grad_loss,
                            const TensorView& count, int64_t ignore_index, double label_smoothing,
                            const TensorView& grad_logits) {
  const int64_t rows = logits.sizes[0], cols = logits.sizes[1];
  check_loss_dtype(logits.dtype, grad_loss.dtype, "cross_entropy_backward");
  if (rows * cols == 0) return;
  dispatch_floating(logits.dtype, "cross_entropy_backward", [&]<typename T>() {
    with_loss_type<T>(grad_loss.dtype, [&]<typename L>() {
      using C = typename Scalar<T>::Compute;
      cross_entropy_backward_kernel<T, L, C>
          <<<grid_for(rows * cols), kBlockSize, 0, current_stream()>>>(
              logits.ptr<T>(), target.ptr<int64_t>(), lse.ptr<C>(), grad_loss.ptr<L>(),
              count.data != nullptr ? count.ptr<C>() : nullptr, rows, cols, ignore_index,
              static_cast<C>(label_smoothing), grad_logits.ptr<T>());
      HG_CUDA_LAUNCH_CHECK("cross_entropy_backward_kernel");
    });
  });
}

void mean_over_targets(const TensorView& values, const TensorView& target, int64_t ignore_index,
                       const TensorView& out, const TensorView& count) {
  dispatch_floating(values.dtype, "mean_over_targets", [&]<typename T>() {
    using C = typename Scalar<T>::Compute;
    mean_over_targets_kernel<T, C><<<1, kBlockSize, 0, current_stream()>>>(
        values.ptr<T>(), target.ptr<int64_t>(), values.numel(), ignore_index, out.ptr<T>(),
        count.ptr<C>());
    HG_CUDA_LAUNCH_CHECK("mean_over_targets_kernel");
  });
}

void mean_over_targets_backward(const TensorView& grad_out, const TensorView& count,
                                const TensorView& grad_values) {
  const int64_t n = grad_values.numel();
  if (n == 0) return;
  dispatch_floating(grad_values.dtype, "mean_over_targets_backward", [&]<typename T>() {
    using C = typename Scalar<T>::Compute;
    mean_over_targets_backward_kernel<T, C><<<grid_for(n), kBlockSize, 0, current_stream()>>>(
        grad_out.ptr<T>(), count.ptr<C>(), n, grad_values.ptr<T>());
    HG_CUDA_LAUNCH_CHECK("mean_over_targets_backward_kernel");
  });
}

}  // namespace hg::kernels::cuda
