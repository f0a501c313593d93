// The weight gradient of the implicit-GEMM convolution (fp16/bf16, WMMA, fp32 accumulation):
// gw[m][k] = sum over pixels q of grad_out[m][q] * X[k][q], X being im2col's columns gathered
// from x tile by tile (kernels/cuda/conv_igemm_tiles.h). The reduction runs over every output
// pixel of the batch, so it is split into slices (grid z) whose fp32 partial sums a second
// kernel adds in slice order and rounds once: no column matrix, no transposed copy of
// grad_out, and the same result on every run.
#include <cuda_runtime.h>

#include "halfgrad/kernels/cuda/conv_igemm.h"
#include "halfgrad/kernels/cuda/conv_igemm_common.cuh"
#include "halfgrad/kernels/cuda/nn_common.cuh"

namespace hg::cuda::igemm {
namespace {

constexpr int kLdQ = kTileQ + kPad;

template <typename T>
struct Stages {
  T a[2][kTileM][kLdQ];  // grad_out: rows m, columns pixels
  T b[2][kTileN][kLdQ];  // X: rows k, columns pixels (the col-major B operand)
};

template <typename T>
struct Prefetch {
  T a[kRowsQ], b[kRowsQ];
};

// Thread tid's entries of the stage at pixel q0: grad_out rows m0 + q_row, X rows of `taps`.
template <typename T>
__device__ inline void load_stage(const Geometry& s, const T* __restrict__ x,
                                  const T* __restrict__ go, int group, int m0, int k0, int q0,
                                  const Tap* taps, Prefetch<T>& regs) {
  const int tid = threadIdx.x, pixel = q0 + q_column(tid);
  const int32_t go_base = grad_out_base(s, pixel, group);
  const PixelSource px = pixel_source(s, pixel, group);
#pragma unroll
  for (int r = 0; r < kRowsQ; ++r) {
    const int row = q_row(tid, r), m = m0 + row, k = k0 + row;
    regs.a[r] = go_base >= 0 && m < s.og ? go[go_base + m * s.hwo] : zero_value<T>();
    const int32_t offset = px.valid && k < s.kg ? tap_offset(s, px, taps[row]) : -1;
    regs.b[r] = offset >= 0 ? x[offset] : zero_value<T>();
  }
}

template <typename T>
__device__ inline void store_stage(const Prefetch<T>& regs, Stages<T>& st, int stage) {
  const int tid = threadIdx.x, col = q_column(tid);
#pragma unroll
  for (int r = 0; r < kRowsQ; ++r) {
    st.a[stage][q_row(tid, r)][col] = regs.a[r];
    st.b[stage][q_row(tid, r)][col] = regs.b[r];
  }
}

template <typename T>
using FragA = wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, T, wmma::row_major>;
template <typename T>
using FragB = wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, T, wmma::col_major>;

// Block (x: tile of k, y: tile of m, z: group + groups * slice) writes its fp32 partial sums.
template <typename T, int KH, int KW>
__global__ void __launch_bounds__(kThreads, 2)
    wgrad_igemm_kernel(const T* __restrict__ x, const T* __restrict__ go,
                       float* __restrict__ partial, Geometry s, int groups, int splits) {
  __shared__ __align__(128) unsigned char shared[sizeof(Stages<T>)];
  __shared__ Tap taps[kTileN];
  static_assert(sizeof(Stages<T>) >= kThreads / 32 * kStageFloats * sizeof(float));
  Stages<T>& st = *reinterpret_cast<Stages<T>*>(shared);
  const int group = blockIdx.z % groups, split = blockIdx.z / groups;
  const int k0 = blockIdx.x * kTileN, m0 = blockIdx.y * kTileM;
  if (threadIdx.x < kTileN) taps[threadIdx.x] = tap_of<KH, KW>(s, k0 + threadIdx.x);
  __syncthreads();
  const WarpTile wt = warp_tile();
  const StageRange range = slice_stages(s, split, splits);

  Accumulators acc;
  clear(acc);
  Prefetch<T> regs;
  if (range.first < range.last) {
    load_stage(s, x, go, group, m0, k0, range.first * kTileQ, taps, regs);
    store_stage(regs, st, 0);
  }
  __syncthreads();
  for (int t = range.first; t < range.last; ++t) {
    const bool more = t + 1 < range.last;
    const int cur = (t - range.first) & 1;
    if (more) load_stage(s, x, go, group, m0, k0, (t + 1) * kTileQ, taps, regs);
    multiply_tiles<FragA<T>, FragB<T>, kTileQ>(
        wt, [&](int row, int kk) { return &st.a[cur][row][kk]; }, kLdQ,
        [&](int kk, int col) { return &st.b[cur][col][kk]; }, kLdQ, acc);
    if (more) store_stage(regs, st, cur ^ 1);
    __syncthreads();
  }
  // Every block writes its whole tile, zeros for an empty slice: the sum reads every slice.
  float* staging = reinterpret_cast<float*>(shared) + threadIdx.x / 32 * kStageFloats;
  for_each_result(wt, acc, staging, [&](int row, int col, float value) {
    const int m = m0 + row, k = k0 + col;
    if (m < s.og && k < s.kg) partial[partial_offset(s, split, group, m, k)] = value;
  });
}

// gw[i] = the slices' partial sums added in slice order, rounded once.
template <typename T>
__global__ void sum_slices_kernel(const float* __restrict__ partial, int64_t count, int splits,
                                  T* __restrict__ gw) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    float sum = 0.0f;
    for (int z = 0; z < splits; ++z) sum += partial[z * count + i];
    gw[i] = Scalar<T>::store(sum);
  }
}

int sm_count() {
  static const int count = [] {
    int device = 0, sms = 0;
    HG_CUDA_CHECK(cudaGetDevice(&device));
    HG_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    return sms;
  }();
  return count;
}

}  // namespace

template <typename T>
void weight_grad(const ConvDims& d, const T* x, const T* grad_out, T* grad_weight) {
  const Geometry s = make_geometry(d);
  const int groups = static_cast<int>(d.groups);
  const int splits = weight_grad_splits(s, groups, sm_count());
  const int64_t count = int64_t{s.cout} * s.kg;
  DeviceBuffer partial(static_cast<size_t>(splits * count) * sizeof(float));
  const dim3 grid(tiles(s.kg, kTileN), tiles(s.og, kTileM), static_cast<unsigned>(groups * splits));
  cudaStream_t stream = current_stream();
  wgrad_igemm_kernel<T, 3, 3>
      <<<grid, kThreads, 0, stream>>>(x, grad_out, partial.as<float>(), s, groups, splits);
  HG_CUDA_LAUNCH_CHECK("conv2d_backward wgrad_igemm_kernel");
  sum_slices_kernel<T>
      <<<grid_for(count), kBlockSize, 0, stream>>>(partial.as<float>(), count, splits, grad_weight);
  HG_CUDA_LAUNCH_CHECK("conv2d_backward sum_slices_kernel");
}

template void weight_grad<__half>(const ConvDims&, const __half*, const __half*, __half*);
template void weight_grad<__nv_bfloat16>(const ConvDims&, const __nv_bfloat16*,
                                         const __nv_bfloat16*, __nv_bfloat16*);

}  // namespace hg::cuda::igemm
