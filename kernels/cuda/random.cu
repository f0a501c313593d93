// Random fills on the device, bit for bit the CPU's (core/random.cpp): thread b computes Philox
// block offset + b with the very functions of core/philox.h the host runs, and stores the first
// min(V, n - b V) of its V values. core/philox.h uses only correctly rounded operations and
// explicit fma, so nvcc's --fmad contraction cannot change a bit.
#include "halfgrad/core/error.h"
#include "halfgrad/core/philox.h"
#include "halfgrad/core/random_checks.h"
#include "halfgrad/kernels/cuda/common.cuh"
#include "halfgrad/kernels/random_kernels.h"

namespace hg::cuda {

namespace {

template <int V, typename T, typename Block>
__global__ void random_blocks_kernel(T* out, int64_t n, uint64_t offset, Block block) {
  const int64_t blocks = (n + V - 1) / V;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t b = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; b < blocks;
       b += stride) {
    T values[V];
    block(offset + static_cast<uint64_t>(b), values);
    const int64_t base = b * V;
#pragma unroll
    for (int j = 0; j < V; ++j)
      if (base + j < n) out[base + j] = values[j];
  }
}

template <typename T>
struct UniformBlock {
  uint64_t seed;
  T low, high;
  __device__ void operator()(uint64_t block, T* values) const {
    random::uniform_block(seed, block, low, high, values);
  }
};
template <typename T>
struct NormalBlock {
  uint64_t seed;
  T mean, stddev;
  __device__ void operator()(uint64_t block, T* values) const {
    random::normal_block(seed, block, mean, stddev, values);
  }
};
struct RandIntBlock {
  uint64_t seed;
  int64_t low;
  uint64_t span;
  __device__ void operator()(uint64_t block, int64_t* values) const {
    random::randint_block(seed, block, low, span, values);
  }
};

template <int V, typename T, typename Block>
void launch(T* out, int64_t n, uint64_t offset, Block block) {
  random_blocks_kernel<V>
      <<<grid_for((n + V - 1) / V), kBlockSize, 0, current_stream()>>>(out, n, offset, block);
  HG_CUDA_LAUNCH_CHECK("random_blocks_kernel");
}

template <typename T>
void fill_real(kernels::RandomKind kind, const kernels::TensorView& out,
               const kernels::RandomParams& p, uint64_t seed, uint64_t offset) {
  constexpr int V = sizeof(T) == 4 ? 4 : 2;  // values per 4-word block (core/philox.h)
  const T a = static_cast<T>(p.a), b = static_cast<T>(p.b);
  if (kind == kernels::RandomKind::Uniform) {
    ::hg::detail::check_uniform_range(a, b, "random_fill");  // as the CPU fills check
    launch<V>(out.ptr<T>(), out.numel(), offset, UniformBlock<T>{seed, a, b});
  } else {
    ::hg::detail::check_normal_params(a, b, "random_fill");
    launch<V>(out.ptr<T>(), out.numel(), offset, NormalBlock<T>{seed, a, b});
  }
}

}  // namespace

void random_fill(kernels::RandomKind kind, const kernels::TensorView& out,
                 const kernels::RandomParams& params, uint64_t seed, uint64_t offset) {
  if (out.numel() == 0) return;
  HG_CHECK(out.is_contiguous(), "random_fill: expected a contiguous output");
  if (kind == kernels::RandomKind::RandInt) {
    HG_CHECK(out.dtype == DType::Int64, "random_fill: randint needs int64");
    HG_CHECK(params.low < params.high, "random_fill: expected low < high, got [", params.low, ", ",
             params.high, ")");
    const uint64_t span = static_cast<uint64_t>(params.high) - static_cast<uint64_t>(params.low);
    launch<2>(out.ptr<int64_t>(), out.numel(), offset, RandIntBlock{seed, params.low, span});
    return;
  }
  switch (out.dtype) {
    case DType::Float32:
      return fill_real<float>(kind, out, params, seed, offset);
    case DType::Float64:
      return fill_real<double>(kind, out, params, seed, offset);
    default:
      HG_FAIL("random_fill: expected float32 or float64, got ", dtype_name(out.dtype));
  }
}

}  // namespace hg::cuda
