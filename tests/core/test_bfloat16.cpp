// hg::BFloat16: exhaustive round trips, an independent round-to-nearest-even reference for
// float -> bfloat16, and the lecture's figures as named cases.
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

using hg::BFloat16;

float bf_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
uint32_t bf_u32(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
float bf_widen(uint16_t b) { return static_cast<float>(BFloat16::from_bits(b)); }

// Reference: the exact value of every non-negative finite bfloat16, indexed by its bit pattern and
// built from the definition (8 exponent bits, bias 127, 7 mantissa bits: subnormal m * 2^-133,
// normal (128 + m) * 2^(e - 134)). Index 0x7f80 holds 2^128, the value past the largest finite
// one had the exponent not run out; whatever rounds to it overflows to infinity.
const std::vector<double>& bf16_values() {
  static const std::vector<double> table = [] {
    std::vector<double> t(0x7f81);
    for (int i = 0; i <= 0x7f80; ++i) {
      const int e = i >> 7, m = i & 0x7f;
      t[static_cast<size_t>(i)] = e == 0 ? std::ldexp(m, -133) : std::ldexp(128 + m, e - 134);
    }
    return t;
  }();
  return table;
}

// Round-to-nearest-even by search between the neighbouring values lo <= |x| < hi. 2|x| and lo + hi
// are exact in double (a scaled float; a sum of two adjacent 8-bit-significand values), so ties
// are seen exactly. Adjacent values have adjacent patterns: "even mantissa" is "even index".
uint16_t reference_bf16_bits(float value) {
  const uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  const double x = std::fabs(static_cast<double>(value));
  const std::vector<double>& t = bf16_values();
  if (x >= t.back()) return static_cast<uint16_t>(sign | 0x7f80);  // includes infinity
  const size_t lo = static_cast<size_t>(std::upper_bound(t.begin(), t.end(), x) - t.begin()) - 1;
  const double twice = 2.0 * x, sum = t[lo] + t[lo + 1];
  const size_t pick = twice < sum ? lo : twice > sum ? lo + 1 : (lo % 2 == 0 ? lo : lo + 1);
  return static_cast<uint16_t>(sign | pick);
}

// A NaN must stay a NaN of the same sign, be quiet, and keep the payload bits that fit.
bool bf16_nan_ok(float in, uint16_t out) {
  const uint32_t b = bf_u32(in);
  const bool is_nan = (out & 0x7f80) == 0x7f80 && (out & 0x7f) != 0;
  const bool sign_ok = ((out >> 15) & 1u) == (b >> 31);
  const bool quiet = (out & 0x40) != 0;
  const bool payload_ok = (out & 0x3fu) == ((b >> 16) & 0x3fu);
  return is_nan && sign_ok && quiet && payload_ok;
}

// Counts mismatches instead of asserting per input, so 10^7 inputs stay fast; remembers the first.
struct BfTally {
  long checked = 0, bad = 0;
  uint32_t first_input = 0;
  uint16_t first_expected = 0, first_actual = 0;

  void check(float value) {
    ++checked;
    const uint16_t actual = BFloat16(value).bits;
    bool ok;
    uint16_t expected;
    if (std::isnan(value)) {
      ok = bf16_nan_ok(value, actual);
      expected = static_cast<uint16_t>(0x7fc0 | (actual & 0x8000));  // shown only for orientation
    } else {
      expected = reference_bf16_bits(value);
      ok = actual == expected;
    }
    if (!ok && bad++ == 0) {
      first_input = bf_u32(value);
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
                  "%ld of %ld wrong; first: float 0x%08x -> bf16 0x%04x, reference 0x%04x", bad,
                  checked, first_input, first_actual, first_expected);
    return buf;
  }
};

#define CHECK_BF_TALLY(tally) CHECK_MESSAGE((tally).bad == 0, (tally).report())

}  // namespace

TEST_CASE("bfloat16: widening to float is exact for every finite pattern") {
  const std::vector<double>& t = bf16_values();
  long bad = 0;
  for (uint32_t i = 0; i < 0x7f80; ++i) {
    bad += static_cast<double>(bf_widen(static_cast<uint16_t>(i))) != t[i];
    bad += static_cast<double>(bf_widen(static_cast<uint16_t>(i | 0x8000))) != -t[i];
  }
  CHECK(bad == 0);
  CHECK(std::signbit(bf_widen(0x8000)));
  CHECK(bf_widen(0x7f80) == std::numeric_limits<float>::infinity());
  CHECK(bf_widen(0xff80) == -std::numeric_limits<float>::infinity());
}

TEST_CASE("bfloat16: every bit pattern round-trips through float") {
  long bad = 0, nans = 0;
  for (uint32_t i = 0; i <= 0xffff; ++i) {
    const uint16_t bits = static_cast<uint16_t>(i);
    const float f = bf_widen(bits);
    const uint16_t back = BFloat16(f).bits;
    const bool is_nan = (bits & 0x7f80) == 0x7f80 && (bits & 0x7f) != 0;
    if (is_nan) {
      ++nans;
      if (!std::isnan(f)) ++bad;
      // Quiet NaNs come back bit for bit; signalling ones come back quieted, payload kept.
      if (back != (bits | 0x40)) ++bad;
    } else if (back != bits) {
      ++bad;
    }
  }
  CHECK(nans == 2 * 127);
  CHECK(bad == 0);
}

TEST_CASE("bfloat16: fp32 -> bf16 matches the reference at every bf16 value and midpoint") {
  const std::vector<double>& t = bf16_values();
  BfTally tally;
  long not_float = 0;
  for (size_t i = 0; i < 0x7f80; ++i) {
    const double mid = (t[i] + t[i + 1]) / 2;  // for i = 0x7f7f this is the overflow edge
    not_float += static_cast<double>(static_cast<float>(mid)) != mid;  // midpoints are floats
    for (const float s : {1.0f, -1.0f}) {
      tally.check_with_neighbours(s * static_cast<float>(t[i]));
      tally.check_with_neighbours(s * static_cast<float>(mid));
    }
  }
  CHECK(not_float == 0);
  CHECK_BF_TALLY(tally);
}

TEST_CASE("bfloat16: fp32 -> bf16 matches the reference on specials and every kind of NaN") {
  BfTally tally;
  const float inf = std::numeric_limits<float>::infinity();
  for (const float f :
       {0.0f, inf, std::numeric_limits<float>::max(), std::numeric_limits<float>::min(),
        std::numeric_limits<float>::denorm_min(), std::ldexp(1.0f, -133), std::ldexp(1.0f, -134),
        std::ldexp(1.5f, -134), 1.0f}) {
    tally.check_with_neighbours(f);
    tally.check_with_neighbours(-f);
  }
  for (uint32_t m = 1; m <= 0x7fffffu; m += 4099) {
    tally.check(bf_f32(0x7f800000u | m));
    tally.check(bf_f32(0xff800000u | m));
  }
  for (int bit = 0; bit < 23; ++bit) {  // each payload bit on its own (low ones are dropped)
    tally.check(bf_f32(0x7f800000u | (1u << bit)));
    tally.check(bf_f32(0xff800000u | (1u << bit)));
  }
  tally.check(bf_f32(0x7fffffffu));
  tally.check(bf_f32(0x7f80ffffu));  // rounding the payload must not carry into the exponent
  tally.check(std::numeric_limits<float>::quiet_NaN());
  tally.check(std::numeric_limits<float>::signaling_NaN());
  CHECK_BF_TALLY(tally);
}

TEST_CASE("bfloat16: fp32 -> bf16 matches the reference on 10^7 random bit patterns") {
  std::mt19937 rng(20240602u);
  BfTally tally;
  for (int i = 0; i < 10'000'000; ++i) tally.check(bf_f32(static_cast<uint32_t>(rng())));
  CHECK(tally.checked == 10'000'000);
  CHECK_BF_TALLY(tally);
}

TEST_CASE(
    "bfloat16: fp32 -> bf16 matches the reference on 10^7 random floats near ties and subnormal") {
  // The dropped low 16 bits are drawn near the halfway point 0x8000 or at its ends half of the
  // time, and a quarter of the draws have a zero exponent field (float subnormals, where
  // bfloat16 subnormals live).
  std::mt19937 rng(8u);
  const uint32_t edges[] = {0x0000u, 0x0001u, 0x7fffu, 0x8000u, 0x8001u, 0xffffu};
  BfTally tally;
  for (int i = 0; i < 10'000'000; ++i) {
    const uint32_t r = static_cast<uint32_t>(rng());
    uint32_t u = r;
    if (r & 1u) u = (u & 0xffff0000u) | edges[(r >> 1) % 6];
    if ((r & 0x6u) == 0) u &= 0x807fffffu;
    tally.check(bf_f32(u));
  }
  CHECK_BF_TALLY(tally);
}

// ---- the lecture's figures -------------------------------------------------------------------

TEST_CASE("bfloat16: max finite is 3.38953139e38 (0x7F7F)") {
  CHECK(bf_widen(0x7f7f) == std::ldexp(255.0f, 120));  // (2 - 2^-7) * 2^127
  CHECK(static_cast<double>(bf_widen(0x7f7f)) ==
        doctest::Approx(3.38953139e38).epsilon(1e-8).scale(0));
  CHECK(BFloat16(bf_widen(0x7f7f)).bits == 0x7f7f);
  CHECK(BFloat16(-bf_widen(0x7f7f)).bits == 0xff7f);
}

TEST_CASE("bfloat16: (2 - 2^-8) x 2^127 = 3.3961775e38 is the first float that rounds to inf") {
  const float edge = std::ldexp(511.0f, 119);  // midpoint of 0x7F7F and 2^128; 0x7F7F is odd
  CHECK(bf_u32(edge) == 0x7f7f8000u);
  CHECK(static_cast<double>(edge) == doctest::Approx(3.3961775e38).epsilon(1e-7).scale(0));
  CHECK(BFloat16(edge).bits == 0x7f80);
  CHECK(BFloat16(-edge).bits == 0xff80);
  CHECK(BFloat16(std::nextafter(edge, 0.0f)).bits == 0x7f7f);
  CHECK(BFloat16(std::numeric_limits<float>::max()).bits == 0x7f80);  // FLT_MAX overflows
}

TEST_CASE("bfloat16: smallest subnormal is 2^-133") {
  CHECK(bf_widen(0x0001) == std::ldexp(1.0f, -133));
  CHECK(BFloat16(std::ldexp(1.0f, -133)).bits == 0x0001);
  CHECK(BFloat16(std::ldexp(1.0f, -134)).bits == 0x0000);  // tie to even: zero
  CHECK(BFloat16(std::ldexp(1.5f, -134)).bits == 0x0001);
  CHECK(BFloat16(-std::ldexp(1.0f, -134)).bits == 0x8000);
}

TEST_CASE("bfloat16: smallest normal is 2^-126") {
  CHECK(bf_widen(0x0080) == std::ldexp(1.0f, -126));
  CHECK(bf_widen(0x0080) == std::numeric_limits<float>::min());
  CHECK(BFloat16(std::numeric_limits<float>::min()).bits == 0x0080);
}

TEST_CASE("bfloat16: 1 + 2^-8 ties to 1 (even) while 1 + 3 x 2^-8 rounds up to 1 + 2^-6") {
  CHECK(BFloat16(1.0f + std::ldexp(1.0f, -8)).bits == 0x3f80);
  CHECK(BFloat16(1.0f + 3 * std::ldexp(1.0f, -8)).bits ==
        0x3f82);  // tie between 0x3f81 (odd) and 0x3f82
  CHECK(bf_widen(0x3f82) == 1.0f + std::ldexp(1.0f, -6));
  CHECK(BFloat16(std::nextafter(1.0f + std::ldexp(1.0f, -8), 2.0f)).bits == 0x3f81);
}

TEST_CASE("bfloat16: epsilon is 2^-7") {
  CHECK(bf_widen(0x3f81) - 1.0f == std::ldexp(1.0f, -7));
  CHECK(BFloat16(1.0f).bits == 0x3f80);
}

TEST_CASE("bfloat16: keeps the fp32 exponent range") {
  for (const float f :
       {3e38f, 1e38f, 1e-37f, 1.5e-38f, std::ldexp(1.0f, 127), std::ldexp(1.0f, -126)}) {
    const float back = static_cast<float>(BFloat16(f));
    CHECK(std::isfinite(back));
    CHECK(back != 0.0f);
    CHECK(std::fabs(back - f) <= std::ldexp(std::fabs(f), -8));  // relative error <= 2^-8
  }
  CHECK(static_cast<float>(BFloat16(std::ldexp(1.0f, 127))) == std::ldexp(1.0f, 127));
  CHECK(static_cast<float>(BFloat16(1e-39f)) != 0.0f);  // float subnormals survive too (coarser)
  CHECK(static_cast<float>(BFloat16(65520.0f)) == 65536.0f);  // fp16 overflows here; bf16 does not
}

TEST_CASE("bfloat16: overflow goes to signed infinity, NaN stays NaN, -0 stays -0") {
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(BFloat16(inf).bits == 0x7f80);
  CHECK(BFloat16(-inf).bits == 0xff80);
  CHECK(BFloat16(-std::numeric_limits<float>::max()).bits == 0xff80);
  CHECK(std::isnan(static_cast<float>(BFloat16(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(std::isnan(
      static_cast<float>(BFloat16(bf_f32(0x7f800001u)))));  // payload only in dropped bits
  CHECK(BFloat16(-0.0f).bits == 0x8000);
  CHECK(std::signbit(static_cast<float>(BFloat16(-0.0f))));
  CHECK(BFloat16(-std::numeric_limits<float>::denorm_min()).bits == 0x8000);
}
