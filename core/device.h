#pragma once
// Where a tensor lives: the CPU or a CUDA device.
#include <cstdint>
#include <ostream>
#include <string>

namespace hg {

enum class DeviceType : uint8_t { CPU = 0, CUDA = 1 };
inline constexpr int kNumDeviceTypes = 2;

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  constexpr Device() = default;
  constexpr Device(DeviceType t, int i = 0) : type(t), index(i) {}  // NOLINT: implicit
  constexpr bool is_cpu() const { return type == DeviceType::CPU; }
  constexpr bool is_cuda() const { return type == DeviceType::CUDA; }
  friend constexpr bool operator==(Device a, Device b) {
    return a.type == b.type && a.index == b.index;
  }
  std::string str() const;  // "cpu", "cuda:0"
};

inline constexpr Device kCPU{DeviceType::CPU, 0};
inline constexpr Device kCUDA{DeviceType::CUDA, 0};

inline std::ostream& operator<<(std::ostream& out, Device d) { return out << d.str(); }

namespace cuda {
bool is_available();  // true when built with CUDA and a device is present
int device_count();
}  // namespace cuda

}  // namespace hg
