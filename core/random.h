#pragma once
// The host random generator and the CPU fill routines.
//
// A Generator is a (seed, offset) pair over the Philox4x32-10 stream defined in core/philox.h:
// every fill reserves ceil(n / V) 4-word blocks (V values per block: 4 for float32, 2 for float64
// and int64) and draws value i from block offset + i / V alone. Results therefore depend only on
// (seed, offset, n, parameters), never on the number of OpenMP threads, and the CUDA kernels that
// call the same per-block functions from core/philox.h reproduce them bit for bit.
//
// Usage by a tensor factory:
//   const uint64_t offset = gen.reserve(random::blocks_for(n, random::kWordsPerFloat32));
//   random::fill_uniform(data, n, 0.f, 1.f, gen.seed(), offset);
// (read seed() before or after reserve(); only reserve() has to be atomic). Better still, take one
// snapshot: `auto [seed, offset] = gen.reserve_state(blocks)`.
//
// Thread safety: every member function of Generator locks the generator's mutex, so concurrent
// reserve() calls from several threads get disjoint block ranges and the offset never goes
// backwards. Which thread gets which range is up to the scheduler, so concurrent fills are
// individually valid but their order (and hence which numbers each one sees) is not reproducible.
#include <cstdint>
#include <mutex>

#include "halfgrad/core/philox.h"

namespace hg {

class Generator {
 public:
  static constexpr uint64_t kDefaultSeed = 0x853c49e6748fea9bULL;

  // The complete random state, for checkpoints: restoring it replays the same numbers.
  struct State {
    uint64_t seed = kDefaultSeed;
    uint64_t offset = 0;
    friend bool operator==(const State&, const State&) = default;
  };

  explicit Generator(uint64_t seed = kDefaultSeed);
  Generator(const Generator&) = delete;  // holds a mutex; copy the State instead
  Generator& operator=(const Generator&) = delete;

  // Sets the seed and restarts the stream at offset 0.
  void manual_seed(uint64_t seed);
  uint64_t seed() const;
  uint64_t offset() const;
  void set_offset(uint64_t offset);

  // Reserves `blocks` 4-word Philox blocks for one fill and returns the first one (the offset
  // before the call); the offset advances by `blocks`. Throws hg::Error if the offset would
  // wrap past 2^64 (the stream would repeat).
  uint64_t reserve(uint64_t blocks);
  // Same, returning the seed and the starting offset from one locked snapshot.
  State reserve_state(uint64_t blocks);

  State state() const;
  void set_state(State state);

 private:
  mutable std::mutex mutex_;
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// The process-wide default CPU generator ("the random state"), seeded with kDefaultSeed.
Generator& default_generator();
// Seeds the default generator (and restarts its stream).
void manual_seed(uint64_t seed);

namespace random {

// Raw-memory fills: value i of out[0, n) from block offset + i / V of seed's stream (see
// core/philox.h for the exact mapping). Parallel over blocks with OpenMP; bitwise independent of
// the thread count. n == 0 is a no-op (out may be null); errors throw hg::Error.
// Uniform in [low, high) (low == high gives low); needs low <= high and a finite high - low.
void fill_uniform(float* out, int64_t n, float low, float high, uint64_t seed, uint64_t offset);
void fill_uniform(double* out, int64_t n, double low, double high, uint64_t seed, uint64_t offset);
// Normal(mean, stddev^2) by Box-Muller; needs stddev >= 0.
void fill_normal(float* out, int64_t n, float mean, float stddev, uint64_t seed, uint64_t offset);
void fill_normal(double* out, int64_t n, double mean, double stddev, uint64_t seed,
                 uint64_t offset);
// Integers in [low, high), needs low < high: low + mulhi64(64 random bits, high - low) (Lemire's
// multiply-high without rejection; the bias is at most (high - low) / 2^64 per value).
void fill_randint(int64_t* out, int64_t n, int64_t low, int64_t high, uint64_t seed,
                  uint64_t offset);
// A random permutation of 0 .. n - 1 (Fisher-Yates: element i swaps with element r_i mod (i + 1),
// r = fill_randint over [0, 2^62) from the same seed and offset, so it takes the blocks of
// blocks_randint(n); the modulo bias is below n / 2^62). Serial: the swaps form one chain.
void fill_permutation(int64_t* out, int64_t n, uint64_t seed, uint64_t offset);

// Blocks that one fill of n values of each kind reserves: blocks_for(n, words_per_value) from
// core/philox.h with 1 word per float32 and 2 per float64 / int64.
inline uint64_t blocks_uniform_f32(int64_t n) { return blocks_for(n, kWordsPerFloat32); }
inline uint64_t blocks_uniform_f64(int64_t n) { return blocks_for(n, kWordsPerFloat64); }
inline uint64_t blocks_normal_f32(int64_t n) { return blocks_for(n, kWordsPerFloat32); }
inline uint64_t blocks_normal_f64(int64_t n) { return blocks_for(n, kWordsPerFloat64); }
inline uint64_t blocks_randint(int64_t n) { return blocks_for(n, kWordsPerInt64); }

}  // namespace random
}  // namespace hg
