#include "halfgrad/core/storage.h"

#include <atomic>

#include "halfgrad/core/allocator.h"
#include "halfgrad/core/error.h"

namespace hg {

namespace {

Allocator*& registry_slot(DeviceType type) {
  static Allocator* registry[kNumDeviceTypes] = {&cpu_allocator(), nullptr};
  return registry[static_cast<int>(type)];
}

}  // namespace

Allocator& allocator_for(DeviceType type) {
  Allocator* allocator = registry_slot(type);
  HG_CHECK(allocator != nullptr, "allocator: no allocator for device ", Device(type).str(),
           " (halfgrad was built without CUDA, or no GPU is present)");
  return *allocator;
}

void register_allocator(DeviceType type, Allocator* allocator) { registry_slot(type) = allocator; }

namespace {
std::atomic<uint64_t> next_storage_id{1};
}  // namespace

Storage::Storage(std::size_t nbytes, Device device)
    : nbytes_(nbytes), device_(device), id_(next_storage_id.fetch_add(1)) {
  data_ = allocator_for(device.type).allocate(nbytes);
}

Storage::~Storage() {
  if (data_ != nullptr) allocator_for(device_.type).deallocate_sized(data_, nbytes_);
}

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index);
}

}  // namespace hg
