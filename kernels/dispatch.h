#pragma once
// One dispatch table per kernel family, indexed by device type. The CPU column is filled where
// the table is defined (kernels/tables.cpp); the CUDA backend fills its column at load time.
//
// A call goes through KernelCall: on a device other than the CPU, an hg::Error raised inside
// the kernel (a failed launch, a cuBLAS status, a CUDA error surfacing there) only knows the
// call site, so the call adds the family, the device and every view's sizes and dtype. CPU
// kernels check their arguments with those already in the message, and pay nothing.
#include <sstream>
#include <utility>

#include "halfgrad/core/device.h"
#include "halfgrad/core/error.h"
#include "halfgrad/kernels/tensor_view.h"

namespace hg::kernels {

namespace dispatch_detail {
inline void describe_argument(std::ostringstream& out, const TensorView& view) {
  out << (out.tellp() > 0 ? ", [" : "[");
  for (int d = 0; d < view.ndim; ++d) out << (d ? ", " : "") << view.sizes[d];
  out << "] " << dtype_name(view.dtype);
}
inline void describe_argument(std::ostringstream& out, const TensorView* view) {
  if (view != nullptr) describe_argument(out, *view);
}
template <typename T>
void describe_argument(std::ostringstream&, const T&) {}  // options, scalars, flags
}  // namespace dispatch_detail

template <typename Fn>
struct KernelCall;

template <typename R, typename... Args>
struct KernelCall<R (*)(Args...)> {
  const char* family;
  Device device;
  R (*fn)(Args...);

  R operator()(Args... args) const {
    if (device.type == DeviceType::CPU) return fn(std::forward<Args>(args)...);
    try {
      return fn(std::forward<Args>(args)...);
    } catch (const Error& e) {
      std::ostringstream views;
      (dispatch_detail::describe_argument(views, args), ...);
      const std::string listed = views.str();  // empty for list kernels (fused optimizers)
      throw Error(hg::detail::concat(e.what(), " (in the ", family, " kernel on ", device.str(),
                                     listed.empty() ? "" : ", views ", listed, ")"));
    }
  }
};

template <typename Fn>
struct DispatchTable {
  const char* family;
  Fn fns[kNumDeviceTypes];

  KernelCall<Fn> operator()(Device device) const {
    Fn fn = fns[static_cast<int>(device.type)];
    HG_CHECK(fn != nullptr, family, ": no kernel for device ", device.str());
    return {family, device, fn};
  }
  void set(DeviceType type, Fn fn) { fns[static_cast<int>(type)] = fn; }
  // Whether the device type has a kernel (ops with a composite fallback ask first).
  bool supports(DeviceType type) const { return fns[static_cast<int>(type)] != nullptr; }
};

}  // namespace hg::kernels
