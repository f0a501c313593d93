// argsort on CUDA: a bitonic sort of (value, column) entries, row by row.
//
// Entries compare by value in the stable order (NaN after every number ascending, before every
// number descending) and then by column, so the order is total and its result is the CPU's
// std::stable_sort to the index, ties included. A row is padded to a power of two with entries
// that come after every real one. A block sorts a tile of up to kTile entries in shared memory;
// a row longer than a tile then takes one merge round per doubling: compare-exchange passes over
// global memory for the strides of a tile and more, one tile pass for the strides below.
// O(n log^2 n) work per row of n: a 50000-entry row (padded to 65536) is the tile pass, then five
// merge rounds of 15 memory-bound passes in all, where counting each element's rank against the
// whole row (the first version) was n^2.
#include <algorithm>

#include "halfgrad/kernels/cuda/cuda_kernels.h"
#include "halfgrad/kernels/cuda/nn_common.cuh"

namespace hg::cuda {

namespace {

constexpr int kTile = 2048;  // entries a block sorts in shared memory (fp64: 32 KB of it)
constexpr int kTileThreads = 512;

template <typename C>
__device__ inline bool value_before(C x, C y, bool descending) {
  if (descending) return (x != x && y == y) || x > y;
  return (y != y && x == x) || x < y;
}

// Whether entry x (value xv, column xc) comes before entry y in a row of `cols` real entries:
// padding (column >= cols) after every real entry, equal values in column order.
template <typename C>
__device__ inline bool entry_before(C xv, int64_t xc, C yv, int64_t yc, int64_t cols,
                                    bool descending) {
  const bool x_pad = xc >= cols, y_pad = yc >= cols;
  if (x_pad || y_pad) return x_pad ? y_pad && xc < yc : true;
  if (value_before(xv, yv, descending)) return true;
  if (value_before(yv, xv, descending)) return false;
  return xc < yc;
}

// The bitonic step on positions a < b: ascending (b's entry not before a's) when `up`.
template <typename C>
__device__ inline void order_pair(C* values, int64_t* columns, int64_t a, int64_t b, bool up,
                                  int64_t cols, bool descending) {
  const bool b_first = entry_before(values[b], columns[b], values[a], columns[a], cols, descending);
  if (b_first != up) return;  // columns are unique: b first or a first, never both
  const C v = values[a];
  values[a] = values[b];
  values[b] = v;
  const int64_t c = columns[a];
  columns[a] = columns[b];
  columns[b] = c;
}

// One block per tile of `tile` entries (a power of two, at most kTile) of a row padded to
// `padded`: runs the bitonic stages k = k_first .. k_last (doubling), each with its strides
// below the tile. The first pass reads the input `in` (else the scratch values/columns); the last
// writes the real entries' columns to `order` (else back to the scratch).
template <typename T, typename C>
__global__ void tile_kernel(const T* in, C* values, int64_t* columns, int64_t* order, int64_t cols,
                            int64_t padded, int tile, int64_t k_first, int64_t k_last,
                            bool descending) {
  __shared__ C v[kTile];
  __shared__ int64_t c[kTile];
  const int64_t tiles_per_row = padded / tile;
  const int64_t row = blockIdx.x / tiles_per_row;
  const int64_t start = (blockIdx.x - row * tiles_per_row) * tile;  // in the row
  const int64_t base = row * padded + start;                        // in the scratch
  for (int e = threadIdx.x; e < tile; e += blockDim.x) {
    const int64_t column = start + e;
    if (in != nullptr) {
      v[e] = column < cols ? Scalar<T>::load(in[row * cols + column]) : C(0);
      c[e] = column;
    } else {
      v[e] = values[base + e];
      c[e] = columns[base + e];
    }
  }
  __syncthreads();
  for (int64_t k = k_first; k <= k_last; k *= 2) {
    for (int j = static_cast<int>(k < tile ? k : tile) / 2; j > 0; j /= 2) {
      for (int q = threadIdx.x; q < tile / 2; q += blockDim.x) {
        const int a = (q / j) * 2 * j + q % j;
        order_pair(v, c, a, a + j, ((start + a) & k) == 0, cols, descending);
      }
      __syncthreads();
    }
  }
  for (int e = threadIdx.x; e < tile; e += blockDim.x) {
    if (order == nullptr) {
      values[base + e] = v[e];
      columns[base + e] = c[e];
    } else if (start + e < cols) {
      order[row * cols + start + e] = c[e];
    }
  }
}

// The stride-j step of stage k over every row of the scratch (j >= the tile): pair p of a row
// (p < padded / 2) is positions a and a + j, with a = p with a zero bit inserted at bit log2 j.
template <typename C>
__global__ void merge_pass_kernel(C* values, int64_t* columns, int64_t rows, int log2_padded,
                                  int64_t k, int log2_j, int64_t cols, bool descending) {
  const int64_t half_mask = (int64_t{1} << (log2_padded - 1)) - 1;
  const int64_t j = int64_t{1} << log2_j;
  HG_GRID_LOOP(q, rows << (log2_padded - 1)) {
    const int64_t row = q >> (log2_padded - 1), p = q & half_mask;
    const int64_t a = ((p >> log2_j) << (log2_j + 1)) | (p & (j - 1));
    const int64_t base = row << log2_padded;
    order_pair(values + base, columns + base, a, a + j, (a & k) == 0, cols, descending);
  }
}

}  // namespace

void argsort(const kernels::TensorView& in, const kernels::TensorView& out, bool descending) {
  const int64_t rows = in.sizes[0], cols = in.sizes[1];
  if (rows * cols == 0) return;
  int log2_padded = 0;
  while ((int64_t{1} << log2_padded) < cols) ++log2_padded;
  const int64_t padded = int64_t{1} << log2_padded;
  const int tile = static_cast<int>(std::min<int64_t>(padded, kTile));
  const int threads = std::clamp(tile / 2, 1, kTileThreads);
  const unsigned blocks = one_block_each(rows * (padded / tile), "argsort");
  dispatch_floating(in.dtype, "argsort", [&]<typename T>() {
    using C = typename Scalar<T>::Compute;
    const T* x = in.ptr<T>();
    int64_t* order = out.ptr<int64_t>();
    if (padded == tile) {  // one tile holds the row: sorted in shared memory alone
      tile_kernel<T, C><<<blocks, threads, 0, current_stream()>>>(
          x, nullptr, nullptr, order, cols, padded, tile, 2, tile, descending);
      HG_CUDA_LAUNCH_CHECK("argsort tile_kernel");
      return;
    }
    DeviceBuffer values(static_cast<size_t>(rows * padded) * sizeof(C));
    DeviceBuffer columns(static_cast<size_t>(rows * padded) * sizeof(int64_t));
    C* v = values.as<C>();
    int64_t* c = columns.as<int64_t>();
    tile_kernel<T, C><<<blocks, threads, 0, current_stream()>>>(x, v, c, nullptr, cols, padded,
                                                                tile, 2, tile, descending);
    HG_CUDA_LAUNCH_CHECK("argsort tile_kernel");
    int log2_tile = 0;
    while ((1 << log2_tile) < tile) ++log2_tile;
    for (int log2_k = log2_tile + 1; log2_k <= log2_padded; ++log2_k) {
      const int64_t k = int64_t{1} << log2_k;
      for (int log2_j = log2_k - 1; log2_j >= log2_tile; --log2_j) {
        merge_pass_kernel<C><<<grid_for(rows * padded / 2), kBlockSize, 0, current_stream()>>>(
            v, c, rows, log2_padded, k, log2_j, cols, descending);
        HG_CUDA_LAUNCH_CHECK("argsort merge_pass_kernel");
      }
      tile_kernel<T, C><<<blocks, threads, 0, current_stream()>>>(
          nullptr, v, c, k == padded ? order : nullptr, cols, padded, tile, k, k, descending);
      HG_CUDA_LAUNCH_CHECK("argsort tile_kernel");
    }
  });
}

}  // namespace hg::cuda
