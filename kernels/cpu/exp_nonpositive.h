#pragma once
// e^x for x <= 0 in float, in a form the compiler vectorises over a row (with -fno-trapping-math,
// which the fused attention's file has: CMakeLists.txt). For a softmax's x - max: glibc's expf
// is a call per element, and those calls were most of the fused attention's time at the sizes of
// a small transformer's heads.
//
// x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two so that n ln2_hi is exact), e^r by its
// Taylor polynomial to r^7 (truncation < 6e-9 relative), 2^n put into the exponent bits. Over
// every float in [-87, 0]: at most 1.22 ulp from e^x, and the correctly rounded float for 99.2%
// of them (tests/kernels/test_exp_nonpositive.cpp checks a sample). Below -87 (e^-87 is near the
// smallest normal float) it returns 0; -inf gives 0, NaN stays NaN. Positive x is not its domain.
#include <bit>
#include <cmath>
#include <cstdint>

namespace hg::kernels::cpu {

inline float exp_nonpositive(float x) {
  const float t = x >= -87.0f ? x : -87.0f;  // -inf and NaN: a finite stand-in, replaced below
  const float n = (t * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // nearest integer
  const float r = (t - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const float two_to_n = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  const float e = p * two_to_n;  // computed before the selects, which then vectorise as blends
  const float flushed = x >= -87.0f ? e : 0.0f;
  return x != x ? x : flushed;
}

// fp64: the library's exp (the fused attention's double path is for gradient checks).
inline double exp_nonpositive(double x) { return std::exp(x); }

}  // namespace hg::kernels::cpu
