#pragma once
// Per-channel sums of a [batch, channels, inner] tensor in two steps, for batch norm's
// statistics and gradients (kernels/cuda/batch_norm.cu) and the convolution's bias gradient
// (kernels/cuda/conv.cu): blocks of (channel, slice of the batch) write partial sums in double,
// then one thread per channel adds its slices in a fixed order, so a sum is the same on every
// run and the whole GPU takes part (one block per channel left most of it idle).
#include <algorithm>
#include <cstdint>

#include "halfgrad/kernels/cuda/nn_common.cuh"

namespace hg::kernels::cuda {

using namespace ::hg::cuda;  // NOLINT: the backend's helpers

constexpr int kReduceBlock = 256;

// x viewed as [batch, channels, inner], and how the reductions split it: block
// (c * slices + k) takes channel c of samples [k * per_slice, (k + 1) * per_slice).
struct Channels {
  int64_t batch, channels, inner, slices, per_slice;
};
inline Channels channels_of(const TensorView& x) {
  Channels L{x.sizes[0], x.ndim > 1 ? x.sizes[1] : 1, 1, 1, 1};
  for (int d = 2; d < x.ndim; ++d) L.inner *= x.sizes[d];
  // About 1024 blocks in all, none with fewer than ~4096 values, no more slices than samples.
  const int64_t by_grid = (1024 + L.channels - 1) / std::max<int64_t>(L.channels, 1);
  const int64_t by_size = std::max<int64_t>(1, L.batch * L.inner / 4096);
  L.slices = std::max<int64_t>(1, std::min({L.batch, by_grid, by_size}));
  L.per_slice = (L.batch + L.slices - 1) / L.slices;
  return L;
}

// f(index) for every pack of V elements of channel c in this block's slice of the batch (index:
// the pack's first element), spread over the block's threads: along each sample's plane when
// it has at least a block's worth of packs, else several samples' planes side by side.
template <int V, typename F>
__device__ void for_each_in_slice(const Channels& L, int64_t c, int64_t slice, F f) {
  const int64_t b0 = slice * L.per_slice;
  const int64_t b1 = b0 + L.per_slice < L.batch ? b0 + L.per_slice : L.batch;
  const int64_t packs = L.inner / V;
  if (packs == 0) return;  // no values (and no planes to divide by)
  if (packs >= blockDim.x) {
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t k = threadIdx.x; k < packs; k += blockDim.x)
        f((b * L.channels + c) * L.inner + k * V);
    return;
  }
  const int64_t planes = blockDim.x / packs, plane = threadIdx.x / packs;
  const int64_t k = threadIdx.x % packs;
  if (plane < planes)
    for (int64_t b = b0 + plane; b < b1; b += planes) f((b * L.channels + c) * L.inner + k * V);
}

// partial[block] = the block's sum of x (kDeviations: of (x - mean[c])^2).
template <typename T, int V, bool kDeviations>
__global__ void channel_partial_kernel(const T* x, Channels L, const double* mean,
                                       double* partial) {
  const int64_t c = blockIdx.x / L.slices, slice = blockIdx.x % L.slices;
  const double m = kDeviations ? mean[c] : 0.0;
  double sum = 0;
  for_each_in_slice<V>(L, c, slice, [&](int64_t i) {
    const Vec<T, V> xs = load_pack<V>(x, i);
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const double v = static_cast<double>(Scalar<T>::load(xs.v[k]));
      sum += kDeviations ? (v - m) * (v - m) : v;
    }
  });
  sum = block_sum(sum);
  if (threadIdx.x == 0) partial[blockIdx.x] = sum;
}

// The sum of channel c's slices, in slice order.
__device__ inline double channel_sum(const double* partial, const Channels& L, int64_t c) {
  double sum = 0;
  for (int64_t k = 0; k < L.slices; ++k) sum += partial[c * L.slices + k];
  return sum;
}

// out[c] = T(the sum of channel c's slices), rounded once.
template <typename T>
__global__ void channel_totals_kernel(const double* partial, Channels L, T* out) {
  const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c < L.channels)
    out[c] = convert<T>(channel_sum(partial, L, c));  // double -> 16 bits through round-to-odd
}

inline unsigned reduction_blocks(const Channels& L, const char* what) {
  return one_block_each(L.channels * L.slices, what);
}

}  // namespace hg::kernels::cuda
