#pragma once
// ScratchVector<T>: a std::vector for a CPU kernel's temporary buffers, with two differences.
// Its memory comes from the CPU allocator, whose cache hands large blocks back from call to call
// (through malloc, every block above glibc's mmap threshold is fresh pages the kernel faults in
// and zeroes, call after call: a fifth of a bf16 ResNet-9 step on the project's VM). And
// resize() leaves new elements uninitialised (default-initialised), since these buffers are
// written whole before they are read: resize(n, value) or assign(n, value) where zeros matter.
#include <cstddef>
#include <new>
#include <utility>
#include <vector>

#include "halfgrad/core/allocator.h"

namespace hg::kernels::cpu {

template <typename T>
struct ScratchAllocator {
  using value_type = T;

  ScratchAllocator() = default;
  template <typename U>
  ScratchAllocator(const ScratchAllocator<U>& /*other*/) noexcept {}  // NOLINT: rebinding

  T* allocate(std::size_t n) { return static_cast<T*>(cpu_allocator().allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept {
    cpu_allocator().deallocate_sized(p, n * sizeof(T));
  }
  template <typename U>
  void construct(U* p) noexcept {  // resize(n): default-initialised, not zeroed
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  friend bool operator==(const ScratchAllocator&, const ScratchAllocator&) { return true; }
};

template <typename T>
using ScratchVector = std::vector<T, ScratchAllocator<T>>;

}  // namespace hg::kernels::cpu
