// argmax / argmin along one dim, with the values: the index of the first extreme value, a NaN
// counting as the extreme (the first NaN wins), as kernels/cpu/reduce.cpp arg_reduce.
// Short or strided lines: one thread scans one line, exactly like the CPU. Long contiguous
// lines: a block per line, each thread scanning a strided subset, then CUB's BlockReduce on
// (value, index) pairs where NaN beats numbers, the extreme beats the rest, and ties go to the
// smaller index, which picks the same element as the sequential scan.
#include <cub/block/block_reduce.cuh>

#include "halfgrad/kernels/cuda/cuda_kernels.h"
#include "halfgrad/kernels/cuda/elementwise.cuh"

namespace hg::cuda {

namespace {

constexpr int kArgBlock = 256;

template <typename C>
struct Candidate {
  C value;
  int64_t index;
};

template <typename C>
struct PickFirstExtreme {
  bool is_max;
  __device__ Candidate<C> operator()(const Candidate<C>& p, const Candidate<C>& q) const {
    const bool p_nan = p.value != p.value, q_nan = q.value != q.value;
    if (p_nan || q_nan) {
      if (p_nan && q_nan) return p.index <= q.index ? p : q;
      return p_nan ? p : q;
    }
    if (is_max ? q.value > p.value : q.value < p.value) return q;
    if (q.value == p.value && q.index < p.index) return q;
    return p;
  }
};

// Operands of the offset calculator: 0 = indices, 1 = values (or indices again), 2 = line start.
template <typename T>
__global__ void arg_scan_kernel(OffsetCalc<3> calc, int64_t lines, const T* in, int64_t step,
                                int64_t length, bool is_max, int64_t* indices, T* values) {
  using C = compute_t<T>;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t m = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; m < lines;
       m += stride) {
    int64_t off[3];
    calc.offsets(m, off);
    const T* line = in + off[2];
    C best = Scalar<T>::load(line[0]);
    int64_t best_at = 0;
    for (int64_t j = 1; j < length && best == best; ++j) {
      const C x = Scalar<T>::load(line[j * step]);
      if (x != x || (is_max ? x > best : x < best)) {
        best = x;
        best_at = j;
      }
    }
    indices[off[0]] = best_at;
    if (values != nullptr) values[off[1]] = Scalar<T>::store(best);
  }
}

template <typename T>
__global__ void arg_block_kernel(OffsetCalc<3> calc, int64_t lines, const T* in, int64_t step,
                                 int64_t length, bool is_max, int64_t* indices, T* values) {
  using C = compute_t<T>;
  using BlockReduce = cub::BlockReduce<Candidate<C>, kArgBlock>;
  __shared__ typename BlockReduce::TempStorage temp;
  const PickFirstExtreme<C> pick{is_max};
  for (int64_t m = blockIdx.x; m < lines; m += gridDim.x) {
    int64_t off[3];
    calc.offsets(m, off);
    const T* line = in + off[2];
    // Each thread starts from its first element (or a sentinel that loses to everything).
    Candidate<C> best{C(0), -1};
    for (int64_t j = threadIdx.x; j < length; j += kArgBlock) {
      const Candidate<C> x{Scalar<T>::load(line[j * step]), j};
      if (best.index < 0) {
        best = x;
      } else {
        best = pick(best, x);
      }
      if (best.value != best.value) break;  // a NaN: nothing later in this subset can beat it
    }
    if (best.index < 0) best = Candidate<C>{Scalar<T>::load(line[0]), 0};  // length < threads
    best = BlockReduce(temp).Reduce(best, pick);
    if (threadIdx.x == 0) {
      indices[off[0]] = best.index;
      if (values != nullptr) values[off[1]] = Scalar<T>::store(best.value);
    }
    __syncthreads();
  }
}

}  // namespace

void arg_reduce(bool is_max, const kernels::TensorView& in, int dim,
                const kernels::TensorView* values, const kernels::TensorView& indices) {
  kernels::TensorView line_start = in;  // in with `dim` collapsed: one entry per line
  line_start.sizes[dim] = 1;
  const int64_t length = in.sizes[dim], step = in.strides[dim];
  const int64_t lines = line_start.numel();
  if (lines == 0 || length == 0) return;
  const kernels::TensorView& value_view = values != nullptr ? *values : indices;
  const OffsetCalc<3> calc = make_offset_calc<3>({&indices, &value_view, &line_start});
  dispatch_all(in.dtype, [&]<typename T>() {
    T* value_ptr = values != nullptr ? values->ptr<T>() : nullptr;
    cudaStream_t stream = current_stream();
    const bool per_block = length >= 256 && (step == 1 || lines < 1024);
    if (per_block) {
      const int64_t blocks = std::min<int64_t>(lines, int64_t{1} << 20);
      arg_block_kernel<T><<<static_cast<unsigned>(blocks), kArgBlock, 0, stream>>>(
          calc, lines, in.ptr<T>(), step, length, is_max, indices.ptr<int64_t>(), value_ptr);
      HG_CUDA_LAUNCH_CHECK("arg_block_kernel");
    } else {
      arg_scan_kernel<T><<<grid_for(lines), kBlockSize, 0, stream>>>(
          calc, lines, in.ptr<T>(), step, length, is_max, indices.ptr<int64_t>(), value_ptr);
      HG_CUDA_LAUNCH_CHECK("arg_scan_kernel");
    }
  });
}

}  // namespace hg::cuda
