// The CUDA emulator itself (tests/cuda_emu/emu.cpp, emu_prelude.h, include/mma.h): thread
// coordinates, barriers, shuffles, the order of threads between barriers, and what it reports
// (deadlocks, errors inside a kernel, bad launches). Kernels are written here as functions and
// launched the way rewrite_launches.pl launches kernels/cuda's.
#include <doctest/doctest.h>

#include <mma.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "emu.h"
#include "halfgrad/core/error.h"

namespace {

using hg_emu::LaunchConfig;

void coordinates_kernel(int* seen) {
  const unsigned block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
  const unsigned thread = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
  seen[block * blockDim.x * blockDim.y * blockDim.z + thread] += 1;
}

// Each block of 64 sums its 64 inputs by a tree in shared memory.
template <bool Barriers>
void block_sum_kernel(const int* in, int* out) {
  __shared__ int partial[64];
  const unsigned t = threadIdx.x;
  partial[t] = in[blockIdx.x * 64 + t];
  if constexpr (Barriers) __syncthreads();
  for (unsigned s = 32; s > 0; s /= 2) {
    if (t < s) partial[t] += partial[t + s];
    if constexpr (Barriers) __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = partial[0];
}

std::vector<int> block_sums(bool barriers, hg_emu::ThreadOrder order) {
  std::vector<int> in(4 * 64), out(4, -1);
  std::iota(in.begin(), in.end(), 1);
  hg_emu::set_thread_order(order);
  const LaunchConfig config{dim3(4), dim3(64)};
  if (barriers)
    hg_emu::launch(
        config, [](auto... a) { block_sum_kernel<true>(a...); }, in.data(), out.data());
  else
    hg_emu::launch(
        config, [](auto... a) { block_sum_kernel<false>(a...); }, in.data(), out.data());
  hg_emu::set_thread_order(hg_emu::ThreadOrder::Alternate);
  return out;
}

// Block 0 writes a value that the other blocks copy: wrong on a GPU, where nothing orders blocks.
void first_block_writes_kernel(int* shared_value, int* copies) {
  if (blockIdx.x == 0 && threadIdx.x == 0) *shared_value = 7;
  if (blockIdx.x > 0 && threadIdx.x == 0) copies[blockIdx.x] = *shared_value;
}

std::vector<int> block_order_run(bool reversed, std::vector<unsigned>* order) {
  int value = 0;
  std::vector<int> copies(6, 0);
  hg_emu::set_block_order_reversed(reversed);
  hg_emu::launch(
      LaunchConfig{dim3(6), dim3(2)}, [](auto... a) { first_block_writes_kernel(a...); }, &value,
      copies.data());
  static std::vector<unsigned>* seen;
  seen = order;
  hg_emu::launch(LaunchConfig{dim3(3, 2), dim3(1)},
                 [] { seen->push_back(blockIdx.y * gridDim.x + blockIdx.x); });
  hg_emu::set_block_order_reversed(false);
  return copies;
}

// What a block reads from shared memory before writing it, then a write for the next block to
// (not) see. rewrite_launches.pl adds the fresh_shared call to kernels/cuda's declarations.
void shared_before_write_kernel(unsigned* seen) {
  __shared__ unsigned word;
  ::hg_emu::fresh_shared(&word, sizeof(word));
  if (threadIdx.x == 0) seen[blockIdx.x] = word;
  __syncthreads();
  if (threadIdx.x == 1) word = 42;
  __syncthreads();
  if (threadIdx.x == 0) seen[blockIdx.x + gridDim.x] = word;  // within the block: kept
}

void vote_and_shuffle_kernel(const int* flags, int* any, int* warp_sums) {
  const int voted = __syncthreads_or(flags[threadIdx.x]);
  int v = static_cast<int>(threadIdx.x);
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  any[threadIdx.x] = voted;
  warp_sums[threadIdx.x] = v;
}

void early_return_kernel(int* out) {
  if (threadIdx.x % 3 == 0) return;  // a third of the block leaves before the barrier
  __shared__ int values[96];
  values[threadIdx.x] = 1;
  __syncthreads();
  out[threadIdx.x] = values[(threadIdx.x + 1) % 96];
}

void divergent_barrier_kernel() {
  if (threadIdx.x < 16)
    __syncthreads();  // the other half never arrives, and never returns
  else
    for (;;) __syncwarp();
}

void misaligned_wmma_kernel(const __half* tile) {
  nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 16, __half, nvcuda::wmma::row_major> a;
  nvcuda::wmma::load_matrix_sync(a, tile + 1, 16);  // 2 bytes past a 256-bit boundary
}

// Each lane loads the tile at its own row: lanes of one warp holding different fragments.
void lane_dependent_wmma_kernel(const __half* tiles, float* out) {
  namespace wmma = nvcuda::wmma;
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> b;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> c;
  wmma::load_matrix_sync(a, tiles + (threadIdx.x % 2) * 256, 16);
  wmma::load_matrix_sync(b, tiles, 16);
  wmma::fill_fragment(c, 0.0f);
  wmma::mma_sync(c, a, b, c);
  wmma::store_matrix_sync(out, c, 16, wmma::mem_row_major);
}

}  // namespace

TEST_CASE("every thread of a 3-D grid of 3-D blocks runs once, with its own coordinates") {
  std::vector<int> seen(2 * 3 * 2 * (4 * 2 * 3), 0);
  hg_emu::launch(
      LaunchConfig{dim3(2, 3, 2), dim3(4, 2, 3)}, [](auto... a) { coordinates_kernel(a...); },
      seen.data());
  CHECK(std::count(seen.begin(), seen.end(), 1) == static_cast<long>(seen.size()));
}

TEST_CASE("a shared-memory reduction is right with its barriers and wrong without them") {
  const std::vector<int> expected = {2080, 6176, 10272, 14368};  // sums of 64 consecutive
  for (const auto order :
       {hg_emu::ThreadOrder::Forward, hg_emu::ThreadOrder::Reverse, hg_emu::ThreadOrder::Alternate})
    CHECK(block_sums(true, order) == expected);
  // Without them the forward order reads partial sums not yet written (the reverse order
  // happens to follow this tree's dependencies); the default alternation has forward blocks.
  CHECK(block_sums(false, hg_emu::ThreadOrder::Forward) != expected);
  CHECK(block_sums(false, hg_emu::ThreadOrder::Alternate) != expected);
}

TEST_CASE("blocks run last to first when reversed, which a kernel ordering blocks notices") {
  std::vector<unsigned> forward, backward;
  // forward, block 0 happens to run first and the bug hides; reversed, every copy misses it
  CHECK(block_order_run(false, &forward) == std::vector<int>{0, 7, 7, 7, 7, 7});
  CHECK(forward == std::vector<unsigned>{0, 1, 2, 3, 4, 5});
  CHECK(block_order_run(true, &backward) == std::vector<int>{0, 0, 0, 0, 0, 0});
  CHECK(backward == std::vector<unsigned>{5, 4, 3, 2, 1, 0});
}

TEST_CASE("each block finds its shared memory fresh (0xff bytes), not the last block's") {
  std::vector<unsigned> seen(6, 0);
  hg_emu::launch(
      LaunchConfig{dim3(3), dim3(2)}, [](auto... a) { shared_before_write_kernel(a...); },
      seen.data());
  CHECK(seen == std::vector<unsigned>{0xffffffffu, 0xffffffffu, 0xffffffffu, 42, 42, 42});
}

TEST_CASE("__syncthreads_or votes across the block, a butterfly shuffle sums each warp") {
  std::vector<int> flags(64, 0), any(64, -1), sums(64, -1);
  flags[45] = 1;
  hg_emu::launch(
      LaunchConfig{dim3(1), dim3(64)}, [](auto... a) { vote_and_shuffle_kernel(a...); },
      flags.data(), any.data(), sums.data());
  for (int t = 0; t < 64; ++t) {
    CHECK(any[t] == 1);
    CHECK(sums[t] == (t < 32 ? 496 : 1520));  // 0 + ... + 31, 32 + ... + 63
  }
}

TEST_CASE("threads that return early do not hold up a barrier") {
  std::vector<int> out(96, -1);
  hg_emu::launch(
      LaunchConfig{dim3(1), dim3(96)}, [](auto... a) { early_return_kernel(a...); }, out.data());
  for (int t = 0; t < 96; ++t) CHECK(out[t] == (t % 3 == 0 ? -1 : ((t + 1) % 3 == 0 ? 0 : 1)));
}

TEST_CASE("the emulator reports a deadlock, errors inside a kernel and a bad launch") {
  CHECK_THROWS_WITH_AS(hg_emu::launch(LaunchConfig{dim3(1), dim3(32)},
                                      [](auto... a) { divergent_barrier_kernel(a...); }),
                       doctest::Contains("deadlock"), std::logic_error);
  alignas(32) __half tile[17 * 16] = {};
  CHECK_THROWS_WITH_AS(
      hg_emu::launch(
          LaunchConfig{dim3(2), dim3(32)}, [](auto... a) { misaligned_wmma_kernel(a...); }, tile),
      doctest::Contains("256-bit aligned"), std::logic_error);
  alignas(32) __half tiles[2 * 256];
  for (int i = 0; i < 512; ++i) tiles[i] = __float2half_rn(static_cast<float>(i % 7));
  alignas(32) float out[256];
  CHECK_THROWS_WITH_AS(hg_emu::launch(
                           LaunchConfig{dim3(1), dim3(32)},
                           [](auto... a) { lane_dependent_wmma_kernel(a...); }, tiles, out),
                       doctest::Contains("holds other operands"), std::logic_error);
  CHECK_THROWS_AS(
      hg_emu::launch(
          LaunchConfig{dim3(1), dim3(2048)}, [](auto... a) { coordinates_kernel(a...); }, nullptr),
      hg::Error);
  // and it runs the next launch normally
  std::vector<int> seen(64, 0);
  hg_emu::launch(
      LaunchConfig{dim3(2), dim3(32)}, [](auto... a) { coordinates_kernel(a...); }, seen.data());
  CHECK(std::count(seen.begin(), seen.end(), 1) == 64);
}
