// kernels/cpu/scratch_vector.h: the CPU kernels' scratch buffers come from the CPU allocator
// (so its cache hands a large block back to the next call) and resize() does not zero them.
#include <doctest/doctest.h>

#include <cstddef>

#include "halfgrad/core/cpu_memory.h"
#include "halfgrad/kernels/cpu/scratch_vector.h"

namespace {

using hg::kernels::cpu::ScratchVector;
constexpr std::size_t kFloats = std::size_t{3} << 20;  // 12 MiB: a cached size

}  // namespace

TEST_CASE("ScratchVector: large buffers come from the CPU allocator and its cache") {
  namespace cpu = hg::cpu;
  const std::size_t limit = cpu::cache_limit();
  cpu::set_cache_limit(std::size_t{1} << 30);
  cpu::empty_cache();
  const cpu::MemoryStats before = cpu::memory_stats();
  const float* first = nullptr;
  {
    ScratchVector<float> v;
    v.resize(kFloats);
    first = v.data();
    CHECK(cpu::memory_stats().allocated >= before.allocated + kFloats * sizeof(float));
  }
  CHECK(cpu::memory_stats().allocated == before.allocated);
  {
    ScratchVector<float> v(kFloats);  // the next call's buffer: the block just freed
    CHECK(v.data() == first);
    CHECK(cpu::memory_stats().cache_hits == before.cache_hits + 1);
  }
  cpu::empty_cache();
  cpu::set_cache_limit(limit);
}

TEST_CASE("ScratchVector: resize keeps what was written, assign and a value fill") {
  ScratchVector<int> v;
  v.assign(1000, 0);
  for (int x : v) CHECK(x == 0);
  for (int i = 0; i < 1000; ++i) v[static_cast<std::size_t>(i)] = i;
  v.resize(5000);  // (the new elements are left as they are: nothing to check)
  for (int i = 0; i < 1000; ++i) CHECK(v[static_cast<std::size_t>(i)] == i);
  v.resize(3000, 7);  // shrinking with a value changes nothing kept
  CHECK(v.size() == 3000);
  const ScratchVector<double> filled(300, 2.5);
  for (double x : filled) CHECK(x == 2.5);
}
