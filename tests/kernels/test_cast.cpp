// Tensor casts between fp32 and fp16/bf16 go through 8-wide bulk conversions on contiguous
// data: they must round exactly like the scalar Half/BFloat16 conversions, bit for bit.
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
