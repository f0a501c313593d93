#pragma once
// What the two implicit-GEMM convolution kernels share (conv_igemm.cu: the forward,
// conv_igemm_wgrad.cu: the weight gradient): a block of 8 warps computes a 128 x 128 tile with
// WMMA 16x16x16 fragments, fp32 accumulators, each warp a 64 x 32 piece (4 x 2 fragments), and
// hands its results out through a 16 x 16 float staging area per warp.
#include <mma.h>

#include "halfgrad/kernels/cuda/common.cuh"
#include "halfgrad/kernels/cuda/conv_igemm_tiles.h"

namespace hg::cuda::igemm {

namespace wmma = nvcuda::wmma;

inline constexpr int kPad = 8;  // row padding of the shared tiles: spreads rows over the banks
inline constexpr int kWarpM = 64, kWarpN = 32, kFrag = 16;
inline constexpr int kFragsM = kWarpM / kFrag, kFragsN = kWarpN / kFrag;  // 4 x 2 accumulators
inline constexpr int kWarpsN = kTileN / kWarpN;                           // warps side by side: 4
inline constexpr int kStageFloats = kFrag * kFrag;                        // staging per warp

using FragC = wmma::fragment<wmma::accumulator, kFrag, kFrag, kFrag, float>;
using Accumulators = FragC[kFragsM][kFragsN];

template <typename T>
__device__ inline T zero_value() {
  return Scalar<T>::store(0.0f);
}

__device__ inline void clear(Accumulators& acc) {
#pragma unroll
  for (int i = 0; i < kFragsM; ++i)
#pragma unroll
    for (int j = 0; j < kFragsN; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
}

// The warp's place in the block's tile: rows warp_m * 64..., columns warp_n * 32...
struct WarpTile {
  int warp_m, warp_n;
};
__device__ inline WarpTile warp_tile() {
  const int warp = threadIdx.x / 32;
  return {warp / kWarpsN, warp % kWarpsN};
}

// acc += a (rows of the block's A tile, kTileM x depth) times b, over `depth` in steps of 16.
// FragA/FragB carry the operands' layouts; a_at(row, kk) and b_at(kk, col) give the shared-
// memory address of a fragment's first entry, with leading dimensions lda / ldb.
template <typename FragA, typename FragB, int Depth, typename AAt, typename BAt>
__device__ inline void multiply_tiles(const WarpTile& wt, AAt a_at, int lda, BAt b_at, int ldb,
                                      Accumulators& acc) {
#pragma unroll
  for (int kk = 0; kk < Depth; kk += kFrag) {
    FragA a[kFragsM];
    FragB b[kFragsN];
#pragma unroll
    for (int i = 0; i < kFragsM; ++i)
      wmma::load_matrix_sync(a[i], a_at(wt.warp_m * kWarpM + i * kFrag, kk), lda);
#pragma unroll
    for (int j = 0; j < kFragsN; ++j)
      wmma::load_matrix_sync(b[j], b_at(kk, wt.warp_n * kWarpN + j * kFrag), ldb);
#pragma unroll
    for (int i = 0; i < kFragsM; ++i)
#pragma unroll
      for (int j = 0; j < kFragsN; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
  }
}

// Calls emit(row, column, value) for each of the warp's 64 x 32 results (row and column within
// the block's tile), fragment by fragment through `staging` (16 x 16 floats of this warp's own):
// lane l takes row l / 2 and 8 neighbouring columns, so stores along a row coalesce.
template <typename Emit>
__device__ inline void for_each_result(const WarpTile& wt, Accumulators& acc, float* staging,
                                       Emit emit) {
  const int lane = threadIdx.x % 32, row = lane / 2, col0 = (lane % 2) * 8;
#pragma unroll
  for (int i = 0; i < kFragsM; ++i) {
#pragma unroll
    for (int j = 0; j < kFragsN; ++j) {
      wmma::store_matrix_sync(staging, acc[i][j], kFrag, wmma::mem_row_major);
      __syncwarp();
#pragma unroll
      for (int c = 0; c < 8; ++c)
        emit(wt.warp_m * kWarpM + i * kFrag + row, wt.warp_n * kWarpN + j * kFrag + col0 + c,
             staging[row * kFrag + col0 + c]);
      __syncwarp();
    }
  }
}

}  // namespace hg::cuda::igemm
