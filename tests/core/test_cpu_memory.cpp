// The CPU allocator's cache of large blocks (core/cpu_memory.h): size classes, reuse, the limit,
// empty_cache, and that reused memory behaves like fresh memory for tensors.
#include <doctest/doctest.h>

#include <cstdint>

#include "halfgrad/core/cpu_memory.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/core/tensor.h"

namespace {

namespace cpu = hg::cpu;
constexpr std::size_t kMiB = std::size_t{1} << 20;

// A float32 tensor of at least `bytes` bytes.
hg::Tensor tensor_of_bytes(std::size_t bytes) {
  return hg::empty({static_cast<int64_t>(bytes / sizeof(float))}, hg::TensorOptions(hg::kFloat32));
}

}  // namespace

TEST_CASE("cpu allocator: size classes are 8 per power of two from 64 KiB") {
  constexpr std::size_t kKiB = 1024;
  CHECK(cpu::kCachedMinBytes == 64 * kKiB);
  CHECK(cpu::allocation_size_class(1000) == 1000);
  CHECK(cpu::allocation_size_class(64 * kKiB - 1) == 64 * kKiB - 1);
  CHECK(cpu::allocation_size_class(64 * kKiB) == 64 * kKiB);
  CHECK(cpu::allocation_size_class(64 * kKiB + 1) == 72 * kKiB);
  CHECK(cpu::allocation_size_class(kMiB) == kMiB);
  CHECK(cpu::allocation_size_class(kMiB + 1) == kMiB + kMiB / 8);
  CHECK(cpu::allocation_size_class(3 * kMiB) == 3 * kMiB);
  CHECK(cpu::allocation_size_class(100'000'000) == 100'663'296);  // 96 MiB: 64 + 4 x 8 MiB
  for (std::size_t n = 64 * kKiB; n < 1024 * kMiB; n = n * 5 / 3 + 12345) {
    const std::size_t c = cpu::allocation_size_class(n);
    CHECK(c >= n);
    CHECK(c - n <= n / 8);
    CHECK(c % 64 == 0);
  }
}

TEST_CASE("cpu allocator: a freed large block is reused for the same size class") {
  const std::size_t limit = cpu::cache_limit();
  cpu::set_cache_limit(std::size_t{1} << 30);
  cpu::empty_cache();
  const void* first = nullptr;
  {
    hg::Tensor t = tensor_of_bytes(5 * kMiB);
    first = t.data_ptr();
  }
  const cpu::MemoryStats before = cpu::memory_stats();
  CHECK(before.cached >= 5 * kMiB);
  {
    hg::Tensor t = tensor_of_bytes(5 * kMiB - 4096);  // the same class
    CHECK(t.data_ptr() == first);
    CHECK(cpu::memory_stats().cache_hits == before.cache_hits + 1);
    CHECK(cpu::memory_stats().allocated >= 5 * kMiB);
  }
  cpu::empty_cache();
  CHECK(cpu::memory_stats().cached == 0);
  cpu::set_cache_limit(limit);
}

TEST_CASE("cpu allocator: a reused block holds whatever the op writes, like a fresh one") {
  cpu::empty_cache();
  { hg::Tensor junk = hg::full({1 << 20}, 7.0f, hg::TensorOptions(hg::kFloat32)); }
  const hg::Tensor z = hg::zeros({1 << 20}, hg::TensorOptions(hg::kFloat32));
  CHECK(z.sum().item<double>() == 0.0);
  CHECK(z.max().item<double>() == 0.0);
}

TEST_CASE("cpu allocator: blocks of 2 MiB and more start on a 2 MiB boundary (huge pages)") {
  for (std::size_t bytes : {2 * kMiB, 3 * kMiB + 4096, 40 * kMiB}) {
    const hg::Tensor t = tensor_of_bytes(bytes);
    CHECK(reinterpret_cast<std::uintptr_t>(t.data_ptr()) % (2 * kMiB) == 0);
  }
  const hg::Tensor small = tensor_of_bytes(kMiB + 4096);  // cached, not huge-page aligned
  CHECK(reinterpret_cast<std::uintptr_t>(small.data_ptr()) % 64 == 0);
}

TEST_CASE("cpu allocator: with a zero limit nothing is cached") {
  const std::size_t limit = cpu::cache_limit();
  cpu::empty_cache();
  cpu::set_cache_limit(0);
  { hg::Tensor t = tensor_of_bytes(3 * kMiB); }
  CHECK(cpu::memory_stats().cached == 0);
  cpu::set_cache_limit(limit);
}

TEST_CASE("cpu allocator: peak statistics follow the large blocks in use") {
  cpu::empty_cache();
  cpu::reset_peak_memory_stats();
  const std::size_t base = cpu::memory_stats().allocated;
  {
    hg::Tensor a = tensor_of_bytes(2 * kMiB), b = tensor_of_bytes(4 * kMiB);
    CHECK(cpu::memory_stats().allocated == base + 6 * kMiB);
  }
  CHECK(cpu::memory_stats().allocated == base);
  CHECK(cpu::memory_stats().peak_allocated == base + 6 * kMiB);
  // Small blocks are not counted (they go straight to malloc).
  { hg::Tensor small = tensor_of_bytes(4096); }
  CHECK(cpu::memory_stats().allocated == base);
}
