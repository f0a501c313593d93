// Sum, mean, max, min and prod over any set of dims (kernels/kernels.h ReduceFn). Accumulators
// as on the CPU (kernels/cpu/reduce.cpp): sums and products in double for floating inputs (a
// memory-bound pass; the H200's fp64 rate is half its fp32 one), int64 for integers; max/min in the
// compute type with NaN winning.
//
// Two kernels per call. The first writes partial results [splits, M] for M outputs, each over
// a chunk of the R reduced elements: a 256-thread block per (output, chunk) combined with CUB's
// BlockReduce when the input's innermost dim is reduced (coalesced rows), or a thread per
// (output, chunk) when it is kept (neighbouring threads read neighbouring outputs). The second
// combines the chunks in order, divides mean's sum by the count and rounds once into out's dtype.
// No atomics: the result is the same run after run.
#include <cub/block/block_reduce.cuh>
#include <cuda/std/limits>

#include <cmath>

#include "halfgrad/kernels/cuda/cuda_kernels.h"
#include "halfgrad/kernels/cuda/elementwise.cuh"
#include "halfgrad/kernels/cuda/reduce_geometry.h"
#include "halfgrad/kernels/cuda/scratch.h"

namespace hg::cuda {

namespace {

using kernels::ReduceOp;
constexpr int kReduceBlock = 256;

template <typename T>
struct SumAcc {
  using type = double;
};
template <>
struct SumAcc<int64_t> {
  using type = int64_t;
};
template <>
struct SumAcc<uint8_t> {
  using type = int64_t;
};
template <>
struct SumAcc<bool> {
  using type = int64_t;
};

template <typename A>
struct SumCombine {
  __device__ static A init() { return A(0); }
  __device__ A operator()(const A& acc, const A& x) const { return acc + x; }
};
template <typename A>
struct ProdCombine {
  __device__ static A init() { return A(1); }
  __device__ A operator()(const A& acc, const A& x) const { return acc * x; }
};
template <typename A, bool IsMax>
struct ExtremeCombine {
  __device__ static A init() {
    using L = ::cuda::std::numeric_limits<A>;
    if constexpr (L::has_infinity) return IsMax ? -L::infinity() : L::infinity();
    return IsMax ? L::lowest() : L::max();
  }
  __device__ A operator()(const A& acc, const A& x) const {
    if (acc != acc) return acc;
    if (x != x) return x;
    return IsMax ? (x > acc ? x : acc) : (x < acc ? x : acc);
  }
};

struct DeviceIndexMap {  // IndexMap by value in kernel arguments
  int ndim;
  int64_t sizes[kernels::kMaxDims];
  int64_t in_strides[kernels::kMaxDims];
  int64_t out_strides[kernels::kMaxDims];

  __device__ void offsets(int64_t linear, int64_t& in, int64_t& out) const {
    in = 0;
    out = 0;
    if (ndim == 1) {  // the common case after coalescing: no division
      in = linear * in_strides[0];
      out = linear * out_strides[0];
      return;
    }
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t i = linear % sizes[d];
      linear /= sizes[d];
      in += i * in_strides[d];
      out += i * out_strides[d];
    }
  }
  __device__ int64_t in_offset(int64_t linear) const {
    int64_t in, out;
    offsets(linear, in, out);
    return in;
  }
};

DeviceIndexMap device_map(const IndexMap& m) {
  DeviceIndexMap d{};
  d.ndim = m.ndim;
  for (int i = 0; i < m.ndim; ++i) {
    d.sizes[i] = m.sizes[i];
    d.in_strides[i] = m.in_strides[i];
    d.out_strides[i] = m.out_strides[i];
  }
  return d;
}

struct Chunk {
  int64_t begin, end;
};
__device__ inline Chunk chunk_of(int64_t R, int64_t splits, int64_t s) {
  const int64_t size = (R + splits - 1) / splits;
  const int64_t begin = s * size;
  return {begin, begin + size < R ? begin + size : R};
}

// One block per (output m, chunk s): ids m * splits + s, grid-stride.
template <typename T, typename A, typename Combine>
__global__ void reduce_rows_kernel(const T* in, DeviceIndexMap kept, DeviceIndexMap reduced,
                                   int64_t M, int64_t R, int64_t splits, A* partial) {
  using BlockReduce = cub::BlockReduce<A, kReduceBlock>;
  __shared__ typename BlockReduce::TempStorage temp;
  const Combine combine{};
  for (int64_t id = blockIdx.x; id < M * splits; id += gridDim.x) {
    const int64_t m = id / splits, s = id % splits;
    const Chunk c = chunk_of(R, splits, s);
    const int64_t base = kept.in_offset(m);
    A acc = Combine::init();
    for (int64_t r = c.begin + threadIdx.x; r < c.end; r += kReduceBlock)
      acc = combine(acc, static_cast<A>(Scalar<T>::load(in[base + reduced.in_offset(r)])));
    acc = BlockReduce(temp).Reduce(acc, combine);
    if (threadIdx.x == 0) partial[s * M + m] = acc;
    __syncthreads();  // temp is reused by the next id
  }
}

// One thread per output m (grid-stride over x), chunk s = blockIdx.y.
template <typename T, typename A, typename Combine>
__global__ void reduce_columns_kernel(const T* in, DeviceIndexMap kept, DeviceIndexMap reduced,
                                      int64_t M, int64_t R, int64_t splits, A* partial) {
  const Combine combine{};
  const int64_t s = blockIdx.y;
  const Chunk c = chunk_of(R, splits, s);
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t m = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; m < M;
       m += stride) {
    const int64_t base = kept.in_offset(m);
    A acc = Combine::init();
    for (int64_t r = c.begin; r < c.end; ++r)
      acc = combine(acc, static_cast<A>(Scalar<T>::load(in[base + reduced.in_offset(r)])));
    partial[s * M + m] = acc;
  }
}

template <typename A, typename Combine, typename O>
__global__ void reduce_finish_kernel(const A* partial, DeviceIndexMap kept, int64_t M,
                                     int64_t splits, double divisor, O* out) {
  const Combine combine{};
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t m = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; m < M;
       m += stride) {
    A acc = splits > 0 ? partial[m] : Combine::init();
    for (int64_t s = 1; s < splits; ++s) acc = combine(acc, partial[s * M + m]);
    if (divisor != 1.0) acc = static_cast<A>(acc / static_cast<A>(divisor));  // as sum / n
    int64_t in_off, out_off;
    kept.offsets(m, in_off, out_off);
    out[out_off] = convert<O>(acc);
  }
}

template <typename T, typename A, typename Combine>
void run(const ReducePlan& plan, const kernels::TensorView& in, const kernels::TensorView& out,
         double divisor) {
  const int64_t M = plan.M;
  // R == 0: no first pass; the finish kernel writes the identity (over the divisor: 0 / 0, NaN, for
  // mean).
  const int64_t splits = plan.R == 0 ? 0 : plan.splits;
  Scratch scratch(static_cast<std::size_t>(std::max<int64_t>(1, M * splits)) * sizeof(A));
  A* partial = scratch.as<A>();
  const DeviceIndexMap kept = device_map(plan.kept), reduced = device_map(plan.reduced);
  cudaStream_t stream = current_stream();
  if (splits > 0 && plan.rows) {
    const int64_t blocks = std::min<int64_t>(M * splits, int64_t{1} << 20);
    reduce_rows_kernel<T, A, Combine><<<static_cast<unsigned>(blocks), kReduceBlock, 0, stream>>>(
        in.ptr<T>(), kept, reduced, M, plan.R, splits, partial);
    HG_CUDA_LAUNCH_CHECK("reduce_rows_kernel");
  } else if (splits > 0) {
    const dim3 grid(grid_for(M), static_cast<unsigned>(splits));
    reduce_columns_kernel<T, A, Combine>
        <<<grid, kBlockSize, 0, stream>>>(in.ptr<T>(), kept, reduced, M, plan.R, splits, partial);
    HG_CUDA_LAUNCH_CHECK("reduce_columns_kernel");
  }
  dispatch_all(out.dtype, [&]<typename O>() {
    reduce_finish_kernel<A, Combine, O>
        <<<grid_for(M), kBlockSize, 0, stream>>>(partial, kept, M, splits, divisor, out.ptr<O>());
    HG_CUDA_LAUNCH_CHECK("reduce_finish_kernel");
  });
}

}  // namespace

void reduce(ReduceOp op, const kernels::TensorView& in, const kernels::TensorView& out) {
  const ReducePlan plan = plan_reduction(in, out);
  if (plan.M == 0) return;
  dispatch_all(in.dtype, [&]<typename T>() {
    using A = typename SumAcc<T>::type;
    using E = compute_t<T>;
    switch (op) {
      case ReduceOp::Sum:
        return run<T, A, SumCombine<A>>(plan, in, out, 1.0);
      case ReduceOp::Mean:
        return run<T, A, SumCombine<A>>(plan, in, out, static_cast<double>(plan.R));
      case ReduceOp::Max:
        return run<T, E, ExtremeCombine<E, true>>(plan, in, out, 1.0);
      case ReduceOp::Min:
        return run<T, E, ExtremeCombine<E, false>>(plan, in, out, 1.0);
      case ReduceOp::Prod:
        return run<T, A, ProdCombine<A>>(plan, in, out, 1.0);
    }
  });
}

}  // namespace hg::cuda
