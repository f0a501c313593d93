// hg::Half (IEEE binary16): exhaustive round trips, an independent round-to-nearest-even
// reference for float -> half, and the lecture's figures as named cases.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "halfgrad/core/half.h"

namespace {

using hg::Half;

float f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
uint32_t u32(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
float widen(uint16_t h) { return static_cast<float>(Half::from_bits(h)); }

// Reference: the exact value of every non-negative finite half, indexed by its bit pattern and
// built from the textbook definition (subnormal m * 2^-24, normal (1024 + m) * 2^(e - 25)).
// Index 0x7c00 holds 2^16, the value the next pattern would have if the exponent did not run out:
// IEEE rounds as if the exponent were unbounded and then overflows, so anything that rounds to it
// becomes infinity, and because 0x7bff is odd the tie at 65520 goes to it as well.
const std::vector<double>& half_values() {
  static const std::vector<double> table = [] {
    std::vector<double> t(0x7c01);
    for (int i = 0; i <= 0x7c00; ++i) {
      const int e = i >> 10, m = i & 0x3ff;
      t[static_cast<size_t>(i)] = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
    }
    return t;
  }();
  return table;
}

// Round-to-nearest-even by search: find the neighbouring halves lo <= |x| < hi and pick the nearer.
// Comparing 2|x| with lo + hi is exact in double (2|x| is a scaled float; lo + hi has at most
// 12 significant bits), so no rounding of the reference can hide a tie. Consecutive halves have
// consecutive bit patterns, so "even mantissa" is "even index".
uint16_t reference_half_bits(float value) {
  const uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  const double x = std::fabs(static_cast<double>(value));
  const std::vector<double>& t = half_values();
  if (x >= t.back()) return static_cast<uint16_t>(sign | 0x7c00);  // includes infinity
  const size_t lo = static_cast<size_t>(std::upper_bound(t.begin(), t.end(), x) - t.begin()) - 1;
  const double twice = 2.0 * x, sum = t[lo] + t[lo + 1];
  const size_t pick = twice < sum ? lo : twice > sum ? lo + 1 : (lo % 2 == 0 ? lo : lo + 1);
  return static_cast<uint16_t>(sign | pick);
}

// A NaN must stay a NaN of the same sign, be quiet, and keep the payload bits that fit.
bool nan_converted_ok(float in, uint16_t out) {
  const uint32_t b = u32(in);
  const bool is_nan = (out & 0x7c00) == 0x7c00 && (out & 0x3ff) != 0;
  const bool sign_ok = ((out >> 15) & 1u) == (b >> 31);
  const bool quiet = (out & 0x200) != 0;
  const bool payload_ok = (out & 0x1ffu) == ((b >> 13) & 0x1ffu);
  return is_nan && sign_ok && quiet && payload_ok;
}

// Counts mismatches instead of asserting per input, so 10^7 inputs stay fast; remembers the first.
struct Tally {
  long checked = 0, bad = 0;
  uint32_t first_input = 0;
  uint16_t first_expected = 0, first_actual = 0;

  void check(float value) {
    ++checked;
    const uint16_t actual = Half(value).bits;
    bool ok;
    uint16_t expected;
    if (std::isnan(value)) {
      ok = nan_converted_ok(value, actual);
      expected = static_cast<uint16_t>(0x7e00 | (actual & 0x8000));  // shown only for orientation
    } else {
      expected = reference_half_bits(value);
      ok = actual == expected;
    }
    if (!ok && bad++ == 0) {
      first_input = u32(value);
      first_expected = expected;
      first_actual = actual;
    }
  }
  void check_with_neighbours(float value) {
    check(value);
    check(std::nextafter(value, -std::numeric_limits<float>::infinity()));
    check(std::nextafter(value, std::numeric_limits<float>::infinity()));
  }
  std::string report() const {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "%ld of %ld wrong; first: float 0x%08x -> half 0x%04x, reference 0x%04x", bad,
                  checked, first_input, first_actual, first_expected);
    return buf;
  }
};

#define CHECK_TALLY(tally) CHECK_MESSAGE((tally).bad == 0, (tally).report())

}  // namespace

TEST_CASE("half: widening to float is exact for every finite pattern") {
  const std::vector<double>& t = half_values();
  long bad = 0;
  for (uint32_t i = 0; i < 0x7c00; ++i) {
    bad += static_cast<double>(widen(static_cast<uint16_t>(i))) != t[i];
    bad += static_cast<double>(widen(static_cast<uint16_t>(i | 0x8000))) != -t[i];
  }
  CHECK(bad == 0);
  CHECK(std::signbit(widen(0x8000)));
  CHECK(widen(0x7c00) == std::numeric_limits<float>::infinity());
  CHECK(widen(0xfc00) == -std::numeric_limits<float>::infinity());
}

TEST_CASE("half: every bit pattern round-trips through float") {
  long bad = 0, nans = 0;
  for (uint32_t i = 0; i <= 0xffff; ++i) {
    const uint16_t bits = static_cast<uint16_t>(i);
    const float f = widen(bits);
    const uint16_t back = Half(f).bits;
    const bool is_nan = (bits & 0x7c00) == 0x7c00 && (bits & 0x3ff) != 0;
    if (is_nan) {
      ++nans;
      if (!std::isnan(f)) ++bad;
      // Quiet NaNs come back bit for bit; signalling ones come back quieted, payload kept.
      if (back != (bits | 0x200)) ++bad;
    } else if (back != bits) {
      ++bad;
    }
  }
  CHECK(nans == 2 * 1023);
  CHECK(bad == 0);
}

TEST_CASE("half: the integer widening and F16C's agree on every pattern, NaNs made quiet") {
  long bad = 0;
  for (uint32_t i = 0; i <= 0xffff; ++i) {
    const auto bits = static_cast<uint16_t>(i);
    uint32_t integer_path, hardware_path;
    const float a = hg::detail::half_bits_to_float(bits), b = widen(bits);
    std::memcpy(&integer_path, &a, 4);
    std::memcpy(&hardware_path, &b, 4);
    bad += integer_path != hardware_path;
  }
  CHECK(bad == 0);
  const float snan = hg::detail::half_bits_to_float(0x7c01);
  uint32_t snan_bits;
  std::memcpy(&snan_bits, &snan, 4);
  CHECK(snan_bits == 0x7fc02000u);  // quiet bit set, payload 1 << 13 kept
}

TEST_CASE("half: fp32 -> fp16 matches the reference at every half value and midpoint") {
  const std::vector<double>& t = half_values();
  Tally tally;
  long not_float = 0;
  for (size_t i = 0; i < 0x7c00; ++i) {
    const double mid = (t[i] + t[i + 1]) / 2;  // for i = 0x7bff this is 65520, the overflow edge
    not_float += static_cast<double>(static_cast<float>(mid)) != mid;  // midpoints are floats
    for (const float s : {1.0f, -1.0f}) {
      tally.check_with_neighbours(s * static_cast<float>(t[i]));
      tally.check_with_neighbours(s * static_cast<float>(mid));
    }
  }
  CHECK(not_float == 0);
  CHECK_TALLY(tally);
}

TEST_CASE("half: fp32 -> fp16 matches the reference in the subnormal and overflow ranges") {
  Tally tally;
  // Every 997th float below 2^-14 (float subnormals, underflow to zero, half subnormals), both
  // signs.
  for (uint32_t u = 0; u <= 0x38800000u; u += 997) {
    tally.check(f32(u));
    tally.check(f32(u | 0x80000000u));
  }
  // Every float from 65504 to 2^16 (the overflow boundary lies inside), both signs.
  for (uint32_t u = u32(65504.0f); u <= u32(65536.0f); ++u) {
    tally.check(f32(u));
    tally.check(f32(u | 0x80000000u));
  }
  const float inf = std::numeric_limits<float>::infinity();
  for (const float f : {0.0f, -0.0f, inf, -inf, std::numeric_limits<float>::max(),
                        std::numeric_limits<float>::lowest(), std::numeric_limits<float>::min(),
                        std::numeric_limits<float>::denorm_min(), std::ldexp(1.0f, -25),
                        std::ldexp(1.5f, -25), std::ldexp(1.0f, -24), std::ldexp(1.0f, -14)}) {
    tally.check_with_neighbours(f);
    tally.check_with_neighbours(-f);
  }
  CHECK_TALLY(tally);
}

TEST_CASE("half: every kind of float NaN converts to a quiet NaN") {
  Tally tally;
  for (uint32_t m = 1; m <= 0x7fffffu; m += 4099) {
    tally.check(f32(0x7f800000u | m));
    tally.check(f32(0xff800000u | m));
  }
  for (int bit = 0; bit < 23; ++bit) {  // each payload bit on its own (low ones are dropped)
    tally.check(f32(0x7f800000u | (1u << bit)));
    tally.check(f32(0xff800000u | (1u << bit)));
  }
  tally.check(f32(0x7fffffffu));
  tally.check(std::numeric_limits<float>::quiet_NaN());
  tally.check(std::numeric_limits<float>::signaling_NaN());
  CHECK_TALLY(tally);
}

TEST_CASE("half: fp32 -> fp16 matches the reference on 10^7 random bit patterns") {
  std::mt19937 rng(20240601u);
  Tally tally;
  for (int i = 0; i < 10'000'000; ++i) tally.check(f32(static_cast<uint32_t>(rng())));
  CHECK(tally.checked == 10'000'000);
  CHECK_TALLY(tally);
}

TEST_CASE("half: fp32 -> fp16 matches the reference on 10^7 random floats in the half range") {
  // Float exponent fields 95..143 (2^-32 .. 2^17): underflow to zero, the subnormal range
  // |x| < 2^-14 (fields below 113, about a third of the draws), every normal binade and overflow.
  std::mt19937 rng(7u);
  std::uniform_int_distribution<uint32_t> exponent(95, 143);
  Tally tally;
  long subnormal = 0;
  for (int i = 0; i < 10'000'000; ++i) {
    const uint32_t r = static_cast<uint32_t>(rng());
    const uint32_t e = exponent(rng);
    subnormal += e < 113;
    tally.check(f32((r & 0x807fffffu) | (e << 23)));
  }
  CHECK(subnormal > 3'000'000);
  CHECK_TALLY(tally);
}

// ---- the lecture's figures -------------------------------------------------------------------

TEST_CASE("half: max finite is 65504") {
  CHECK(widen(0x7bff) == 65504.0f);
  CHECK(Half(65504.0f).bits == 0x7bff);
  CHECK(Half(-65504.0f).bits == 0xfbff);
}

TEST_CASE("half: 65519.99 rounds to 65504 and 65520 rounds to inf") {
  CHECK(Half(65519.99f).bits == 0x7bff);
  CHECK(Half(65520.0f).bits == 0x7c00);  // the tie goes to the even "2^16", i.e. overflows
  CHECK(Half(-65519.99f).bits == 0xfbff);
  CHECK(Half(-65520.0f).bits == 0xfc00);
  CHECK(std::isinf(static_cast<float>(Half(65520.0f))));
}

TEST_CASE("half: smallest subnormal is 2^-24 (5.96e-8)") {
  CHECK(widen(0x0001) == std::ldexp(1.0f, -24));
  CHECK(static_cast<double>(widen(0x0001)) == doctest::Approx(5.96e-8).epsilon(1e-3).scale(0));
  CHECK(Half(std::ldexp(1.0f, -24)).bits == 0x0001);
  CHECK(widen(0x03ff) == 1023 * std::ldexp(1.0f, -24));  // largest subnormal
}

TEST_CASE("half: 2^-25 ties to zero (even) while 1.5 x 2^-25 rounds to 2^-24") {
  CHECK(Half(std::ldexp(1.0f, -25)).bits == 0x0000);
  CHECK(Half(-std::ldexp(1.0f, -25)).bits == 0x8000);
  CHECK(Half(std::ldexp(1.5f, -25)).bits == 0x0001);
  CHECK(Half(std::nextafter(std::ldexp(1.0f, -25), 1.0f)).bits == 0x0001);
  CHECK(Half(3 * std::ldexp(1.0f, -25)).bits == 0x0002);  // tie between 1 and 2 ulps: even
}

TEST_CASE("half: smallest normal is 2^-14 (6.10e-5)") {
  CHECK(widen(0x0400) == std::ldexp(1.0f, -14));
  CHECK(static_cast<double>(widen(0x0400)) == doctest::Approx(6.10e-5).epsilon(1e-3).scale(0));
  CHECK(Half(std::ldexp(1.0f, -14)).bits == 0x0400);
}

TEST_CASE("half: 1.5625 is 0 01111 1001000000 (0x3E40)") {
  const uint16_t bits = Half(1.5625f).bits;
  CHECK(bits == 0x3e40);
  CHECK((bits >> 15) == 0);
  CHECK(((bits >> 10) & 0x1f) == 0b01111);
  CHECK((bits & 0x3ff) == 0b1001000000);
  CHECK(widen(0x3e40) == 1.5625f);
}

TEST_CASE("half: epsilon is 2^-10 and 1 + 2^-11 ties to 1") {
  CHECK(widen(0x3c01) - 1.0f == std::ldexp(1.0f, -10));
  CHECK(Half(1.0f + std::ldexp(1.0f, -11)).bits == 0x3c00);
  CHECK(Half(1.0f + 3 * std::ldexp(1.0f, -11)).bits == 0x3c02);
}

TEST_CASE("half: overflow goes to signed infinity") {
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(Half(1e5f).bits == 0x7c00);
  CHECK(Half(-1e5f).bits == 0xfc00);
  CHECK(Half(std::numeric_limits<float>::max()).bits == 0x7c00);
  CHECK(Half(inf).bits == 0x7c00);
  CHECK(Half(-inf).bits == 0xfc00);
}

TEST_CASE("half: NaN stays NaN") {
  CHECK(std::isnan(static_cast<float>(Half(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(std::isnan(static_cast<float>(Half(-std::numeric_limits<float>::quiet_NaN()))));
  CHECK(std::isnan(static_cast<float>(Half(f32(0x7f800001u)))));  // payload only in dropped bits
  CHECK(std::isnan(widen(0x7e00)));
  CHECK(std::isnan(widen(0x7c01)));
}

TEST_CASE("half: -0 stays -0") {
  CHECK(Half(-0.0f).bits == 0x8000);
  CHECK(Half(0.0f).bits == 0x0000);
  CHECK(std::signbit(static_cast<float>(Half(-0.0f))));
  CHECK(Half(-std::numeric_limits<float>::denorm_min()).bits == 0x8000);
}
