#pragma once
// Storage: a reference-counted block of bytes on one device, shared by a tensor and its views.
// It also carries the version counter, so every view of the same data sees in-place changes
// (autograd uses it to detect a saved tensor that was modified).
#include <cstddef>
#include <cstdint>
#include <memory>

#include "halfgrad/core/device.h"

namespace hg {

class Storage {
 public:
  Storage(std::size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }
  // Unique for the life of the process (a new storage may reuse a freed one's address, so
  // caches keyed on a tensor's data use this with the version, not the pointer).
  uint64_t id() const { return id_; }

 private:
  void* data_ = nullptr;
  std::size_t nbytes_ = 0;
  Device device_;
  uint64_t version_ = 0;
  uint64_t id_ = 0;
};

}  // namespace hg
