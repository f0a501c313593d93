#pragma once
// One dispatch table per kernel family, indexed by device type. The CPU column is filled where
// the table is defined (kernels/tables.cpp); the CUDA backend fills its column at load time.
#include "core/device.h"
#include "core/error.h"

namespace hg::kernels {

template <typename Fn>
struct DispatchTable {
  const char* family;
  Fn fns[kNumDeviceTypes];

  Fn operator()(Device device) const {
    Fn fn = fns[static_cast<int>(device.type)];
    HG_CHECK(fn != nullptr, family, ": no kernel for device ", device.str());
    return fn;
  }
  void set(DeviceType type, Fn fn) { fns[static_cast<int>(type)] = fn; }
};

}  // namespace hg::kernels
