#pragma once
// The CPU allocator's cache of large blocks, and its statistics.
//
// Why a cache: glibc serves blocks above its mmap threshold (32 MiB at most) with mmap and
// returns them with munmap, so every large activation of a training step costs fresh pages the
// kernel must fault in and zero. ResNet-9 at batch 512 allocates and frees dozens of 30-130 MB
// tensors per step; on the project's machine that was 40% of the step in the kernel. Smaller
// blocks fare no better: glibc's heap returns its free top to the system past a trim threshold,
// so the 0.1-1 MiB activations of a small transformer were fresh pages again every step (4000
// page faults a step, a quarter of its time, before the cache started at 64 KiB instead of
// 1 MiB). Blocks of at least kCachedMinBytes are rounded up to a size class (8 classes per power
// of two, so at most 12.5% extra) and kept for reuse when freed; smaller blocks go straight to
// malloc.
//
// The cache holds at most cache_limit() bytes of unused blocks (default 4 GiB; the environment
// variable HG_CPU_CACHE_LIMIT_MB overrides it at start; a value that is not a whole number of MiB
// is a warning and the default); a block freed past the limit goes back
// to the system. A training loop reuses the same sizes every step, so its cache settles at
// about the step's peak. Blocks of 2 MiB and more are 2 MiB-aligned and ask the kernel for
// transparent huge pages. Under AddressSanitizer cached blocks are poisoned, so a use after
// free is still reported.
#include <cstddef>
#include <cstdint>

namespace hg::cpu {

inline constexpr std::size_t kCachedMinBytes = std::size_t{1} << 16;  // 64 KiB

struct MemoryStats {
  std::size_t allocated = 0;       // bytes in blocks handed out now: tensors, and the CPU
                                   // kernels' scratch (kernels/cpu/scratch_vector.h); size classes
  std::size_t cached = 0;          // bytes in unused blocks kept for reuse
  std::size_t peak_allocated = 0;  // max of `allocated` since start or reset_peak_memory_stats()
  uint64_t allocations = 0;        // allocations of at least kCachedMinBytes
  uint64_t cache_hits = 0;         // ...served from the cache
};
MemoryStats memory_stats();
void reset_peak_memory_stats();
// Returns every cached block to the system. Blocks held by tensors stay.
void empty_cache();
void set_cache_limit(std::size_t bytes);
std::size_t cache_limit();
// The size class a request of `nbytes` is rounded up to (nbytes itself below kCachedMinBytes).
std::size_t allocation_size_class(std::size_t nbytes);

}  // namespace hg::cpu
