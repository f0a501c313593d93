#pragma once
// Temporary device memory from the caching allocator for the life of a launcher. Returning it
// as soon as the kernels are queued is safe: the next owner of the block uses it on the same
// stream, after them (kernels/cuda/allocator.cpp).
#include <cstddef>

#include "halfgrad/core/allocator.h"

namespace hg::cuda {

class Scratch {
 public:
  explicit Scratch(std::size_t bytes) : ptr_(allocator_for(DeviceType::CUDA).allocate(bytes)) {}
  ~Scratch() { allocator_for(DeviceType::CUDA).deallocate(ptr_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  void* get() const { return ptr_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_;
};

}  // namespace hg::cuda
