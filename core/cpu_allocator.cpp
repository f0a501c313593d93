// The CPU allocator: 64-byte-aligned blocks from the C library, with a cache of large freed
// blocks (core/cpu_memory.h says why and how much).
#include <sys/mman.h>

#include <bit>
#include <cstdlib>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "halfgrad/core/allocator.h"
#include "halfgrad/core/cpu_memory.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/warning.h"

#if defined(__SANITIZE_ADDRESS__)
#define HG_CPU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HG_CPU_ASAN 1
#endif
#endif
#ifdef HG_CPU_ASAN
#include <sanitizer/asan_interface.h>
#define HG_POISON(ptr, n) ASAN_POISON_MEMORY_REGION(ptr, n)
#define HG_UNPOISON(ptr, n) ASAN_UNPOISON_MEMORY_REGION(ptr, n)
#else
#define HG_POISON(ptr, n) ((void)(ptr), (void)(n))
#define HG_UNPOISON(ptr, n) ((void)(ptr), (void)(n))
#endif

namespace hg {

namespace {

constexpr std::size_t kDefaultCacheLimit = std::size_t{4} << 30;

void* system_allocate(std::size_t nbytes) {
  // aligned_alloc wants a size that is a multiple of the alignment; never ask for 0 bytes.
  const std::size_t rounded = (nbytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
  void* ptr = std::aligned_alloc(kCpuAlignment, rounded == 0 ? kCpuAlignment : rounded);
  HG_CHECK(ptr != nullptr, "cpu allocator: out of memory allocating ", nbytes, " bytes");
  return ptr;
}

// Large blocks start on a 2 MiB boundary and ask for transparent huge pages (where the kernel
// gives them only on request, as Debian's default "madvise" mode does): one TLB entry and one
// page fault per 2 MiB instead of 512 of each.
constexpr std::size_t kHugePage = std::size_t{2} << 20;
void* large_system_allocate(std::size_t size) {
  if (size < kHugePage) return system_allocate(size);
  void* ptr = std::aligned_alloc(kHugePage, (size + kHugePage - 1) / kHugePage * kHugePage);
  HG_CHECK(ptr != nullptr, "cpu allocator: out of memory allocating ", size, " bytes");
  ::madvise(ptr, size, MADV_HUGEPAGE);  // advice only: failure changes nothing
  return ptr;
}

// A bad value is a warning and the default, not an error: it is read at the first large
// allocation, which may happen during a program's static initialisation.
std::size_t limit_from_environment() {
  const char* mb = std::getenv("HG_CPU_CACHE_LIMIT_MB");
  if (mb == nullptr || *mb == '\0') return kDefaultCacheLimit;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(mb, &end, 10);
  // strtoull would take "-1" as 2^64 - 1: only digits, and no more than 2^40 MiB.
  if (*mb >= '0' && *mb <= '9' && end != nullptr && *end == '\0' && value <= (1ull << 40))
    return static_cast<std::size_t>(value) << 20;
  warn("cpu allocator: HG_CPU_CACHE_LIMIT_MB must be a whole number of MiB, got \"" +
       std::string(mb) + "\"; using the default of " + std::to_string(kDefaultCacheLimit >> 20) +
       " MiB");
  return kDefaultCacheLimit;
}

class CachingCpuAllocator final : public Allocator {
 public:
  void* allocate(std::size_t nbytes) override {
    if (nbytes < cpu::kCachedMinBytes) return system_allocate(nbytes);
    const std::size_t size = cpu::allocation_size_class(nbytes);
    void* ptr = nullptr;
    {
      std::lock_guard lock(mutex_);
      ++stats_.allocations;
      ptr = take_cached(size);
    }
    // A miss asks the system outside the lock (it may have to map fresh pages).
    if (ptr == nullptr) ptr = large_system_allocate(size);
    std::lock_guard lock(mutex_);
    in_use_[ptr] = size;
    stats_.allocated += size;
    stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
    return ptr;
  }

  void deallocate(void* ptr) noexcept override { release(ptr); }
  void deallocate_sized(void* ptr, std::size_t nbytes) noexcept override {
    if (nbytes < cpu::kCachedMinBytes) {
      std::free(ptr);
      return;
    }
    release(ptr);
  }

  cpu::MemoryStats stats() {
    std::lock_guard lock(mutex_);
    return stats_;
  }
  void reset_peak() {
    std::lock_guard lock(mutex_);
    stats_.peak_allocated = stats_.allocated;
  }
  void empty_cache() {
    std::lock_guard lock(mutex_);
    for (auto& [size, blocks] : cached_) {
      for (void* block : blocks) free_to_system(block, size);
    }
    cached_.clear();
    stats_.cached = 0;
  }
  void set_limit(std::size_t bytes) {
    std::lock_guard lock(mutex_);
    limit_ = bytes;
  }
  std::size_t limit() {
    std::lock_guard lock(mutex_);
    return limit_;
  }

 private:
  // Called with the lock held.
  void* take_cached(std::size_t size) {
    auto found = cached_.find(size);
    if (found == cached_.end() || found->second.empty()) return nullptr;
    void* ptr = found->second.back();
    found->second.pop_back();
    stats_.cached -= size;
    ++stats_.cache_hits;
    HG_UNPOISON(ptr, size);
    return ptr;
  }

  static void free_to_system(void* ptr, std::size_t size) noexcept {
    HG_UNPOISON(ptr, size);
    std::free(ptr);
  }

  void release(void* ptr) noexcept {
    std::lock_guard lock(mutex_);
    auto found = in_use_.find(ptr);
    if (found == in_use_.end()) {  // a small block (unsized deallocate)
      std::free(ptr);
      return;
    }
    const std::size_t size = found->second;
    in_use_.erase(found);
    stats_.allocated -= size;
    if (stats_.cached + size > limit_) {
      std::free(ptr);
      return;
    }
    try {
      cached_[size].push_back(ptr);
    } catch (...) {  // no memory for the list entry: give the block back instead
      std::free(ptr);
      return;
    }
    stats_.cached += size;
    HG_POISON(ptr, size);
  }

  std::mutex mutex_;
  std::unordered_map<void*, std::size_t> in_use_;  // large blocks handed out, by address
  std::unordered_map<std::size_t, std::vector<void*>> cached_;  // free large blocks, by class
  cpu::MemoryStats stats_;
  std::size_t limit_ = limit_from_environment();
};

CachingCpuAllocator& caching_cpu_allocator() {
  // Never destroyed: tensors held by other static objects may be freed after this function's
  // statics would have been, at exit.
  static CachingCpuAllocator* allocator = new CachingCpuAllocator;
  return *allocator;
}

}  // namespace

Allocator& cpu_allocator() { return caching_cpu_allocator(); }

namespace cpu {

MemoryStats memory_stats() { return caching_cpu_allocator().stats(); }
void reset_peak_memory_stats() { caching_cpu_allocator().reset_peak(); }
void empty_cache() { caching_cpu_allocator().empty_cache(); }
void set_cache_limit(std::size_t bytes) { caching_cpu_allocator().set_limit(bytes); }
std::size_t cache_limit() { return caching_cpu_allocator().limit(); }

std::size_t allocation_size_class(std::size_t nbytes) {
  if (nbytes < kCachedMinBytes) return nbytes;
  // 8 classes per power of two: steps of 2^(floor(log2 n) - 3) bytes, <= 12.5% rounding.
  const int log2 = std::bit_width(nbytes) - 1;
  const std::size_t step = std::size_t{1} << (log2 - 3);
  return (nbytes + step - 1) / step * step;
}

}  // namespace cpu

}  // namespace hg
