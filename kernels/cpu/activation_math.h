#pragma once
// Float sigmoid and tanh computed in double and rounded once, in a form the compiler vectorises
// over a row (no library calls, no branches; built with -fno-trapping-math: CMakeLists.txt). For
// the fused recurrent cells' CPU loops, where glibc's exp and tanhf per element were most of an
// LSTM step's cell time.
//
// e^t for t <= 0 is (1 + q) 2^n with t = n ln2 + r, |r| <= ln2 / 2 (ln2 in two parts, so n ln2_hi
// is exact) and q = e^r - 1 by its Taylor series to r^13 (truncation < 5e-18); e^t - 1 is then
// q 2^n + (2^n - 1), which keeps its relative accuracy near t = 0, where tanh needs it. Both are
// within a few double ulps, so the float results are the correctly rounded sigmoid and tanh but
// for results within ~1e-16 of the midpoint between two floats, which may round the other way
// (tests/kernels/test_activation_math.cpp: one sigmoid in a sample of 4.3 million floats, none
// for tanh; all within one ulp).
#include <bit>
#include <cmath>
#include <cstdint>

namespace hg::kernels::cpu {

// t = n ln2 + r -> q = e^r - 1 and 2^n, for t in [-1000, 0] (callers clamp).
struct ExpSplit {
  double q, two_to_n;
};

inline ExpSplit split_exp(double t) {
  // n = t / ln2 to the nearest integer, which also lands in the low bits of `shifted`
  const double shifted = t * 1.4426950408889634 + 6755399441055744.0;  // 1.5 * 2^52
  const double n = shifted - 6755399441055744.0;
  const double r = (t - n * 0.693147180369123816490) - n * 1.90821492927058770002e-10;
  double p = 1.0 / 6227020800.0;  // 1/13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  // 2^n from those bits (the magic's own bits shift out): no double -> int64 conversion, which
  // AVX2 lacks and without which the loop would not vectorise
  const double two_to_n = std::bit_cast<double>((std::bit_cast<uint64_t>(shifted) + 1023) << 52);
  return {p * r, two_to_n};
}

// 1 / (1 + e^-x) in double, rounded to float. e^-|x| is clamped at e^-150 (the float result is
// 0 or 1 well before); NaN stays NaN.
inline float sigmoid_rounded(float x) {
  const double magnitude = std::fabs(static_cast<double>(x));
  const ExpSplit s = split_exp(magnitude < 150.0 ? -magnitude : -150.0);
  const double e = s.q * s.two_to_n + s.two_to_n;  // e^-|x|
  const double positive = 1.0 / (1.0 + e);         // sigmoid(|x|)
  const float result = static_cast<float>(x >= 0.0f ? positive : e * positive);
  return x != x ? x : result;
}

// tanh(x) = -expm1(-2|x|) / (2 + expm1(-2|x|)) with x's sign, in double, rounded to float;
// -2|x| is clamped at -80 (tanh is 1 in double from 19); the sign of zero kept, NaN stays NaN.
inline float tanh_rounded(float x) {
  const double twice = 2.0 * std::fabs(static_cast<double>(x));
  const ExpSplit s = split_exp(twice < 80.0 ? -twice : -80.0);
  const double expm1 = s.q * s.two_to_n + (s.two_to_n - 1.0);
  const float magnitude = static_cast<float>(-expm1 / (2.0 + expm1));
  const float result = std::copysign(magnitude, x);
  return x != x ? x : result;
}

}  // namespace hg::kernels::cpu
