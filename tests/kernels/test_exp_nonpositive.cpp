// kernels/cpu/exp_nonpositive.h: the fused attention's float exp against exp in double.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "halfgrad/kernels/cpu/exp_nonpositive.h"

using hg::kernels::cpu::exp_nonpositive;

TEST_CASE("exp_nonpositive: within 1.22 ulp of e^x on [-87, 0], mostly correctly rounded") {
  double worst = 0.0;
  int64_t count = 0, rounded = 0;
  // every 997th float from -0 down to -87 (about 1.1 million of them)
  for (uint32_t bits = 0x80000000u;; bits += 997) {
    const float x = std::bit_cast<float>(bits);
    if (!(x >= -87.0f)) break;
    const double exact = std::exp(static_cast<double>(x));
    const float got = exp_nonpositive(x);
    const double ulp = std::ldexp(1.0, std::ilogb(static_cast<float>(exact)) - 23);
    worst = std::max(worst, std::fabs(got - exact) / ulp);
    rounded += got == static_cast<float>(exact);
    ++count;
  }
  CHECK(count > 1000000);
  CHECK(worst < 1.22);
  CHECK(static_cast<double>(rounded) / static_cast<double>(count) > 0.99);
}

TEST_CASE("exp_nonpositive: the ends of its domain, -inf and NaN") {
  CHECK(exp_nonpositive(0.0f) == 1.0f);
  CHECK(exp_nonpositive(-0.0f) == 1.0f);
  CHECK(exp_nonpositive(-1.0f) == static_cast<float>(std::exp(-1.0)));
  CHECK(exp_nonpositive(-87.0f) > 0.0f);  // e^-87 = 1.6e-38, a normal float
  CHECK(exp_nonpositive(-87.5f) == 0.0f);
  CHECK(exp_nonpositive(-1e30f) == 0.0f);
  CHECK(exp_nonpositive(-std::numeric_limits<float>::infinity()) == 0.0f);
  CHECK(std::isnan(exp_nonpositive(std::numeric_limits<float>::quiet_NaN())));
  CHECK(exp_nonpositive(-0.5) == std::exp(-0.5));  // fp64: the library's exp
}
