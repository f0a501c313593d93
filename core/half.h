#pragma once
// hg::Half (IEEE binary16) and hg::BFloat16 (bfloat16): 16-bit storage types.
//
// Conversions from float round to nearest, ties to even; subnormals are kept, overflow goes to
// infinity and NaN stays NaN (quieted). Widening to float is exact, except that an fp16
// signalling NaN comes out quiet (its payload kept), as F16C's vcvtph2ps makes it: the integer
// path below does the same, so the host with or without F16C and the CUDA kernels (which widen
// NaNs through it) agree bit for bit. A bf16 widens by a shift, signalling NaNs too, as the
// hardware's. The code is plain integer
// arithmetic so it compiles unchanged for the host and, later, in .cu files (HG_HD); it needs no
// CUDA header on the CPU.
#include <cstdint>
#include <cstring>

// With F16C (x86-64-v3 and later) the host uses the hardware conversions, which round the same
// way (RNE, subnormals kept, NaN quieted with its payload); tests/core checks them bit for bit.
#if defined(__F16C__) && !defined(__CUDA_ARCH__)
#include <immintrin.h>
#define HG_HAVE_F16C 1
#endif

#if defined(__CUDACC__)
#define HG_HD __host__ __device__
#else
#define HG_HD
#endif

namespace hg {
namespace detail {

HG_HD inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
HG_HD inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

HG_HD inline uint16_t float_to_half_bits(float value) {
  const uint32_t x = float_bits(value);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) {  // NaN: keep the top payload bits, force the quiet bit
    return static_cast<uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
  }
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 (or inf)
  if (abs >= 0x38800000u) {  // normal in half (>= 2^-14): rebias and round the 13 dropped bits
    const uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
    return static_cast<uint16_t>(sign | ((rounded >> 13) - 0x1c000u));
  }
  const int exponent = static_cast<int>(abs >> 23);
  if (exponent < 102) return sign;  // below 2^-25: rounds to zero
  // Subnormal half: value = mantissa24 * 2^(exponent-150) = (mantissa24 >> shift) * 2^-24.
  const uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
  const int shift = 126 - exponent;  // 14 .. 24
  uint32_t result = mantissa >> shift;
  const uint32_t remainder = mantissa & ((1u << shift) - 1u);
  const uint32_t halfway = 1u << (shift - 1);
  if (remainder > halfway || (remainder == halfway && (result & 1u))) ++result;
  return static_cast<uint16_t>(sign | result);
}

HG_HD inline float half_bits_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1fu)  // inf, or a NaN made quiet (the quiet bit set, as F16C does)
    return bits_float(sign | 0x7f800000u | (mantissa << 13) | (mantissa ? 0x00400000u : 0u));
  if (exponent == 0) {
    if (mantissa == 0) return bits_float(sign);
    exponent = 113;  // normalise the subnormal: shift the leading one into the implicit bit
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    return bits_float(sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13));
  }
  return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

HG_HD inline uint16_t float_to_bfloat16_bits(float value) {
  const uint32_t x = float_bits(value);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // NaN
  const uint32_t rounded = x + 0x7fffu + ((x >> 16) & 1u);  // carries into the exponent: RNE
  return static_cast<uint16_t>(rounded >> 16);
}

HG_HD inline float bfloat16_bits_to_float(uint16_t b) {
  return bits_float(static_cast<uint32_t>(b) << 16);
}

}  // namespace detail

struct Half {
  uint16_t bits = 0;

  Half() = default;
#if defined(HG_HAVE_F16C)
  Half(float value)  // NOLINT: implicit, like c10
      : bits(static_cast<uint16_t>(_cvtss_sh(value, _MM_FROUND_TO_NEAREST_INT))) {}
  operator float() const { return _cvtsh_ss(bits); }
#else
  HG_HD Half(float value)
      : bits(detail::float_to_half_bits(value)) {}  // NOLINT: implicit, like c10
  HG_HD operator float() const { return detail::half_bits_to_float(bits); }
#endif
  HG_HD static Half from_bits(uint16_t raw) {
    Half h;
    h.bits = raw;
    return h;
  }
};

struct BFloat16 {
  uint16_t bits = 0;

  BFloat16() = default;
  HG_HD BFloat16(float value) : bits(detail::float_to_bfloat16_bits(value)) {}  // NOLINT
  HG_HD operator float() const { return detail::bfloat16_bits_to_float(bits); }
  HG_HD static BFloat16 from_bits(uint16_t raw) {
    BFloat16 b;
    b.bits = raw;
    return b;
  }
};

static_assert(sizeof(Half) == 2 && sizeof(BFloat16) == 2, "16-bit storage types");

}  // namespace hg
