// Batch norm on CUDA, with the CPU's numerics (kernels/cpu/norm.cpp): statistics in double by
// two passes (mean, then the squared deviations), stored as float32 (float64 for fp64 inputs);
// per-element math without fused multiply-adds, so a 16-bit activation is read and written with
// one rounding each way.
//
// Reductions over a channel (N x H x W values) run in two steps (kernels/cuda/channel_sums.cuh):
// blocks of (channel, slice of the batch) write partial sums in double, then one thread per
// channel adds its slices in a fixed order. One block per channel, as before session 10, left
// most of the GPU idle and divided a 64-bit index per element; the elementwise kernels find an
// element's channel with 32-bit index arithmetic (kernels/cuda/index_div.h) where the tensor
// allows it.
#include <algorithm>
#include <cstdint>

#include "halfgrad/kernels/cuda/channel_sums.cuh"
#include "halfgrad/kernels/cuda/cuda_nn_kernels.h"
#include "halfgrad/kernels/cuda/index_div.h"
#include "halfgrad/kernels/cuda/nn_common.cuh"
#include "halfgrad/kernels/cuda/norm_common.cuh"
#include "halfgrad/kernels/with_flag.h"

namespace hg::kernels::cuda {

using namespace ::hg::cuda;  // NOLINT: the backend's helpers

namespace {

__global__ void bn_mean_kernel(const double* partial, Channels L, double* mean) {
  const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c < L.channels) mean[c] = channel_sum(partial, L, c) / static_cast<double>(L.batch * L.inner);
}

__global__ void bn_variance_kernel(const double* partial, Channels L, double eps,
                                   const double* mean, Param mean_out, Param invstd_out,
                                   Param var_out) {
  const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c >= L.channels) return;
  const int64_t count = L.batch * L.inner;
  const double sq = channel_sum(partial, L, c);
  mean_out.set(c, mean[c]);
  invstd_out.set(c, 1.0 / sqrt(sq / static_cast<double>(count) + eps));
  var_out.set(c, count > 1 ? sq / static_cast<double>(count - 1) : NAN);  // unbiased
}

// Channel c's y = (x - mean) * scale + shift, scale = invstd * weight, shift = bias, in the
// compute type; output() rounds each operation (no FMA), as the CPU does. The forward writes
// it, and with relu fused the backward recomputes it for relu's mask instead of keeping the
// output alive for it (ResNet-9's conv_bn blocks before a max pool: the largest activations).
template <typename T>
struct ChannelAffine {
  using C = typename Scalar<T>::Compute;
  C m, scale, shift;
  __device__ ChannelAffine(Param mean, Param invstd, Param weight, Param bias, int64_t c)
      : m(static_cast<C>(mean.get(c, 0))),
        scale(static_cast<C>(invstd.get(c, 1) * weight.get(c, 1))),
        shift(static_cast<C>(bias.get(c, 0))) {}
  __device__ T output(T x) const {
    return Scalar<T>::store(add_rn(mul_rn(Scalar<T>::load(x) - m, scale), shift));
  }
  // relu's mask on the rounded output: NaN passes, -0 and 0 do not
  __device__ bool relu_keeps(T x) const { return !(Scalar<T>::load(output(x)) <= C(0)); }
};

// y = (x - mean) * (invstd * weight) + bias, V elements (one channel's) per step; with Relu,
// relu of that (on the rounded value: NaN passes, -0 becomes 0, as the relu kernel).
template <typename T, int V, typename D, bool Relu>
__global__ void bn_apply_kernel(const T* x, int64_t packs, D plane_packs, D channels, Param mean,
                                Param invstd, Param weight, Param bias, T* y) {
  using C = typename Scalar<T>::Compute;
  using I = typename D::Index;
  for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < packs; i += gridDim.x * blockDim.x) {
    const ChannelAffine<T> affine(mean, invstd, weight, bias, channels.mod(plane_packs.div(i)));
    const Vec<T, V> xs = load_pack<V>(x, int64_t{i} * V);
    Vec<T, V> ys;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      ys.v[k] = affine.output(xs.v[k]);
      if (Relu && Scalar<T>::load(ys.v[k]) <= C(0)) ys.v[k] = Scalar<T>::store(C(0));
    }
    store_pack<V>(y, int64_t{i} * V, ys);
  }
}

// grad_y as relu's backward passes it on: 0 where the fused relu's output (recomputed from x)
// is <= 0 (NaN passes); as it is when the forward fused no relu.
template <bool Relu, typename T, int V>
__device__ inline double masked_grad(const Vec<T, V>& gs, const Vec<T, V>& xs,
                                     const ChannelAffine<T>& affine, int k) {
  if (Relu && !affine.relu_keeps(xs.v[k])) return 0.0;
  return static_cast<double>(Scalar<T>::load(gs.v[k]));
}

// Per block: partial[block] = sum(g), partial[blocks + block] = sum(g * xhat).
// Relu: the forward fused relu, whose mask is recomputed with the forward's bias.
template <typename T, int V, bool Relu>
__global__ void bn_backward_partial_kernel(const T* x, const T* g, Param bias, Channels L,
                                           Param mean, Param invstd, Param weight,
                                           double* partial) {
  const int64_t c = blockIdx.x / L.slices, slice = blockIdx.x % L.slices;
  const double m = mean.get(c, 0), is = invstd.get(c, 1);
  const ChannelAffine<T> affine(mean, invstd, weight, bias, c);
  double sum_g = 0, sum_gx = 0;
  for_each_in_slice<V>(L, c, slice, [&](int64_t i) {
    const Vec<T, V> xs = load_pack<V>(x, i), gs = load_pack<V>(g, i);
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const double gi = masked_grad<Relu>(gs, xs, affine, k);
      sum_g += gi;
      sum_gx += gi * (static_cast<double>(Scalar<T>::load(xs.v[k])) - m) * is;
    }
  });
  sum_g = block_sum(sum_g);
  sum_gx = block_sum(sum_gx);
  if (threadIdx.x == 0) {
    partial[blockIdx.x] = sum_g;
    partial[gridDim.x + blockIdx.x] = sum_gx;
  }
}

// Per channel: sums[2c] = sum(g), sums[2c + 1] = sum(g * xhat); also grad_bias / grad_weight.
__global__ void bn_backward_sums_kernel(const double* partial, Channels L, Param grad_weight,
                                        Param grad_bias, double* sums) {
  const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c >= L.channels) return;
  const double sum_g = channel_sum(partial, L, c);
  const double sum_gx = channel_sum(partial + L.channels * L.slices, L, c);
  sums[2 * c] = sum_g;
  sums[2 * c + 1] = sum_gx;
  grad_bias.set(c, sum_g);
  grad_weight.set(c, sum_gx);
}

template <typename T, int V, typename D, bool Relu>
__global__ void bn_backward_input_kernel(bool training, const T* x, const T* g, Param bias,
                                         int64_t packs, D plane_packs, D channels, double count,
                                         Param mean, Param invstd, Param weight, const double* sums,
                                         T* gx) {
  using I = typename D::Index;
  for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < packs; i += gridDim.x * blockDim.x) {
    const I c = channels.mod(plane_packs.div(i));
    const double w = weight.get(c, 1), is = invstd.get(c, 1), m = mean.get(c, 0);
    const ChannelAffine<T> affine(mean, invstd, weight, bias, c);
    const Vec<T, V> xs = load_pack<V>(x, int64_t{i} * V), gs = load_pack<V>(g, int64_t{i} * V);
    Vec<T, V> out;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const double gi = masked_grad<Relu>(gs, xs, affine, k);
      double v;
      if (!training) {
        v = gi * w * is;
      } else {
        const double xhat = (static_cast<double>(Scalar<T>::load(xs.v[k])) - m) * is;
        v = w * is / count * (count * gi - sums[2 * c] - xhat * sums[2 * c + 1]);
      }
      out.v[k] = Scalar<T>::store(static_cast<typename Scalar<T>::Compute>(v));
    }
    store_pack<V>(gx, int64_t{i} * V, out);
  }
}

// running = running * keep + batch * take per channel; mul_rn keeps nvcc from fusing the
// multiply into the add, so each product rounds as the CPU's does.
template <typename S>
__global__ void running_stats_kernel(S* running_mean, S* running_var, const S* mean, const S* var,
                                     int64_t channels, S keep, S take, int64_t* batches_tracked) {
  if (batches_tracked != nullptr && blockIdx.x == 0 && threadIdx.x == 0) ++*batches_tracked;
  HG_GRID_LOOP(c, channels) {
    running_mean[c] = mul_rn(running_mean[c], keep) + mul_rn(mean[c], take);
    running_var[c] = mul_rn(running_var[c], keep) + mul_rn(var[c], take);
  }
}

}  // namespace

void batch_norm(bool training, const TensorView& x, const TensorView* weight,
                const TensorView* bias, const TensorView& save_mean, const TensorView& save_invstd,
                const TensorView* batch_var, double eps, bool relu, const TensorView& y) {
  const Channels L = channels_of(x);
  if (L.channels == 0) return;
  dispatch_floating(x.dtype, "batch_norm", [&]<typename T>() {
    with_pack_width<T>(L.inner, {x.data, y.data}, [&]<int V>() {
      cudaStream_t stream = current_stream();
      if (training) {
        DeviceBuffer partial(static_cast<size_t>(L.channels * L.slices) * sizeof(double));
        DeviceBuffer mean(static_cast<size_t>(L.channels) * sizeof(double));
        const unsigned blocks = reduction_blocks(L, "batch_norm");
        channel_partial_kernel<T, V, false>
            <<<blocks, kReduceBlock, 0, stream>>>(x.ptr<T>(), L, nullptr, partial.as<double>());
        HG_CUDA_LAUNCH_CHECK("channel_partial_kernel (sum)");
        bn_mean_kernel<<<grid_for(L.channels), kBlockSize, 0, stream>>>(partial.as<double>(), L,
                                                                        mean.as<double>());
        HG_CUDA_LAUNCH_CHECK("bn_mean_kernel");
        channel_partial_kernel<T, V, true><<<blocks, kReduceBlock, 0, stream>>>(
            x.ptr<T>(), L, mean.as<double>(), partial.as<double>());
        HG_CUDA_LAUNCH_CHECK("channel_partial_kernel (squared deviations)");
        bn_variance_kernel<<<grid_for(L.channels), kBlockSize, 0, stream>>>(
            partial.as<double>(), L, eps, mean.as<double>(), param_of(&save_mean),
            param_of(&save_invstd), param_of(batch_var));
        HG_CUDA_LAUNCH_CHECK("bn_variance_kernel");
      }
      const int64_t packs = x.numel() / V;
      if (packs == 0) return;
      with_index_width(std::max(packs, L.channels), [&]<typename D>() {
        auto apply = [&]<bool Relu>() {
          bn_apply_kernel<T, V, D, Relu><<<grid_for(packs), kBlockSize, 0, stream>>>(
              x.ptr<T>(), packs, D(L.inner / V), D(L.channels), param_of(&save_mean),
              param_of(&save_invstd), param_of(weight), param_of(bias), y.ptr<T>());
        };
        with_flag(relu, apply);
      });
      HG_CUDA_LAUNCH_CHECK("bn_apply_kernel");
    });
  });
}

void batch_norm_backward(bool training, const TensorView& x, const TensorView& grad_y, bool relu,
                         const TensorView* weight, const TensorView* bias,
                         const TensorView& save_mean, const TensorView& save_invstd,
                         const TensorView* grad_x, const TensorView* grad_weight,
                         const TensorView* grad_bias) {
  const Channels L = channels_of(x);
  if (L.channels == 0) return;
  const void* gx_data = grad_x != nullptr ? grad_x->data : nullptr;
  dispatch_floating(x.dtype, "batch_norm_backward", [&]<typename T>() {
    with_pack_width<T>(L.inner, {x.data, grad_y.data, gx_data}, [&]<int V>() {
      with_flag(relu, [&]<bool Relu>() {
        cudaStream_t stream = current_stream();
        DeviceBuffer partial(static_cast<size_t>(2 * L.channels * L.slices) * sizeof(double));
        DeviceBuffer sums(static_cast<size_t>(2 * L.channels) * sizeof(double));
        bn_backward_partial_kernel<T, V, Relu>
            <<<reduction_blocks(L, "batch_norm_backward"), kReduceBlock, 0, stream>>>(
                x.ptr<T>(), grad_y.ptr<T>(), param_of(bias), L, param_of(&save_mean),
                param_of(&save_invstd), param_of(weight), partial.as<double>());
        HG_CUDA_LAUNCH_CHECK("bn_backward_partial_kernel");
        bn_backward_sums_kernel<<<grid_for(L.channels), kBlockSize, 0, stream>>>(
            partial.as<double>(), L, param_of(grad_weight), param_of(grad_bias), sums.as<double>());
        HG_CUDA_LAUNCH_CHECK("bn_backward_sums_kernel");
        const int64_t packs = x.numel() / V;
        if (grad_x == nullptr || packs == 0) return;
        const double count = static_cast<double>(L.batch * L.inner);
        with_index_width(std::max(packs, L.channels), [&]<typename D>() {
          bn_backward_input_kernel<T, V, D, Relu><<<grid_for(packs), kBlockSize, 0, stream>>>(
              training, x.ptr<T>(), grad_y.ptr<T>(), param_of(bias), packs, D(L.inner / V),
              D(L.channels), count, param_of(&save_mean), param_of(&save_invstd), param_of(weight),
              sums.as<double>(), grad_x->ptr<T>());
        });
        HG_CUDA_LAUNCH_CHECK("bn_backward_input_kernel");
      });
    });
  });
}

void batch_norm_running_stats(const TensorView& running_mean, const TensorView& running_var,
                              const TensorView& batch_mean, const TensorView& batch_var,
                              double momentum, const TensorView* batches_tracked) {
  const int64_t channels = running_mean.numel();
  int64_t* counter = batches_tracked != nullptr ? batches_tracked->ptr<int64_t>() : nullptr;
  if (channels == 0 && counter == nullptr) return;
  dispatch_floating(running_mean.dtype, "batch_norm_running_stats", [&]<typename S>() {
    if constexpr (std::is_same_v<S, float> || std::is_same_v<S, double>) {
      running_stats_kernel<S><<<grid_for(channels), kBlockSize, 0, current_stream()>>>(
          running_mean.ptr<S>(), running_var.ptr<S>(), batch_mean.ptr<S>(), batch_var.ptr<S>(),
          channels, static_cast<S>(1.0 - momentum), static_cast<S>(momentum), counter);
      HG_CUDA_LAUNCH_CHECK("running_stats_kernel");
    } else {
      fail(__FILE__, __LINE__, "batch_norm_running_stats", "statistics must be float32 or float64");
    }
  });
}

}  // namespace hg::kernels::cuda
