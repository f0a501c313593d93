#include "halfgrad/core/random.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "halfgrad/core/error.h"
#include "halfgrad/core/random_checks.h"

namespace hg {

// ---- Generator -------------------------------------------------------------------------------
Generator::Generator(uint64_t seed) : seed_(seed) {}

void Generator::manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(mutex_);
  seed_ = seed;
  offset_ = 0;
}

uint64_t Generator::seed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return seed_;
}

uint64_t Generator::offset() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return offset_;
}

void Generator::set_offset(uint64_t offset) {
  std::lock_guard<std::mutex> lock(mutex_);
  offset_ = offset;
}

Generator::State Generator::reserve_state(uint64_t blocks) {
  std::lock_guard<std::mutex> lock(mutex_);
  HG_CHECK(blocks <= std::numeric_limits<uint64_t>::max() - offset_, "Generator::reserve: ", blocks,
           " blocks at offset ", offset_, " would wrap the 2^64-block stream");
  const State start{seed_, offset_};
  offset_ += blocks;
  return start;
}

uint64_t Generator::reserve(uint64_t blocks) { return reserve_state(blocks).offset; }

Generator::State Generator::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return State{seed_, offset_};
}

void Generator::set_state(State state) {
  std::lock_guard<std::mutex> lock(mutex_);
  seed_ = state.seed;
  offset_ = state.offset;
}

Generator& default_generator() {
  static Generator generator;
  return generator;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

// ---- fills -----------------------------------------------------------------------------------
namespace random {
namespace {

// Below this many blocks a fill runs on the calling thread (thread start-up would dominate).
constexpr int64_t kParallelMinBlocks = 1 << 14;

// Runs block(offset + b, values) for every block b of the fill and copies its first
// min(V, n - b V) values to out[b V ...] (V = 4 / W values per block). Each block is
// independent, so any split of the loop gives the same bits.
template <int64_t W, typename T, typename BlockFn>
void fill_blocks(T* out, int64_t n, uint64_t offset, BlockFn block) {
  constexpr int64_t V = 4 / W;
  const int64_t num_blocks = static_cast<int64_t>(blocks_for(n, W));
#pragma omp parallel for schedule(static) if (num_blocks >= kParallelMinBlocks)
  for (int64_t b = 0; b < num_blocks; ++b) {
    T values[V];
    block(offset + static_cast<uint64_t>(b), values);
    const int64_t base = b * V;
    const int64_t count = std::min<int64_t>(V, n - base);
    for (int64_t j = 0; j < count; ++j) out[base + j] = values[j];
  }
}

void check_out(const void* out, int64_t n, const char* fn) {
  HG_CHECK(n >= 0, fn, ": n must be >= 0, got ", n);
  HG_CHECK(n == 0 || out != nullptr, fn, ": null output pointer for ", n, " values");
}

}  // namespace

void fill_uniform(float* out, int64_t n, float low, float high, uint64_t seed, uint64_t offset) {
  check_out(out, n, "fill_uniform");
  ::hg::detail::check_uniform_range(low, high, "fill_uniform");
  fill_blocks<kWordsPerFloat32>(out, n, offset, [=](uint64_t block, float* values) {
    uniform_block(seed, block, low, high, values);
  });
}

void fill_uniform(double* out, int64_t n, double low, double high, uint64_t seed, uint64_t offset) {
  check_out(out, n, "fill_uniform");
  ::hg::detail::check_uniform_range(low, high, "fill_uniform");
  fill_blocks<kWordsPerFloat64>(out, n, offset, [=](uint64_t block, double* values) {
    uniform_block(seed, block, low, high, values);
  });
}

void fill_normal(float* out, int64_t n, float mean, float stddev, uint64_t seed, uint64_t offset) {
  check_out(out, n, "fill_normal");
  ::hg::detail::check_normal_params(mean, stddev, "fill_normal");
  fill_blocks<kWordsPerFloat32>(out, n, offset, [=](uint64_t block, float* values) {
    normal_block(seed, block, mean, stddev, values);
  });
}

void fill_normal(double* out, int64_t n, double mean, double stddev, uint64_t seed,
                 uint64_t offset) {
  check_out(out, n, "fill_normal");
  ::hg::detail::check_normal_params(mean, stddev, "fill_normal");
  fill_blocks<kWordsPerFloat64>(out, n, offset, [=](uint64_t block, double* values) {
    normal_block(seed, block, mean, stddev, values);
  });
}

void fill_randint(int64_t* out, int64_t n, int64_t low, int64_t high, uint64_t seed,
                  uint64_t offset) {
  check_out(out, n, "fill_randint");
  HG_CHECK(low < high, "fill_randint: expected low < high, got low=", low, " high=", high);
  const uint64_t span = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  fill_blocks<kWordsPerInt64>(out, n, offset, [=](uint64_t block, int64_t* values) {
    randint_block(seed, block, low, span, values);
  });
}

void fill_permutation(int64_t* out, int64_t n, uint64_t seed, uint64_t offset) {
  check_out(out, n, "fill_permutation");
  for (int64_t i = 0; i < n; ++i) out[i] = i;
  if (n < 2) return;
  std::vector<int64_t> r(static_cast<size_t>(n));
  fill_randint(r.data(), n, 0, int64_t{1} << 62, seed, offset);
  for (int64_t i = n - 1; i > 0; --i) std::swap(out[i], out[r[static_cast<size_t>(i)] % (i + 1)]);
}

}  // namespace random
}  // namespace hg
