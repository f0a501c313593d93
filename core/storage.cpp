#include "core/storage.h"

#include <cstdlib>
#include <new>

#include "core/allocator.h"
#include "core/error.h"

namespace hg {

namespace {

class CpuAllocator final : public Allocator {
 public:
  void* allocate(std::size_t nbytes) override {
    // aligned_alloc wants a size that is a multiple of the alignment; never ask for 0 bytes.
    const std::size_t rounded = (nbytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
    void* ptr = std::aligned_alloc(kCpuAlignment, rounded == 0 ? kCpuAlignment : rounded);
    HG_CHECK(ptr != nullptr, "cpu allocator: out of memory allocating ", nbytes, " bytes");
    return ptr;
  }
  void deallocate(void* ptr) noexcept override { std::free(ptr); }
};

Allocator*& registry_slot(DeviceType type) {
  static Allocator* registry[kNumDeviceTypes] = {&cpu_allocator(), nullptr};
  return registry[static_cast<int>(type)];
}

}  // namespace

Allocator& cpu_allocator() {
  // Never destroyed: tensors held by other static objects may be freed after this function's
  // statics would have been, at exit.
  static CpuAllocator* allocator = new CpuAllocator;
  return *allocator;
}

Allocator& allocator_for(DeviceType type) {
  Allocator* allocator = registry_slot(type);
  HG_CHECK(allocator != nullptr, "allocator: no allocator for device ", Device(type).str(),
           " (halfgrad was built without CUDA, or no GPU is present)");
  return *allocator;
}

void register_allocator(DeviceType type, Allocator* allocator) { registry_slot(type) = allocator; }

Storage::Storage(std::size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  data_ = allocator_for(device.type).allocate(nbytes);
}

Storage::~Storage() {
  if (data_ != nullptr) allocator_for(device_.type).deallocate(data_);
}

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index);
}

}  // namespace hg
