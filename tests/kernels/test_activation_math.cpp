// kernels/cpu/activation_math.h: the recurrent cells' float sigmoid and tanh (computed in double,
// rounded once) against long double references, over a sample of every float, and at the edges.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "halfgrad/kernels/cpu/activation_math.h"

using hg::kernels::cpu::ExpSplit;
using hg::kernels::cpu::sigmoid_rounded;
using hg::kernels::cpu::split_exp;
using hg::kernels::cpu::tanh_rounded;

namespace {

struct Agreement {
  int64_t count = 0, rounded = 0, within_ulp = 0;
};

// f against reference (long double) for every 997th finite float of both signs.
template <typename F, typename R>
Agreement agreement(F f, R reference) {
  Agreement a;
  for (uint64_t bits = 0; bits < 0x100000000u; bits += 997) {
    const float x = std::bit_cast<float>(static_cast<uint32_t>(bits));
    if (!std::isfinite(x)) continue;
    const long double exact = reference(static_cast<long double>(x));
    const float expected = static_cast<float>(exact), got = f(x);
    ++a.count;
    a.rounded += got == expected;
    a.within_ulp += got == expected || std::nextafter(expected, got) == got;
  }
  return a;
}

}  // namespace

TEST_CASE("split_exp: e^t and e^t - 1 within 1.5 double ulps on [-80, 0]") {
  double worst_exp = 0.0, worst_expm1 = 0.0;
  for (int i = 0; i <= 400000; ++i) {
    const double t = -80.0 * i / 400000.0 - 1e-9 * (i % 7);  // near 0 too
    const ExpSplit s = split_exp(t);
    const double e = s.q * s.two_to_n + s.two_to_n, m = s.q * s.two_to_n + (s.two_to_n - 1.0);
    const auto ulps = [](double got, long double exact) {
      return static_cast<double>(std::fabs(got - exact)) / std::ldexp(1.0, std::ilogb(got) - 52);
    };
    worst_exp = std::max(worst_exp, ulps(e, std::exp(static_cast<long double>(t))));
    if (m != 0.0)
      worst_expm1 = std::max(worst_expm1, ulps(m, std::expm1(static_cast<long double>(t))));
  }
  CHECK(worst_exp < 1.5);
  CHECK(worst_expm1 < 1.5);
}

TEST_CASE("tanh_rounded: the correctly rounded float tanh on a sample of every float") {
  const Agreement a = agreement(tanh_rounded, [](long double x) { return std::tanh(x); });
  CHECK(a.count > 4000000);
  CHECK(a.within_ulp == a.count);
  CHECK(a.rounded == a.count);
}

TEST_CASE("sigmoid_rounded: the correctly rounded float sigmoid on a sample of every float") {
  const Agreement a = agreement(sigmoid_rounded, [](long double x) {
    return x >= 0 ? 1.0L / (1.0L + std::exp(-x)) : std::exp(x) / (1.0L + std::exp(x));
  });
  CHECK(a.count > 4000000);
  CHECK(a.within_ulp == a.count);
  // a near-tie may round the other way: one in this sample, x = -8.28504562e-06, whose sigmoid
  // is 2.4e-17 (relative) above the midpoint between two floats
  CHECK(a.count - a.rounded <= 1);
}

TEST_CASE("sigmoid_rounded, tanh_rounded: zeros, tiny and huge inputs, infinities, NaN") {
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(tanh_rounded(0.0f) == 0.0f);
  CHECK(std::signbit(tanh_rounded(-0.0f)));
  CHECK(!std::signbit(tanh_rounded(0.0f)));
  CHECK(tanh_rounded(1e-40f) == 1e-40f);  // a subnormal: tanh x = x to float precision
  CHECK(tanh_rounded(1e-3f) == static_cast<float>(std::tanh(1e-3L)));
  CHECK(tanh_rounded(9.0f) == static_cast<float>(std::tanh(9.0L)));
  CHECK(tanh_rounded(40.0f) == 1.0f);
  CHECK(tanh_rounded(-inf) == -1.0f);
  CHECK(std::isnan(tanh_rounded(std::numeric_limits<float>::quiet_NaN())));
  CHECK(sigmoid_rounded(0.0f) == 0.5f);
  CHECK(sigmoid_rounded(-0.0f) == 0.5f);
  CHECK(sigmoid_rounded(-100.0f) == static_cast<float>(std::exp(-100.0L)));  // subnormal float
  CHECK(sigmoid_rounded(-200.0f) == 0.0f);
  CHECK(sigmoid_rounded(200.0f) == 1.0f);
  CHECK(sigmoid_rounded(inf) == 1.0f);
  CHECK(sigmoid_rounded(-inf) == 0.0f);
  CHECK(std::isnan(sigmoid_rounded(std::numeric_limits<float>::quiet_NaN())));
}
