// The implicit-GEMM convolution (fp16/bf16 on the tensor cores, fp32 accumulation): the GEMM of
// kernels/cuda/conv_igemm_tiles.h, whose columns are im2col's, gathered from x into shared
// memory tile by tile. Against im2col + cuBLAS it neither writes nor reads back a column matrix
// (9x the input for 3x3, the largest traffic of a ResNet-9 step: docs/cuda_nn.md).
//
// A block of 8 warps computes a 128 x 128 tile of out, 32 reduction steps per stage, in two
// shared-memory stages: while the warps multiply one stage (WMMA 16x16x16, each warp a 64 x 32
// piece), every thread has already loaded its part of the next stage into registers, and stores
// it to the other stage afterwards, so global loads overlap the tensor-core work.
#include <mma.h>

#include <cstdlib>

#include "core/cuda.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/conv_igemm.h"

namespace hg::cuda::igemm {
namespace {

namespace wmma = nvcuda::wmma;

constexpr int kPadA = 8, kPadB = 8;  // row padding: spreads the fragment loads over the banks
constexpr int kLdA = kTileK + kPadA, kLdB = kTileN + kPadB;
constexpr int kWarpM = 64, kWarpN = 32, kFrag = 16;
constexpr int kFragsM = kWarpM / kFrag, kFragsN = kWarpN / kFrag;  // 4 x 2 accumulators
constexpr int kWarpsN = kTileN / kWarpN;                           // warps side by side: 4

template <typename T>
struct Stages {
  T a[2][kTileM][kLdA];  // W: rows m, columns k
  T b[2][kTileK][kLdB];  // X: rows k, columns pixels
};
// After the last stage the same memory stages each warp's accumulators for the epilogue.
constexpr int kStageFloats = kFrag * kFrag;

template <typename T>
__device__ inline T zero_value() {
  return Scalar<T>::store(0.0f);
}

// The registers that carry one stage from global memory to shared memory.
template <typename T>
struct Prefetch {
  uint4 a[kVectorsA];
  T b[kRowsB];
};

template <typename T, int KH, int KW>
__device__ inline void load_stage(const Geometry& s, const T* __restrict__ x,
                                  const T* __restrict__ w, int group, int m0, int k0,
                                  const PixelSource& px, Prefetch<T>& regs) {
  const int tid = threadIdx.x;
#pragma unroll
  for (int r = 0; r < kVectorsA; ++r) {
    const int m = m0 + a_row(tid, r), k = k0 + a_column(tid);
    regs.a[r] = weight_run_inside(s, m, k)
                    ? *reinterpret_cast<const uint4*>(w + weight_offset(s, group, m, k))
                    : make_uint4(0, 0, 0, 0);
  }
#pragma unroll
  for (int r = 0; r < kRowsB; ++r) {
    const int32_t offset = column_offset<KH, KW>(s, px, k0 + b_row(tid, r));
    regs.b[r] = offset >= 0 ? x[offset] : zero_value<T>();
  }
}

template <typename T>
__device__ inline void store_stage(const Prefetch<T>& regs, Stages<T>& st, int stage) {
  const int tid = threadIdx.x;
#pragma unroll
  for (int r = 0; r < kVectorsA; ++r)
    *reinterpret_cast<uint4*>(&st.a[stage][a_row(tid, r)][a_column(tid)]) = regs.a[r];
#pragma unroll
  for (int r = 0; r < kRowsB; ++r) st.b[stage][b_row(tid, r)][b_column(tid)] = regs.b[r];
}

template <typename T>
using FragA = wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, T, wmma::row_major>;
template <typename T>
using FragB = wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, T, wmma::row_major>;
using FragC = wmma::fragment<wmma::accumulator, kFrag, kFrag, kFrag, float>;

template <typename T>
__device__ inline void multiply_stage(const Stages<T>& st, int stage, int warp_m, int warp_n,
                                      FragC (&acc)[kFragsM][kFragsN]) {
#pragma unroll
  for (int kk = 0; kk < kTileK; kk += kFrag) {
    FragA<T> a[kFragsM];
    FragB<T> b[kFragsN];
#pragma unroll
    for (int i = 0; i < kFragsM; ++i)
      wmma::load_matrix_sync(a[i], &st.a[stage][warp_m * kWarpM + i * kFrag][kk], kLdA);
#pragma unroll
    for (int j = 0; j < kFragsN; ++j)
      wmma::load_matrix_sync(b[j], &st.b[stage][kk][warp_n * kWarpN + j * kFrag], kLdB);
#pragma unroll
    for (int i = 0; i < kFragsM; ++i)
#pragma unroll
      for (int j = 0; j < kFragsN; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
  }
}

// Each warp writes its 64 x 32 piece fragment by fragment through a 16 x 16 float staging
// area: lane l takes row l / 2, 8 neighbouring pixels, adds the bias and rounds once.
template <typename T>
__device__ inline void store_output(const Geometry& s, const T* __restrict__ bias,
                                    T* __restrict__ out, int group, int m0, int pix0, int warp_m,
                                    int warp_n, FragC (&acc)[kFragsM][kFragsN], float* staging) {
  const int lane = threadIdx.x % 32, row = lane / 2, col0 = (lane % 2) * 8;
#pragma unroll
  for (int i = 0; i < kFragsM; ++i) {
    const int m = m0 + warp_m * kWarpM + i * kFrag + row;
    const float shift =
        bias != nullptr && m < s.og ? Scalar<T>::load(bias[group * s.og + m]) : 0.0f;
#pragma unroll
    for (int j = 0; j < kFragsN; ++j) {
      wmma::store_matrix_sync(staging, acc[i][j], kFrag, wmma::mem_row_major);
      __syncwarp();
      const int pixel0 = pix0 + warp_n * kWarpN + j * kFrag + col0;
#pragma unroll
      for (int c = 0; c < 8; ++c) {
        const int pixel = pixel0 + c;
        if (m < s.og && pixel < s.npix)
          out[output_offset(s, group, m, pixel)] =
              Scalar<T>::store(staging[row * kFrag + col0 + c] + shift);
      }
      __syncwarp();
    }
  }
}

template <typename T, int KH, int KW>
__global__ void __launch_bounds__(kThreads)
    conv_igemm_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                      T* __restrict__ out, Geometry s) {
  __shared__ __align__(128) unsigned char shared[sizeof(Stages<T>)];
  static_assert(sizeof(Stages<T>) >= kThreads / 32 * kStageFloats * sizeof(float));
  Stages<T>& st = *reinterpret_cast<Stages<T>*>(shared);
  const int group = blockIdx.z, m0 = blockIdx.y * kTileM, pix0 = blockIdx.x * kTileN;
  const int warp = threadIdx.x / 32, warp_m = warp / kWarpsN, warp_n = warp % kWarpsN;
  const PixelSource px = pixel_source(s, pix0 + b_column(threadIdx.x), group);

  FragC acc[kFragsM][kFragsN];
#pragma unroll
  for (int i = 0; i < kFragsM; ++i)
#pragma unroll
    for (int j = 0; j < kFragsN; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

  Prefetch<T> regs;
  load_stage<T, KH, KW>(s, x, w, group, m0, 0, px, regs);
  store_stage(regs, st, 0);
  __syncthreads();
  const int stages = tiles(s.kg, kTileK);
  for (int t = 0; t < stages; ++t) {
    const bool more = t + 1 < stages;
    if (more) load_stage<T, KH, KW>(s, x, w, group, m0, (t + 1) * kTileK, px, regs);
    multiply_stage(st, t & 1, warp_m, warp_n, acc);
    if (more) store_stage(regs, st, (t + 1) & 1);  // the stage every warp finished last round
    __syncthreads();
  }
  float* staging = reinterpret_cast<float*>(shared) + warp * kStageFloats;
  store_output(s, bias, out, group, m0, pix0, warp_m, warp_n, acc, staging);
}

bool& enabled_flag() {
  static bool flag = [] {
    const char* value = std::getenv("HG_CONV_IMPLICIT_GEMM");
    return value != nullptr && value[0] != '\0' && value[0] != '0';
  }();
  return flag;
}

}  // namespace

bool usable(const ConvDims& d, const void* weight) {
  return supported(d) && aligned_to(weight, 16);
}

template <typename T>
void conv_forward(const ConvDims& d, const T* x, const T* w, const T* bias, T* out) {
  const Geometry s = make_geometry(d);
  const dim3 grid(tiles(s.npix, kTileN), tiles(s.og, kTileM), static_cast<unsigned>(d.groups));
  conv_igemm_kernel<T, 3, 3><<<grid, kThreads, 0, current_stream()>>>(x, w, bias, out, s);
  HG_CUDA_LAUNCH_CHECK("conv2d conv_igemm_kernel");
}

template void conv_forward<__half>(const ConvDims&, const __half*, const __half*, const __half*,
                                   __half*);
template void conv_forward<__nv_bfloat16>(const ConvDims&, const __nv_bfloat16*,
                                          const __nv_bfloat16*, const __nv_bfloat16*,
                                          __nv_bfloat16*);

}  // namespace hg::cuda::igemm

namespace hg::cuda {

void set_implicit_gemm_conv(bool on) { igemm::enabled_flag() = on; }
bool implicit_gemm_conv() { return igemm::enabled_flag(); }

}  // namespace hg::cuda
