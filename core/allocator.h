#pragma once
// Memory for tensor storage: one Allocator per device type, looked up in a small registry.
// The CPU allocator hands out 64-byte-aligned blocks (a cache line, and the widest vector load)
// and keeps large freed blocks for reuse (core/cpu_memory.h says why).
// The CUDA backend registers its caching allocator here when it is compiled in.
#include <cstddef>

#include "halfgrad/core/device.h"

namespace hg {

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(std::size_t nbytes) = 0;
  virtual void deallocate(void* ptr) noexcept = 0;
  // The same, told the size allocate() was asked for (Storage knows it), so an allocator can
  // decide without a lookup; the default ignores it.
  virtual void deallocate_sized(void* ptr, std::size_t /*nbytes*/) noexcept { deallocate(ptr); }
};

inline constexpr std::size_t kCpuAlignment = 64;

Allocator& cpu_allocator();
// The allocator registered for `type`; throws hg::Error when none is (e.g. CUDA not built in).
Allocator& allocator_for(DeviceType type);
void register_allocator(DeviceType type, Allocator* allocator);

}  // namespace hg
