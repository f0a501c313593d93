// The implicit-GEMM convolution (fp16/bf16 on the tensor cores, fp32 accumulation): the GEMM of
// kernels/cuda/conv_igemm_tiles.h, whose columns are im2col's, gathered from x into shared
// memory tile by tile. Against im2col + cuBLAS it neither writes nor reads back a column matrix
// (9x the input for 3x3, the largest traffic of a ResNet-9 step: docs/cuda_nn.md).
//
// A block of 8 warps computes a 128 x 128 tile of out, 32 reduction steps per stage, in two
// shared-memory stages: while the warps multiply one stage (WMMA 16x16x16, each warp a 64 x 32
// piece), every thread has already loaded its part of the next stage into registers, and stores
// it to the other stage afterwards, so global loads overlap the tensor-core work.
#include <cstdlib>

#include "halfgrad/core/cuda.h"
#include "halfgrad/kernels/cuda/conv_igemm.h"
#include "halfgrad/kernels/cuda/conv_igemm_common.cuh"
#include "halfgrad/kernels/with_flag.h"

namespace hg::cuda::igemm {
namespace {

constexpr int kLdA = kTileK + kPad, kLdB = kTileN + kPad;

template <typename T>
struct Stages {
  T a[2][kTileM][kLdA];  // W: rows m, columns k
  T b[2][kTileK][kLdB];  // X: rows k, columns pixels
};

// The registers that carry one stage from global memory to shared memory: the weights as
// 16-byte runs (Runs), and the inputs. Weights that come one by one (rows of no whole number
// of runs) go straight to the stage's shared memory instead: 16 more registers per thread
// would spill, and those layers (3 or 1 input channels) have one or two stages anyway.
template <typename T, bool Runs>
struct Prefetch {
  uint4 a[Runs ? kVectorsA : 1];
  T b[kRowsB];
};

// Stage `stage` of W (weights one by one: straight into shared memory) and of X (into regs).
template <typename T, int KH, int KW, bool Runs>
__device__ inline void load_stage(const Geometry& s, const T* __restrict__ x,
                                  const T* __restrict__ w, int group, int m0, int k0,
                                  const PixelSource& px, Prefetch<T, Runs>& regs, Stages<T>& st,
                                  int stage) {
  const int tid = threadIdx.x;
  if constexpr (Runs) {
#pragma unroll
    for (int r = 0; r < kVectorsA; ++r) {
      const int m = m0 + a_row(tid, r), k = k0 + a_column(tid);
      regs.a[r] = weight_inside(s, m, k)
                      ? *reinterpret_cast<const uint4*>(w + weight_offset(s, group, m, k))
                      : make_uint4(0, 0, 0, 0);
    }
  } else {
#pragma unroll 4
    for (int r = 0; r < kScalarsA; ++r) {
      const int row = a_scalar_row(tid, r), m = m0 + row, k = k0 + a_scalar_column(tid);
      st.a[stage][row][a_scalar_column(tid)] =
          weight_inside(s, m, k) ? w[weight_offset(s, group, m, k)] : zero_value<T>();
    }
  }
#pragma unroll
  for (int r = 0; r < kRowsB; ++r) {
    const int32_t offset = column_offset<KH, KW>(s, px, k0 + b_row(tid, r));
    regs.b[r] = offset >= 0 ? x[offset] : zero_value<T>();
  }
}

template <typename T, bool Runs>
__device__ inline void store_stage(const Prefetch<T, Runs>& regs, Stages<T>& st, int stage) {
  const int tid = threadIdx.x;
  if constexpr (Runs) {
#pragma unroll
    for (int r = 0; r < kVectorsA; ++r)
      *reinterpret_cast<uint4*>(&st.a[stage][a_row(tid, r)][a_column(tid)]) = regs.a[r];
  }
#pragma unroll
  for (int r = 0; r < kRowsB; ++r) st.b[stage][b_row(tid, r)][b_column(tid)] = regs.b[r];
}

template <typename T>
using FragA = wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, T, wmma::row_major>;
template <typename T>
using FragB = wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, T, wmma::row_major>;

template <typename T, int KH, int KW, bool Runs>
__global__ void __launch_bounds__(kThreads, 2)  // two blocks per SM: at most 128 registers
    conv_igemm_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                      T* __restrict__ out, Geometry s) {
  __shared__ __align__(128) unsigned char shared[sizeof(Stages<T>)];
  static_assert(sizeof(Stages<T>) >= kThreads / 32 * kStageFloats * sizeof(float));
  Stages<T>& st = *reinterpret_cast<Stages<T>*>(shared);
  const int group = blockIdx.z, m0 = blockIdx.y * kTileM, pix0 = blockIdx.x * kTileN;
  const WarpTile wt = warp_tile();
  const PixelSource px = pixel_source(s, pix0 + b_column(threadIdx.x), group);

  Accumulators acc;
  clear(acc);
  Prefetch<T, Runs> regs;
  load_stage<T, KH, KW, Runs>(s, x, w, group, m0, 0, px, regs, st, 0);
  store_stage(regs, st, 0);
  __syncthreads();
  const int stages = tiles(s.kg, kTileK);
  for (int t = 0; t < stages; ++t) {
    const bool more = t + 1 < stages;
    const int cur = t & 1;
    // (the other stage: every warp finished reading it before last round's barrier)
    if (more)
      load_stage<T, KH, KW, Runs>(s, x, w, group, m0, (t + 1) * kTileK, px, regs, st, cur ^ 1);
    multiply_tiles<FragA<T>, FragB<T>, kTileK>(
        wt, [&](int row, int kk) { return &st.a[cur][row][kk]; }, kLdA,
        [&](int kk, int col) { return &st.b[cur][kk][col]; }, kLdB, acc);
    if (more) store_stage(regs, st, cur ^ 1);  // the stage every warp finished last round
    __syncthreads();
  }
  // Each result: the bias added in fp32, one rounding.
  float* staging = reinterpret_cast<float*>(shared) + threadIdx.x / 32 * kStageFloats;
  for_each_result(wt, acc, staging, [&](int row, int col, float value) {
    const int m = m0 + row, pixel = pix0 + col;
    if (m >= s.og || pixel >= s.npix) return;
    if (bias != nullptr) value += Scalar<T>::load(bias[group * s.og + m]);
    out[output_offset(s, group, m, pixel)] = Scalar<T>::store(value);
  });
}

bool& enabled_flag() {
  static bool flag = [] {
    const char* value = std::getenv("HG_CONV_IMPLICIT_GEMM");
    return value != nullptr && value[0] != '\0' && value[0] != '0';
  }();
  return flag;
}

}  // namespace

template <typename T>
void conv_forward(const ConvDims& d, const T* x, const T* w, const T* bias, T* out) {
  const Geometry s = make_geometry(d);
  const dim3 grid(tiles(s.npix, kTileN), tiles(s.og, kTileM), static_cast<unsigned>(d.groups));
  kernels::with_flag(whole_weight_runs(d) && aligned_to(w, 16), [&]<bool Runs>() {
    conv_igemm_kernel<T, 3, 3, Runs><<<grid, kThreads, 0, current_stream()>>>(x, w, bias, out, s);
  });
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
