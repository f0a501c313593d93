#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <thread>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "halfgrad/core/error.h"
#include "halfgrad/core/philox.h"
#include "halfgrad/core/random.h"

using namespace hg;
using namespace hg::random;

namespace {
void check_words(Philox4x32 got, Philox4x32 want) {
  for (int j = 0; j < 4; ++j) CHECK(got.v[j] == want.v[j]);
}
template <typename T>
bool bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}
template <typename T>
void mean_var(const std::vector<T>& v, double& mean, double& var) {
  double s = 0, s2 = 0;
  for (T x : v) s += static_cast<double>(x);
  mean = s / static_cast<double>(v.size());
  for (T x : v) s2 += (static_cast<double>(x) - mean) * (static_cast<double>(x) - mean);
  var = s2 / static_cast<double>(v.size());
}
}  // namespace

TEST_CASE("philox4x32_10 matches the Random123 known-answer vectors") {
  check_words(philox4x32_10({{0, 0, 0, 0}}, {{0, 0}}),
              {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}});
  check_words(philox4x32_10({{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}},
                            {{0xffffffffu, 0xffffffffu}}),
              {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}});
  check_words(philox4x32_10({{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}},
                            {{0xa4093822u, 0x299f31d0u}}),
              {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}});
  // philox_block: counter {low32(block), high32(block), 0, 0}, key {low32(seed), high32(seed)}.
  check_words(philox_block(0x299f31d0a4093822ull, 0x85a308d3243f6a88ull),
              philox4x32_10({{0x243f6a88u, 0x85a308d3u, 0, 0}}, {{0xa4093822u, 0x299f31d0u}}));
}

TEST_CASE("word conversions and mulhi64") {
  CHECK((uniform_f32(0) == 0.f && uniform_f32(0xffffffffu) == 1.f - 0x1p-24f));
  CHECK((uniform_f32_open0(0) == 0x1p-24f && uniform_f32_open0(0xffffffffu) == 1.f));
  CHECK((uniform_f64(0, 0) == 0.0 && uniform_f64(0xffffffffu, 0xffffffffu) == 1.0 - 0x1p-53));
  CHECK(uniform_f64(0x800u, 0) == 0x1p-53);  // bit 11 of the low word is the lowest bit kept
  CHECK((uniform_f64_open0(0, 0) == 0x1p-53 && uniform_f64_open0(~0u, ~0u) == 1.0));
  CHECK(scale_uniform(1.f - 0x1p-24f, 1.f, 2.f) < 2.f);  // rounding up to high is clamped
  CHECK(scale_uniform(0.5f, 3.f, 3.f) == 3.f);
  __extension__ typedef unsigned __int128 u128;
  uint64_t a = 0x9e3779b97f4a7c15ull, b = 0xbf58476d1ce4e5b9ull;
  for (int i = 0; i < 1000; ++i) {
    CHECK(mulhi64(a, b) == static_cast<uint64_t>((static_cast<u128>(a) * b) >> 64));
    a = a * 6364136223846793005ull + 1442695040888963407ull;
    b ^= a >> 7;
  }
  CHECK(mulhi64(~0ull, ~0ull) == ~0ull - 1);
}

// Largest log error (in ulps of T) and sin/cos error (absolute) at u, against long double libm.
template <typename T>
void track_math_error(T u, double& log_ulps, double& sincos_abs) {
  const long double ref = std::log(static_cast<long double>(u));
  const T r = std::fabs(static_cast<T>(ref));
  const long double ulp = std::nextafter(r, std::numeric_limits<T>::infinity()) - r;
  if (ref != 0) log_ulps = std::max(log_ulps, double(std::fabs(log_positive(u) - ref) / ulp));
  if (u >= T(1)) return;
  T s, c;
  sincos_2pi(u, s, c);
  const long double t = 6.283185307179586476925286766559L * u;
  sincos_abs = std::max(
      {sincos_abs, double(std::fabs(s - std::sin(t))), double(std::fabs(c - std::cos(t)))});
}

TEST_CASE("portable log / sin / cos agree with libm") {
  double log_f = 0, log_d = 0, sc_f = 0, sc_d = 0;
  for (uint32_t k = 1; k <= (1u << 24); k += 97)  // floats of the form k * 2^-24
    track_math_error(static_cast<float>(k) * 0x1p-24f, log_f, sc_f);
  uint64_t x = 12345;
  for (int i = 0; i < 200000; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const double u = uniform_f64_open0(uint32_t(x), uint32_t(x >> 32));
    track_math_error(u, log_d, sc_d);
    track_math_error(std::ldexp(u, -(i % 40)), log_d, sc_d);  // down to 2^-53 and below
  }
  CHECK(log_positive(1.f) == 0.f);
  CHECK(log_positive(1.0) == 0.0);
  CHECK(log_f <= 3.0);  // ulps
  CHECK(log_d <= 3.0);
  CHECK(sc_f <= 2e-7);  // absolute, values in [-1, 1]
  CHECK(sc_d <= 4e-16);
  MESSAGE("log ulps f32 ", log_f, " f64 ", log_d, "; sin/cos error f32 ", sc_f, " f64 ", sc_d);
}

TEST_CASE("fills are deterministic and map each element to block offset + i / V") {
  const int64_t n = 1003;
  std::vector<float> a(n), b(n), c(n), e(n);
  fill_normal(a.data(), n, 0.f, 1.f, 42, 7);
  fill_normal(b.data(), n, 0.f, 1.f, 42, 7);
  fill_normal(c.data(), n, 0.f, 1.f, 43, 7);
  fill_normal(e.data(), n, 0.f, 1.f, 42, 8);
  CHECK((bitwise_equal(a, b) && !bitwise_equal(a, c) && !bitwise_equal(a, e)));
  for (int64_t i = 0; i < n; ++i) {  // element i from block 7 + i/4, word i%4
    float block[4];
    normal_block(42, 7 + static_cast<uint64_t>(i / 4), 0.f, 1.f, block);
    REQUIRE(std::memcmp(&a[i], &block[i % 4], sizeof(float)) == 0);
  }
  std::vector<double> d(n);
  fill_uniform(d.data(), n, -1.0, 1.0, 42, 7);
  for (int64_t i = 0; i < n; ++i) {
    const Philox4x32 w = philox_block(42, 7 + static_cast<uint64_t>(i / 2));
    const int k = static_cast<int>(i % 2);
    REQUIRE(d[i] == scale_uniform(uniform_f64(w.v[2 * k], w.v[2 * k + 1]), -1.0, 1.0));
  }
  // Pinned values (seed 42, offset 0): the stream changes only deliberately, and the CUDA
  // kernels must reproduce exactly these bits.
  float f[4];
  double g[2];
  int64_t r[2];
  fill_normal(f, 4, 0.f, 1.f, 42, 0);
  CHECK((f[0] == -0x1.f0bcb2p-1f && f[1] == 0x1.8d59d8p-3f && f[2] == -0x1.3c519ap+0f &&
         f[3] == 0x1.ec867cp+0f));
  fill_normal(g, 2, 0.0, 1.0, 42, 0);
  CHECK((g[0] == -0x1.54ac03c1a032bp-1 && g[1] == 0x1.0938db380d761p+0));
  fill_uniform(f, 4, 0.f, 1.f, 42, 0);
  CHECK((f[0] == 0x1.39d5ep-1f && f[1] == 0x1.dfd524p-2f && f[2] == 0x1.2bf5p-4f &&
         f[3] == 0x1.5d0accp-2f));
  fill_randint(r, 2, -100, 100, 42, 0);
  CHECK((r[0] == -7 && r[1] == -32));
}

TEST_CASE("reserved offsets continue the stream, each fill starts at a fresh block") {
  Generator gen(2024);
  std::vector<float> a(8), b(8), whole(16);
  fill_uniform(a.data(), 8, 0.f, 1.f, gen.seed(), gen.reserve(blocks_uniform_f32(8)));
  fill_uniform(b.data(), 8, 0.f, 1.f, gen.seed(), gen.reserve(blocks_uniform_f32(8)));
  CHECK(gen.offset() == 4);
  fill_uniform(whole.data(), 16, 0.f, 1.f, 2024, 0);
  a.insert(a.end(), b.begin(), b.end());
  CHECK(bitwise_equal(a, whole));

  // 10 values use 3 blocks (2 words dropped), so the next fill of 6 starts at block 3.
  gen.manual_seed(2024);
  std::vector<float> ten(10), six(6), twenty(20);
  fill_normal(ten.data(), 10, 0.f, 1.f, 2024, gen.reserve(blocks_normal_f32(10)));
  fill_normal(six.data(), 6, 0.f, 1.f, 2024, gen.reserve(blocks_normal_f32(6)));
  CHECK(gen.offset() == 5);
  fill_normal(twenty.data(), 20, 0.f, 1.f, 2024, 0);
  CHECK(bitwise_equal(ten, std::vector<float>(twenty.begin(), twenty.begin() + 10)));
  CHECK(bitwise_equal(six, std::vector<float>(twenty.begin() + 12, twenty.begin() + 18)));
  // blocks_for(n, words per value): 1 word per float32, 2 per float64 / int64.
  CHECK((blocks_for(0, 1) == 0 && blocks_for(9, 1) == 3 && blocks_for(5, 2) == 3));
  CHECK((blocks_uniform_f64(3) == 2 && blocks_randint(4) == 2 && blocks_normal_f64(1) == 1));
}

TEST_CASE("uniform range, mean and variance over 10^6 samples") {
  const int64_t n = 1000000;
  std::vector<float> f(n);
  fill_uniform(f.data(), n, -2.f, 3.f, 1, 0);
  double mean, var;
  mean_var(f, mean, var);
  const auto [f_min, f_max] = std::minmax_element(f.begin(), f.end());
  CHECK((*f_min >= -2.f && *f_max < 3.f));
  CHECK(mean == doctest::Approx(0.5).epsilon(0.02));
  CHECK(var == doctest::Approx(25.0 / 12).epsilon(0.01));
  std::vector<double> d(n);
  fill_uniform(d.data(), n, 0.0, 1.0, 1, 0);
  mean_var(d, mean, var);
  const auto [d_min, d_max] = std::minmax_element(d.begin(), d.end());
  CHECK((*d_min >= 0.0 && *d_max < 1.0));
  CHECK(mean == doctest::Approx(0.5).epsilon(0.01));
  CHECK(var == doctest::Approx(1.0 / 12).epsilon(0.01));
  int64_t fine = 0;  // 53-bit doubles: most are not multiples of 2^-24
  for (double x : d) fine += std::ldexp(x, 24) != std::floor(std::ldexp(x, 24));
  CHECK(fine > n * 9 / 10);
  std::vector<float> same(5);
  fill_uniform(same.data(), 5, 4.f, 4.f, 1, 0);
  CHECK(std::all_of(same.begin(), same.end(), [](float x) { return x == 4.f; }));
}

TEST_CASE("normal mean, std and shape over 10^6 samples") {
  const int64_t n = 1000000;
  std::vector<float> f(n);
  fill_normal(f.data(), n, 1.f, 2.f, 3, 0);
  double mean, var;
  mean_var(f, mean, var);
  CHECK(mean == doctest::Approx(1.0).epsilon(0.01));
  CHECK(std::sqrt(var) == doctest::Approx(2.0).epsilon(0.005));
  int64_t within = 0;
  for (float x : f) within += std::fabs(x - 1.f) < 2.f;
  CHECK(static_cast<double>(within) / n == doctest::Approx(0.682689).epsilon(0.005));
  CHECK(std::all_of(f.begin(), f.end(), [](float x) { return std::fabs(x - 1.f) <= 2 * 5.78f; }));
  std::vector<double> d(n);
  fill_normal(d.data(), n, -3.0, 0.5, 3, 0);
  mean_var(d, mean, var);
  CHECK(mean == doctest::Approx(-3.0).epsilon(0.002));
  CHECK(std::sqrt(var) == doctest::Approx(0.5).epsilon(0.005));
  double m4 = 0;
  for (double x : d) m4 += std::pow((x + 3.0) / 0.5, 4);
  CHECK(m4 / n == doctest::Approx(3.0).epsilon(0.03));  // kurtosis of a normal
}

TEST_CASE("randint range and rough uniformity") {
  const int64_t n = 1000000;
  std::vector<int64_t> v(n);
  fill_randint(v.data(), n, -5, 5, 9, 0);
  std::vector<int64_t> counts(11, 0);  // counts[10]: out of range
  for (int64_t x : v) ++counts[x >= -5 && x < 5 ? static_cast<size_t>(x + 5) : 10];
  CHECK(counts.back() == 0);
  counts.pop_back();
  for (int64_t c : counts) CHECK(static_cast<double>(c) == doctest::Approx(n / 10.0).epsilon(0.02));
  const int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  fill_randint(v.data(), 1000, lo, hi, 9, 0);
  CHECK(std::any_of(v.begin(), v.begin() + 1000, [](int64_t x) { return x < 0; }));
  CHECK(std::any_of(v.begin(), v.begin() + 1000, [](int64_t x) { return x > 0; }));
  CHECK(std::all_of(v.begin(), v.begin() + 1000, [=](int64_t x) { return x != hi; }));
  fill_randint(v.data(), 100, 7, 8, 9, 0);
  CHECK(std::all_of(v.begin(), v.begin() + 100, [](int64_t x) { return x == 7; }));
}

TEST_CASE("fills do not depend on the OpenMP thread count") {
#ifdef _OPENMP
  const int64_t n = 300001;  // well above the parallel threshold, not a multiple of 4
  const int saved = omp_get_max_threads();
  std::vector<std::vector<float>> f;
  std::vector<std::vector<double>> d;
  std::vector<std::vector<int64_t>> r;
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    f.emplace_back(n), d.emplace_back(n), r.emplace_back(n);
    fill_normal(f.back().data(), n, 0.f, 1.f, 77, 5);
    fill_uniform(d.back().data(), n, 0.0, 1.0, 77, 5);
    fill_randint(r.back().data(), n, 0, 1000, 77, 5);
  }
  omp_set_num_threads(saved);
  for (size_t t = 1; t < f.size(); ++t)
    CHECK((bitwise_equal(f[0], f[t]) && bitwise_equal(d[0], d[t]) && bitwise_equal(r[0], r[t])));
#else
  MESSAGE("built without OpenMP: the element mapping test above covers split independence");
#endif
}

TEST_CASE("Generator state, seeding and thread-safe reserve") {
  Generator gen;
  CHECK(gen.seed() == Generator::kDefaultSeed);
  CHECK((gen.reserve(3) == 0 && gen.reserve(2) == 3));
  const Generator::State saved = gen.state();
  CHECK(saved == Generator::State{Generator::kDefaultSeed, 5});
  gen.manual_seed(11);
  CHECK(gen.state() == Generator::State{11, 0});
  gen.set_state(saved);
  CHECK(gen.state() == saved);
  gen.set_offset(100);
  CHECK(gen.reserve_state(1) == Generator::State{Generator::kDefaultSeed, 100});
  gen.set_offset(~0ull - 1);
  CHECK_THROWS_AS(gen.reserve(2), Error);
  CHECK(gen.offset() == ~0ull - 1);

  manual_seed(5);
  CHECK(&default_generator() == &default_generator());
  CHECK(default_generator().state() == Generator::State{5, 0});

  Generator shared(1);
  std::vector<std::vector<uint64_t>> got(4);
  std::vector<std::thread> threads;
  for (auto& g : got)
    threads.emplace_back([&shared, &g] {
      for (int i = 0; i < 1000; ++i) g.push_back(shared.reserve(2));
    });
  for (auto& t : threads) t.join();
  std::set<uint64_t> all;
  for (auto& g : got) all.insert(g.begin(), g.end());
  CHECK((all.size() == 4000 && *all.rbegin() == 7998 && shared.offset() == 8000));
}

TEST_CASE("fill argument errors throw hg::Error") {
  std::vector<float> f(4);
  std::vector<int64_t> v(4);
  CHECK_THROWS_WITH_AS(fill_uniform(f.data(), 4, 2.f, 1.f, 0, 0),
                       "fill_uniform: expected low <= high, got low=2 high=1", Error);
  CHECK_THROWS_AS(fill_uniform(f.data(), 4, NAN, 1.f, 0, 0), Error);
  CHECK_THROWS_AS(fill_uniform(f.data(), 4, -3e38f, 3e38f, 0, 0), Error);
  CHECK_THROWS_AS(fill_uniform(f.data(), -1, 0.f, 1.f, 0, 0), Error);
  CHECK_THROWS_AS(fill_normal(f.data(), 4, 0.f, -1.f, 0, 0), Error);
  CHECK_THROWS_AS(fill_randint(v.data(), 4, 3, 3, 0, 0), Error);
  CHECK_NOTHROW(fill_normal(static_cast<float*>(nullptr), 0, 0.f, 1.f, 0, 0));
}
