// Tensor casts between fp32 and fp16/bf16 go through 8-wide bulk conversions on contiguous
// data: they must round exactly like the scalar Half/BFloat16 conversions, bit for bit.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>

#include "test_util.h"

using namespace hg;

namespace {
template <typename T>
void check_all_patterns() {
  std::vector<T> all(65536);
  for (uint32_t b = 0; b < 65536; ++b) all[b] = T::from_bits(static_cast<uint16_t>(b));
  const Tensor wide =
      from_vector(all, {65536}, std::is_same_v<T, Half> ? kFloat16 : kBFloat16).to(kFloat32);
  const float* w = wide.data<float>();
  int mismatches = 0;
  for (uint32_t b = 0; b < 65536; ++b) {
    const float expected = static_cast<float>(all[b]);
    mismatches += std::memcmp(&w[b], &expected, 4) != 0;
  }
  CHECK(mismatches == 0);
  // and back: every pattern that is not a NaN returns to its own bits
  const Tensor back = wide.to(std::is_same_v<T, Half> ? kFloat16 : kBFloat16);
  const T* n = static_cast<const T*>(back.data_ptr());
  int wrong = 0;
  for (uint32_t b = 0; b < 65536; ++b)
    if (static_cast<float>(all[b]) == static_cast<float>(all[b])) wrong += n[b].bits != b;
  CHECK(wrong == 0);
}

template <typename T>
void check_random_floats(DType dtype) {
  std::mt19937 rng(7);
  std::vector<float> values(1 << 16);
  for (float& v : values) {
    const uint32_t bits = rng();
    std::memcpy(&v, &bits, 4);
  }
  const Tensor narrow = from_vector(values, {1 << 16}).to(dtype);
  const T* n = static_cast<const T*>(narrow.data_ptr());
  int wrong = 0;
  for (size_t i = 0; i < values.size(); ++i) wrong += n[i].bits != T(values[i]).bits;
  CHECK(wrong == 0);
}
}  // namespace

TEST_CASE("cast: fp16 <-> fp32 tensor casts match the scalar conversions on every pattern") {
  check_all_patterns<Half>();
  check_random_floats<Half>(kFloat16);
}

TEST_CASE("cast: bf16 <-> fp32 tensor casts match the scalar conversions on every pattern") {
  check_all_patterns<BFloat16>();
  check_random_floats<BFloat16>(kBFloat16);
}

namespace {

// The 16-bit value nearest to each of 2^15 random doubles that sit just beside a midpoint of two
// neighbouring finite 16-bit values (a midpoint nudged by 2^-30 of an ulp either way, or not at
// all): the nudge decides the rounding, which a rounding to float first would erase.
template <typename T>
void check_doubles_round_once(DType dtype) {
  std::mt19937_64 rng(11);
  const uint16_t top = std::is_same_v<T, Half> ? 0x7bff : 0x7f7f;  // largest finite pattern
  std::vector<double> xs;
  std::vector<uint16_t> expected;
  for (int i = 0; i < (1 << 15); ++i) {
    const auto b = static_cast<uint16_t>(rng() % top);  // b and b + 1 both finite, >= 0
    const double lo = static_cast<float>(T::from_bits(b));
    const double hi = static_cast<float>(T::from_bits(static_cast<uint16_t>(b + 1)));
    const int nudge = static_cast<int>(rng() % 3) - 1;  // -1, 0, +1
    const double x = (lo + hi) / 2 + nudge * std::ldexp(hi - lo, -30);
    const uint16_t want = nudge > 0 ? b + 1 : nudge < 0 ? b : (b % 2 == 0 ? b : b + 1);
    const bool negative = rng() % 2;
    xs.push_back(negative ? -x : x);
    expected.push_back(static_cast<uint16_t>(want | (negative ? 0x8000 : 0)));
  }
  const Tensor rounded = from_vector(xs, kFloat64).to(dtype);
  const T* r = static_cast<const T*>(rounded.data_ptr());
  int wrong = 0;
  for (size_t i = 0; i < xs.size(); ++i) wrong += r[i].bits != expected[i];
  CHECK(wrong == 0);
}

}  // namespace

TEST_CASE("cast: fp64 -> fp16/bf16 rounds once, to the nearest 16-bit value") {
  check_doubles_round_once<Half>(kFloat16);
  check_doubles_round_once<BFloat16>(kBFloat16);
  // the two examples that rounding through float gets wrong
  CHECK(scalar_tensor(1 + std::ldexp(1, -11) + std::ldexp(1, -40), kFloat64)
            .to(kFloat16)
            .item<double>() == 1 + std::ldexp(1, -10));
  CHECK(scalar_tensor(1 + std::ldexp(1, -8) + std::ldexp(1, -40), kFloat64)
            .to(kBFloat16)
            .item<double>() == 1 + std::ldexp(1, -7));
  CHECK(std::isinf(scalar_tensor(1e300, kFloat64).to(kFloat16).item<double>()));
  CHECK(scalar_tensor(1e-300, kFloat64).to(kFloat16).item<double>() == 0.0);
  CHECK(std::signbit(scalar_tensor(-1e-300, kFloat64).to(kBFloat16).item<double>()));
  CHECK(std::isnan(scalar_tensor(NAN, kFloat64).to(kFloat16).item<double>()));
}

TEST_CASE("cast: int64 -> bf16/fp16 rounds once, and -> bool tests the value, not its float") {
  const Tensor big = from_vector(
      std::vector<int64_t>{16842753, -16842753, (int64_t{1} << 40) + 1, 65519, 65520}, kInt64);
  const std::vector<double> b = big.to(kBFloat16).to_vector<double>();
  CHECK(b[0] == 16908288.0);  // 2^24 + 2^16 + 1: above the midpoint, so up (float would tie)
  CHECK(b[1] == -16908288.0);
  CHECK(b[2] == std::ldexp(1, 40));
  const std::vector<double> h = big.to(kFloat16).to_vector<double>();
  CHECK(h[3] == 65504.0);  // below fp16's overflow threshold 65520
  CHECK(std::isinf(h[4]));
  CHECK(scalar_tensor(1e-50, kFloat64).to(kBool).item<bool>());  // float(1e-50) would be 0
  CHECK_FALSE(scalar_tensor(0.0, kFloat64).to(kBool).item<bool>());
  CHECK(from_vector(std::vector<int64_t>{int64_t{1} << 62}, kInt64).to(kBool).item<bool>());
}

TEST_CASE("cast: floating -> integer saturates, and NaN becomes 0 (as on the GPU)") {
  const Tensor x =
      from_vector(std::vector<double>{NAN, 1e30, -1e30, 300.7, -5.5, 2.9, -2.9}, kFloat64);
  CHECK(x.to(kInt64).to_vector<int64_t>() ==
        std::vector<int64_t>{0, INT64_MAX, INT64_MIN, 300, -5, 2, -2});
  const Tensor u = x.to(kUInt8);
  const auto* p = static_cast<const uint8_t*>(u.data_ptr());
  CHECK(std::vector<int>(p, p + 7) == std::vector<int>{0, 255, 0, 255, 0, 2, 0});
  CHECK(from_vector(std::vector<float>{INFINITY, -INFINITY}, kFloat32)
            .to(kInt64)
            .to_vector<int64_t>() == std::vector<int64_t>{INT64_MAX, INT64_MIN});
}
