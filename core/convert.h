#pragma once
// Element conversions that one static_cast gets wrong, shared by the CPU kernels
// (kernels/cpu/loops.h convert) and the CUDA ones (kernels/cuda/common.cuh), so both give the
// same bits:
//
// - double or int64 -> fp16/bf16 in one rounding. Rounding to the nearest float first and then
//   to 16 bits can round twice: 1 + 2^-11 + 2^-40 (fp64) would become fp16 1, not 1 + 2^-10.
//   Instead the value goes to float "rounded to odd" (toward zero, the last bit set when that
//   was inexact); float keeps at least two bits more than fp16 and bf16, so rounding that float
//   to nearest-even in 16 bits is the correctly rounded 16-bit value of the original.
// - floating -> integer saturates and sends NaN to 0 (a plain static_cast is undefined there);
//   that is also what the GPU's own conversion instructions do.
#include <cmath>
#include <cstdint>
#include <limits>

#include "halfgrad/core/half.h"

namespace hg::detail {

HG_HD inline float float_round_to_odd(double x) {
  float f = static_cast<float>(x);  // nearest
  const double back = static_cast<double>(f);
  if (back == x || x != x) return f;                            // exact (or inf), or NaN
  if (std::fabs(back) > std::fabs(x)) f = nextafterf(f, 0.0f);  // toward zero instead
  return bits_float(float_bits(f) | 1u);  // odd: "something was dropped" stays visible
}

HG_HD inline float float_round_to_odd(int64_t x) {
  const uint64_t magnitude =
      x < 0 ? uint64_t{0} - static_cast<uint64_t>(x) : static_cast<uint64_t>(x);
  if (magnitude < (uint64_t{1} << 24)) return static_cast<float>(x);  // exact
  int shift = 0;
  while ((magnitude >> shift) >= (uint64_t{1} << 24)) ++shift;
  uint64_t kept = magnitude >> shift;                        // 24 bits: exact in float
  if (magnitude & ((uint64_t{1} << shift) - 1)) kept |= 1u;  // sticky
  const float f = ldexpf(static_cast<float>(kept), shift);
  return x < 0 ? -f : f;
}

// NaN -> 0; below the range -> the lowest value, above -> the highest; else truncation.
template <typename I>
HG_HD inline I saturate_to_integer(double v) {
  constexpr double lowest = static_cast<double>(std::numeric_limits<I>::lowest());
  constexpr double highest = static_cast<double>(std::numeric_limits<I>::max());
  if (v != v) return I(0);
  if (v <= lowest) return std::numeric_limits<I>::lowest();
  if (v >= highest) return std::numeric_limits<I>::max();  // int64: highest rounds up to 2^63
  return static_cast<I>(v);
}

}  // namespace hg::detail
