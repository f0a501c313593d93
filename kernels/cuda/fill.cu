// out[...] = value for every dtype and layout. The value is converted on the host with the CPU's
// rules (kernels/cpu/loops.h convert: double -> 16 bits in one rounding, bool = value != 0,
// integers saturate with NaN -> 0) so both devices store the same bits.
#include "halfgrad/core/convert.h"
#include "halfgrad/core/half.h"
#include "halfgrad/kernels/cuda/cuda_kernels.h"
#include "halfgrad/kernels/cuda/elementwise.cuh"

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
    return value != 0.0;
  } else if constexpr (std::is_same_v<T, __half>) {
    __half_raw raw;
    raw.x = Half(detail::float_round_to_odd(value)).bits;
    return __half(raw);
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    __nv_bfloat16_raw raw;
    raw.x = BFloat16(detail::float_round_to_odd(value)).bits;
    return __nv_bfloat16(raw);
  } else if constexpr (std::is_integral_v<T>) {
    return detail::saturate_to_integer<T>(value);
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
