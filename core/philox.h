#pragma once
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11; Random123)
// and the conversions that define halfgrad's random streams. Header-only and HG_HD, so the CPU
// fills (core/random.cpp) and the CUDA kernels run this very code and produce the same bits.
//
// THE STREAM. A generator state is (seed s, offset o); o counts 4-word Philox blocks already
// handed out. A value takes W words (W = 1 for float32, 2 for float64 and int64), so a block
// holds V = 4 / W values, and one fill of n values reserves blocks_for(n, W) = ceil(n / V) blocks
// starting at o. Block b (a uint64, arithmetic mod 2^64) is the 4 words
//   w[0..3] = philox4x32_10(counter = {low32(b), high32(b), 0, 0}, key = {low32(s), high32(s)}).
// Value i of the fill (0 <= i < n) comes from block b = o + i / V alone, so every element maps to
// a (block, word) pair independently of how the loop is split over threads or CUDA blocks.
// With j = i % V the position inside the block and m(lo, hi) = ((hi << 32) | lo) >> 11:
//   float32 uniform: u = (w[j] >> 8) * 2^-24 in [0,1); x = fma(u, high - low, low), replaced by
//                    nextafter(high, low) when rounding lands on high (low == high gives low).
//   float64 uniform: u = m(w[2j], w[2j+1]) * 2^-53 in [0,1); x as for float32, in double.
//   float32 normal:  pair k = j / 2 uses words 2k and 2k+1:
//                    u1 = ((w[2k] >> 8) + 1) * 2^-24 in (0,1], u2 = (w[2k+1] >> 8) * 2^-24,
//                    r = sqrt(-2 log u1); value 2k gets z = r cos(2 pi u2), value 2k+1 gets
//                    z = r sin(2 pi u2); x = fma(stddev, z, mean). |z| <= sqrt(48 ln 2) ~ 5.77.
//   float64 normal:  u1 = (m(w[0], w[1]) + 1) * 2^-53 in (0,1], u2 = m(w[2], w[3]) * 2^-53;
//                    value 0 gets r cos(2 pi u2), value 1 gets r sin(2 pi u2). |z| <= ~8.57.
//   int64 randint:   x64 = (w[2j+1] << 32) | w[2j], span = uint64(high) - uint64(low) >= 1,
//                    value = low + mulhi64(x64, span) (Lemire's multiply-high without the
//                    rejection step: each value's probability is off by at most span / 2^64).
// log, cos and sin are log_positive and sincos_2pi below, not libm.
// Partial blocks: a fill always starts at a fresh block; the unused words of its last block are
// dropped (fill 10 floats = 3 blocks; the next fill starts at o + 3).
//
// Bit-exactness between host and device: log, sin and cos are evaluated here with +, *, /, sqrt
// and explicit fma only (all correctly rounded in IEEE and in CUDA's default -prec-div/-prec-sqrt),
// never via libm, and every multiply feeding an add is either an explicit fma or exact, so the
// result does not depend on -ffp-contract / --fmad. Do not build with -ffast-math/--use_fast_math.
#include <math.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "halfgrad/core/half.h"

namespace hg::random {

// ---- Philox4x32-10 ---------------------------------------------------------------------------
struct Philox4x32 {
  uint32_t v[4];
};
struct PhiloxKey {
  uint32_t v[2];
};

inline constexpr uint32_t kPhiloxM0 = 0xD2511F53u;  // round multipliers
inline constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
inline constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;  // Weyl key increments (golden ratio, sqrt 3)
inline constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;

HG_HD inline Philox4x32 philox4x32_10(Philox4x32 ctr, PhiloxKey key) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key.v[0] += kPhiloxW0;
      key.v[1] += kPhiloxW1;
    }
    const uint64_t p0 = static_cast<uint64_t>(kPhiloxM0) * ctr.v[0];
    const uint64_t p1 = static_cast<uint64_t>(kPhiloxM1) * ctr.v[2];
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    ctr = Philox4x32{{hi1 ^ ctr.v[1] ^ key.v[0], lo1, hi0 ^ ctr.v[3] ^ key.v[1], lo0}};
  }
  return ctr;
}

// Block `block` of the stream with seed `seed` (see THE STREAM above).
HG_HD inline Philox4x32 philox_block(uint64_t seed, uint64_t block) {
  const Philox4x32 ctr{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0u, 0u}};
  const PhiloxKey key{{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)}};
  return philox4x32_10(ctr, key);
}

// Philox words per value for each kind of fill (1, 2 or 4), and the blocks a fill of n values
// reserves: ceil(n * words_per_value / 4).
inline constexpr int64_t kWordsPerFloat32 = 1;  // float32 uniform / normal: 4 values per block
inline constexpr int64_t kWordsPerFloat64 = 2;  // float64 uniform / normal: 2 values per block
inline constexpr int64_t kWordsPerInt64 = 2;    // randint: 2 values per block
HG_HD constexpr uint64_t blocks_for(int64_t n, int64_t words_per_value) {
  return n <= 0 ? 0 : static_cast<uint64_t>((n - 1) / (4 / words_per_value) + 1);
}

// ---- words -> numbers ------------------------------------------------------------------------
HG_HD inline float uniform_f32(uint32_t w) {  // [0, 1), 24 bits
  return static_cast<float>(w >> 8) * 0x1p-24f;
}
HG_HD inline float uniform_f32_open0(uint32_t w) {  // (0, 1]: safe for log
  return static_cast<float>((w >> 8) + 1u) * 0x1p-24f;
}
HG_HD inline uint64_t join64(uint32_t lo, uint32_t hi) {
  return (static_cast<uint64_t>(hi) << 32) | lo;
}
HG_HD inline double uniform_f64(uint32_t lo, uint32_t hi) {  // [0, 1), 53 bits
  return static_cast<double>(join64(lo, hi) >> 11) * 0x1p-53;
}
HG_HD inline double uniform_f64_open0(uint32_t lo, uint32_t hi) {  // (0, 1]
  return static_cast<double>((join64(lo, hi) >> 11) + 1u) * 0x1p-53;
}
// High 64 bits of the 128-bit product a * b, from 32-bit pieces (same code on host and device).
HG_HD inline uint64_t mulhi64(uint64_t a, uint64_t b) {
  const uint64_t a_lo = a & 0xffffffffu, a_hi = a >> 32, b_lo = b & 0xffffffffu, b_hi = b >> 32;
  const uint64_t ll = a_lo * b_lo, lh = a_lo * b_hi, hl = a_hi * b_lo, hh = a_hi * b_hi;
  const uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
  return hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

// ---- portable math (bit-identical on host and device) ----------------------------------------
namespace detail {
HG_HD inline float fma_(float a, float b, float c) { return ::fmaf(a, b, c); }
HG_HD inline double fma_(double a, double b, double c) { return ::fma(a, b, c); }
HG_HD inline float sqrt_(float a) { return ::sqrtf(a); }
HG_HD inline double sqrt_(double a) { return ::sqrt(a); }
HG_HD inline float nextafter_(float a, float b) { return ::nextafterf(a, b); }
HG_HD inline double nextafter_(double a, double b) { return ::nextafter(a, b); }
// Series lengths: the first dropped term is below half an ulp of the type.
template <typename T>
HG_HD constexpr int series_terms() {
  return sizeof(T) == 4 ? 6 : 10;
}
// (-1)^k / n!, rounded once to double (n! itself is exact in double up to 18!). Constant-folded
// when the loops unroll; either way the same IEEE operations run on host and device.
HG_HD constexpr double alt_inv_factorial(int k, int n) {
  double f = 1;
  for (int i = 2; i <= n; ++i) f *= i;
  return (k % 2 == 0 ? 1.0 : -1.0) / f;
}

// x = m * 2^e with m in [sqrt(1/2), sqrt(2)); x must be positive and normal.
HG_HD inline float split_exponent(float x, int& e) {
  const uint32_t bits = ::hg::detail::float_bits(x);
  const uint32_t frac = bits & 0x7fffffu;
  e = static_cast<int>(bits >> 23) - 127;
  if (frac < 0x3504f3u) return ::hg::detail::bits_float(frac | 0x3f800000u);  // [1, sqrt 2)
  ++e;
  return ::hg::detail::bits_float(frac | 0x3f000000u);  // [sqrt(1/2), 1)
}
HG_HD inline double split_exponent(double x, int& e) {
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const uint64_t frac = bits & 0xfffffffffffffull;
  e = static_cast<int>(bits >> 52) - 1023;
  uint64_t m = frac | 0x3ff0000000000000ull;
  if (frac >= 0x6a09e667f3bcdull) {
    ++e;
    m = frac | 0x3fe0000000000000ull;
  }
  double out;
  std::memcpy(&out, &m, sizeof out);
  return out;
}
}  // namespace detail

// Natural log of a positive normal x: log m = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.1716,
// plus e * ln 2 (split so e * hi is exact). Error: a few ulp.
template <typename T>
HG_HD inline T log_positive(T x) {
  using detail::fma_;
  int e = 0;
  const T m = detail::split_exponent(x, e);
  const T f = m - T(1);
  const T s = f / (T(2) + f);
  const T z = s * s;
  constexpr int kTerms = detail::series_terms<T>();
  T p = T(1) / T(2 * kTerms + 1);
  for (int k = kTerms - 1; k >= 0; --k) p = fma_(p, z, T(1) / T(2 * k + 1));
  const T log_m = (T(2) * s) * p;
  const T fe = static_cast<T>(e);
  return fma_(fe, T(0.693359375), fma_(fe, T(-2.121944400546905827679e-4), log_m));
}

// sin(2 pi u) and cos(2 pi u) for u in [0, 1): 4u = q + r exactly, r in [-1/2, 1/2], then the
// Taylor series of sin and cos at x = (pi/2) r, |x| <= pi/4, rotated by quadrant q.
template <typename T>
HG_HD inline void sincos_2pi(T u, T& sin_out, T& cos_out) {
  using detail::fma_;
  const T u4 = u * T(4);  // exact
  int q = static_cast<int>(u4);
  T r = u4 - static_cast<T>(q);  // exact, [0, 1)
  if (r > T(0.5)) {
    r = r - T(1);  // exact
    ++q;
  }
  const T x = r * T(1.57079632679489661923);
  const T z = x * x;
  constexpr int kTerms = detail::series_terms<T>();
  // sin x = x + x z S(z), S = sum_{k=1..K} (-1)^k z^(k-1) / (2k+1)!;
  // cos x = 1 + z C(z),   C = sum_{k=1..K} (-1)^k z^(k-1) / (2k)!.
  T ps = T(detail::alt_inv_factorial(kTerms, 2 * kTerms + 1));
  T pc = T(detail::alt_inv_factorial(kTerms, 2 * kTerms));
  for (int k = kTerms - 1; k >= 1; --k) {
    ps = fma_(ps, z, T(detail::alt_inv_factorial(k, 2 * k + 1)));
    pc = fma_(pc, z, T(detail::alt_inv_factorial(k, 2 * k)));
  }
  const T s = fma_(x * z, ps, x);
  const T c = fma_(z, pc, T(1));
  switch (q & 3) {
    case 0:
      sin_out = s;
      cos_out = c;
      break;
    case 1:
      sin_out = c;
      cos_out = -s;
      break;
    case 2:
      sin_out = -s;
      cos_out = -c;
      break;
    default:
      sin_out = -c;
      cos_out = s;
      break;
  }
}

// Box-Muller: u1 in (0, 1], u2 in [0, 1) -> two independent standard normals.
template <typename T>
HG_HD inline void box_muller(T u1, T u2, T& z0, T& z1) {
  const T r = detail::sqrt_(T(-2) * log_positive(u1));
  T s, c;
  sincos_2pi(u2, s, c);
  z0 = r * c;
  z1 = r * s;
}

// u in [0, 1) -> [low, high) (low == high gives low).
template <typename T>
HG_HD inline T scale_uniform(T u, T low, T high) {
  const T x = detail::fma_(u, high - low, low);
  if (x < high) return x;
  return low < high ? detail::nextafter_(high, low) : low;
}

// ---- one block of each kind of fill (the loops in random.cpp and the CUDA kernels call these) --
HG_HD inline void uniform_block(uint64_t seed, uint64_t block, float low, float high, float* out) {
  const Philox4x32 w = philox_block(seed, block);
  for (int j = 0; j < 4; ++j) out[j] = scale_uniform(uniform_f32(w.v[j]), low, high);
}
HG_HD inline void uniform_block(uint64_t seed, uint64_t block, double low, double high,
                                double* out) {
  const Philox4x32 w = philox_block(seed, block);
  for (int j = 0; j < 2; ++j)
    out[j] = scale_uniform(uniform_f64(w.v[2 * j], w.v[2 * j + 1]), low, high);
}
HG_HD inline void normal_block(uint64_t seed, uint64_t block, float mean, float stddev,
                               float* out) {
  const Philox4x32 w = philox_block(seed, block);
  for (int k = 0; k < 2; ++k) {
    float z0, z1;
    box_muller(uniform_f32_open0(w.v[2 * k]), uniform_f32(w.v[2 * k + 1]), z0, z1);
    out[2 * k] = detail::fma_(stddev, z0, mean);
    out[2 * k + 1] = detail::fma_(stddev, z1, mean);
  }
}
HG_HD inline void normal_block(uint64_t seed, uint64_t block, double mean, double stddev,
                               double* out) {
  const Philox4x32 w = philox_block(seed, block);
  double z0, z1;
  box_muller(uniform_f64_open0(w.v[0], w.v[1]), uniform_f64(w.v[2], w.v[3]), z0, z1);
  out[0] = detail::fma_(stddev, z0, mean);
  out[1] = detail::fma_(stddev, z1, mean);
}
// span = uint64(high) - uint64(low) >= 1; values in [low, low + span).
HG_HD inline void randint_block(uint64_t seed, uint64_t block, int64_t low, uint64_t span,
                                int64_t* out) {
  const Philox4x32 w = philox_block(seed, block);
  for (int j = 0; j < 2; ++j) {
    const uint64_t x = join64(w.v[2 * j], w.v[2 * j + 1]);
    out[j] = static_cast<int64_t>(static_cast<uint64_t>(low) + mulhi64(x, span));
  }
}

}  // namespace hg::random
