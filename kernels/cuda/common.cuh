#pragma once
// What every halfgrad kernel file shares: loading any floating dtype as float (or double) and
// storing it back rounded to nearest even, launch geometry, and element offsets from a
// TensorView. Kernels compute in float and store in the tensor's dtype (fp64 stays double).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "halfgrad/core/convert.h"
#include "halfgrad/core/half.h"

#include "halfgrad/core/dtype.h"
#include "halfgrad/kernels/cuda/cuda_check.h"
#include "halfgrad/kernels/tensor_view.h"

namespace hg::cuda {

inline constexpr int kBlockSize = 256;

// VEC consecutive elements moved as one load or store (16 bytes at most, aligned to their size):
// the vectorised elementwise kernels (elementwise.cuh) and the packs of nn_common.cuh.
template <typename T, int VEC>
struct alignas(sizeof(T) * VEC < 16 ? sizeof(T) * VEC : 16) Vec {
  T v[VEC];
};
inline bool aligned_to(const void* p, std::size_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % bytes == 0;
}

// Blocks for a grid-stride loop over n elements: enough to fill the GPU, never more than needed.
inline unsigned grid_for(int64_t n, int block = kBlockSize) {
  const int64_t blocks = (n + block - 1) / block;
  const int64_t cap = 65535LL * 8;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

// A TensorView's geometry, by value in kernel arguments (no pointers to host memory).
struct Geometry {
  int ndim;
  int64_t sizes[kernels::kMaxDims];
  int64_t strides[kernels::kMaxDims];
};

inline Geometry geometry_of(const kernels::TensorView& v) {
  Geometry g{};
  g.ndim = v.ndim;
  for (int i = 0; i < v.ndim; ++i) {
    g.sizes[i] = v.sizes[i];
    g.strides[i] = v.strides[i];
  }
  return g;
}

// Element offset of the linear (row-major) index `linear` in a strided view.
__device__ inline int64_t offset_of(const Geometry& g, int64_t linear) {
  int64_t offset = 0;
  for (int d = g.ndim - 1; d >= 0; --d) {
    const int64_t size = g.sizes[d];
    offset += (linear % size) * g.strides[d];
    linear /= size;
  }
  return offset;
}

template <typename T>
struct Scalar;  // load/store between a storage type and its compute type
template <>
struct Scalar<float> {
  using Compute = float;
  __device__ static float load(float v) { return v; }
  __device__ static float store(float v) { return v; }
};
template <>
struct Scalar<double> {
  using Compute = double;
  __device__ static double load(double v) { return v; }
  __device__ static double store(double v) { return v; }
};
// Rounding float to 16 bits exactly as the CPU does (core/half.h): the hardware conversion is
// round-to-nearest-even like the host's, but turns every NaN into one canonical NaN, while the
// host keeps the payload. The NaN case takes the host's integer path; finite values never do.
__device__ inline __half round_to_half(float v) {
  if (v != v) return __ushort_as_half(::hg::detail::float_to_half_bits(v));
  return __float2half_rn(v);
}
__device__ inline __nv_bfloat16 round_to_bfloat16(float v) {
  if (v != v) return __ushort_as_bfloat16(::hg::detail::float_to_bfloat16_bits(v));
  return __float2bfloat16_rn(v);
}

template <>
struct Scalar<__half> {
  using Compute = float;
  // a NaN widens through its bits, so its payload survives as on the CPU (the conversion
  // instruction may return the canonical NaN)
  __device__ static float load(__half v) {
    const unsigned short bits = __half_as_ushort(v);
    return (bits & 0x7fffu) > 0x7c00u ? ::hg::detail::half_bits_to_float(bits) : __half2float(v);
  }
  __device__ static __half store(float v) { return round_to_half(v); }
};
template <>
struct Scalar<__nv_bfloat16> {
  using Compute = float;
  // exact for every value, NaN payloads included: a bf16 is a float's upper half
  __device__ static float load(__nv_bfloat16 v) {
    return __uint_as_float(static_cast<unsigned>(__bfloat16_as_ushort(v)) << 16);
  }
  __device__ static __nv_bfloat16 store(float v) { return round_to_bfloat16(v); }
};
// Integers compute in int64 and store back by plain conversion (uint8 wraps), like the CPU.
template <typename I>
struct IntegerScalar {
  using Compute = int64_t;
  __device__ static int64_t load(I v) { return static_cast<int64_t>(v); }
  __device__ static I store(int64_t v) { return static_cast<I>(v); }
};
template <>
struct Scalar<int64_t> : IntegerScalar<int64_t> {};
template <>
struct Scalar<uint8_t> : IntegerScalar<uint8_t> {};
template <>
struct Scalar<bool> : IntegerScalar<bool> {};

template <typename T>
using compute_t = typename Scalar<T>::Compute;

template <typename T>
inline constexpr bool is_16bit_float =
    std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

// Converts between any two storage types with the CPU's rules (kernels/cpu/loops.h convert):
// to bool tests x != 0, 16-bit sources widen to float first, double and int64 round to 16 bits
// once (through core/convert.h's round-to-odd float), floating -> integer saturates with NaN
// -> 0, the rest is static_cast.
template <typename To, typename From>
__device__ inline To convert(From x) {
  if constexpr (std::is_same_v<To, From>) {
    return x;
  } else if constexpr (std::is_same_v<To, bool>) {
    if constexpr (is_16bit_float<From>)
      return Scalar<From>::load(x) != 0.0f;
    else
      return x != From(0);
  } else if constexpr (is_16bit_float<From>) {
    return convert<To>(Scalar<From>::load(x));
  } else if constexpr (is_16bit_float<To>) {
    if constexpr (std::is_same_v<From, double> || std::is_same_v<From, int64_t>)
      return Scalar<To>::store(hg::detail::float_round_to_odd(x));
    else
      return Scalar<To>::store(static_cast<float>(x));
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    return hg::detail::saturate_to_integer<To>(static_cast<double>(x));
  } else {
    return static_cast<To>(x);
  }
}

// A product that nvcc may not fuse into a following add (--fmad would otherwise contract
// a * b + c into one fma, and the CPU, built with -ffp-contract=off, rounds twice).
__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }

// Device math on the compute type (float or double) under one name.
__device__ inline float exp_(float x) { return ::expf(x); }
__device__ inline double exp_(double x) { return ::exp(x); }
__device__ inline float log_(float x) { return ::logf(x); }
__device__ inline double log_(double x) { return ::log(x); }
__device__ inline float log1p_(float x) { return ::log1pf(x); }
__device__ inline double log1p_(double x) { return ::log1p(x); }
__device__ inline float expm1_(float x) { return ::expm1f(x); }
__device__ inline double expm1_(double x) { return ::expm1(x); }
__device__ inline float sqrt_(float x) { return ::sqrtf(x); }
__device__ inline double sqrt_(double x) { return ::sqrt(x); }
__device__ inline float erf_(float x) { return ::erff(x); }
__device__ inline double erf_(double x) { return ::erf(x); }
__device__ inline float tanh_(float x) { return ::tanhf(x); }
__device__ inline double tanh_(double x) { return ::tanh(x); }
__device__ inline float pow_(float x, float y) { return ::powf(x, y); }
__device__ inline double pow_(double x, double y) { return ::pow(x, y); }
__device__ inline float sin_(float x) { return ::sinf(x); }  // (not __sinf: full range)
__device__ inline double sin_(double x) { return ::sin(x); }
__device__ inline float cos_(float x) { return ::cosf(x); }
__device__ inline double cos_(double x) { return ::cos(x); }
__device__ inline float floor_(float x) { return ::floorf(x); }
__device__ inline double floor_(double x) { return ::floor(x); }
__device__ inline float ceil_(float x) { return ::ceilf(x); }
__device__ inline double ceil_(double x) { return ::ceil(x); }
__device__ inline float rint_(float x) { return ::rintf(x); }  // ties to even
__device__ inline double rint_(double x) { return ::rint(x); }
__device__ inline float trunc_(float x) { return ::truncf(x); }
__device__ inline double trunc_(double x) { return ::trunc(x); }
__device__ inline float abs_(float x) { return ::fabsf(x); }
__device__ inline double abs_(double x) { return ::fabs(x); }

// Calls f.template operator()<T>() with T the CUDA storage type of a floating dtype.
template <typename F>
void dispatch_floating(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::Float32:
      f.template operator()<float>();
      return;
    case DType::Float64:
      f.template operator()<double>();
      return;
    case DType::Float16:
      f.template operator()<__half>();
      return;
    case DType::BFloat16:
      f.template operator()<__nv_bfloat16>();
      return;
    default:
      break;
  }
  fail(__FILE__, __LINE__, op, "not a floating dtype");
}

// The same for any dtype: the integer types here, the floating ones as above.
template <typename F>
void dispatch_all(DType dtype, F&& f) {
  switch (dtype) {
    case DType::Int64:
      f.template operator()<int64_t>();
      return;
    case DType::UInt8:
      f.template operator()<uint8_t>();
      return;
    case DType::Bool:
      f.template operator()<bool>();
      return;
    default:
      dispatch_floating(dtype, "dispatch_all", f);
  }
}

}  // namespace hg::cuda
