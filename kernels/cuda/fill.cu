// out[...] = value for every dtype and layout. The value is converted on the host with the CPU's
// rules (double -> float -> 16 bits, bool = value != 0 in float) so both devices store the
// same bits.
#include "core/half.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/elementwise.cuh"

namespace hg::cuda {

namespace {

template <typename T>
struct ConstantFn {
  T value;
  __device__ T operator()() const { return value; }
};

template <typename T>
T host_value(double value) {
  if constexpr (std::is_same_v<T, bool>) {
    return static_cast<float>(value) != 0.0f;
  } else if constexpr (std::is_same_v<T, __half>) {
    __half_raw raw;
    raw.x = Half(static_cast<float>(value)).bits;
    return __half(raw);
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    __nv_bfloat16_raw raw;
    raw.x = BFloat16(static_cast<float>(value)).bits;
    return __nv_bfloat16(raw);
  } else {
    return static_cast<T>(value);
  }
}

}  // namespace

void fill(const kernels::TensorView& out, double value) {
  if (out.numel() == 0) return;
  dispatch_all(out.dtype, [&]<typename T>() {
    map<T>("fill_kernel", ConstantFn<T>{host_value<T>(value)}, out, {});
  });
}

}  // namespace hg::cuda
