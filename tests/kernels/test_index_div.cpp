// kernels/cuda/index_div.h on the host: FastDivmod's multiply-high division equals the plain
// one, for every divisor shape the CUDA kernels meet (1, powers of two, odd, large) and for
// numerators up to 2^31 - 1. The header is CUDA-free, so this runs in every build.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <type_traits>
#include <vector>

#include "halfgrad/kernels/cuda/index_div.h"

using hg::cuda::FastDivmod;
using hg::cuda::WideDivmod;

namespace {

void check_divisor(int64_t d, std::mt19937_64& rng) {
  const FastDivmod fast(d);
  const uint32_t divisor = static_cast<uint32_t>(d);
  std::vector<uint32_t> numerators = {0,           1,           divisor - 1, divisor,
                                      divisor + 1, 0x7fffffffu, 0x7ffffffeu};
  for (uint32_t k : {2u, 3u, 1000u}) numerators.push_back(divisor * k - 1);
  std::uniform_int_distribution<uint32_t> any(0, 0x7fffffffu);
  for (int i = 0; i < 2000; ++i) numerators.push_back(any(rng));
  for (uint32_t n : numerators) {
    if (n > 0x7fffffffu) continue;  // (divisor * k - 1 may pass 2^31 for large divisors)
    if (fast.div(n) != n / divisor || fast.mod(n) != n % divisor) {
      FAIL_CHECK("FastDivmod(" << d << ") of " << n << ": " << fast.div(n) << " rem " << fast.mod(n)
                               << ", expected " << n / divisor << " rem " << n % divisor);
      return;
    }
  }
}

}  // namespace

TEST_CASE("FastDivmod divides every 31-bit index like the plain division") {
  std::mt19937_64 rng(7);
  for (int64_t d = 1; d <= 4096; ++d) check_divisor(d, rng);
  for (int shift = 12; shift <= 31; ++shift) {
    const int64_t p = int64_t{1} << shift;
    for (int64_t d : {p - 1, p, p + 1}) {
      if (d <= (int64_t{1} << 31)) check_divisor(d, rng);
    }
  }
  std::uniform_int_distribution<int64_t> any_divisor(1, int64_t{1} << 31);
  for (int i = 0; i < 2000; ++i) check_divisor(any_divisor(rng), rng);
}

TEST_CASE("a divisor below 1 is taken as 1 and with_index_width picks by the bound") {
  CHECK(FastDivmod(0).div(17) == 17);
  CHECK(WideDivmod(0).mod(17) == 0);
  const int64_t past = (int64_t{1} << 31) + 1;
  CHECK(WideDivmod(past).div(int64_t{3} << 31) == 2);
  int fast = 0, wide = 0;
  auto count = [&]<typename D>() { (std::is_same_v<D, FastDivmod> ? fast : wide) += 1; };
  hg::cuda::with_index_width(int64_t{1} << 31, count);
  hg::cuda::with_index_width(past, count);
  CHECK(fast == 1);
  CHECK(wide == 1);
}
