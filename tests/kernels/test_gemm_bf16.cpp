// kernels/cpu/gemm_bf16.h against a double loop over the same bf16 values: odd shapes around the
// 12 x 32 tile and the 512-deep k blocks, every transpose, beta, bf16 and float sources, the
// thread count, and the matmul / conv2d paths that use it. Skipped on CPUs without AVX-512 BF16.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "halfgrad/core/error.h"
#include "halfgrad/core/parallel.h"
#include "halfgrad/halfgrad.h"
#include "halfgrad/kernels/cpu/gemm_bf16.h"
#include "test_util.h"

namespace {

using hg::BFloat16;
using hg::kernels::cpu::gemm_bf16;
using hg::kernels::cpu::MatrixRef;

// Deterministic bf16 values in [-2, 2), some exactly 0.
std::vector<BFloat16> fill_bf16(size_t count, uint32_t seed) {
  std::vector<BFloat16> v(count);
  uint32_t state = seed * 2654435761u + 12345u;
  for (auto& x : v) {
    state = state * 1664525u + 1013904223u;
    x = BFloat16(static_cast<float>(static_cast<int32_t>(state >> 8) % 4096) / 1024.0f - 2.0f);
  }
  return v;
}

// One case: op(A) [m, k], op(B) [k, n], stored transposed when ta / tb, with extra leading room.
struct Case {
  int64_t m = 0, n = 0, k = 0;
  bool ta = false, tb = false;
  float beta = 0.0f;
};

struct Operands {
  std::vector<BFloat16> a, b;
  MatrixRef<BFloat16> ra, rb;
};

Operands make_operands(const Case& t) {
  const int64_t lda = (t.ta ? t.m : t.k) + 3, ldb = (t.tb ? t.k : t.n) + 5;
  Operands o;
  o.a = fill_bf16(static_cast<size_t>((t.ta ? t.k : t.m) * lda), 1);
  o.b = fill_bf16(static_cast<size_t>((t.tb ? t.n : t.k) * ldb), 2);
  o.ra = {o.a.data(), t.ta ? 1 : lda, t.ta ? lda : 1};
  o.rb = {o.b.data(), t.tb ? 1 : ldb, t.tb ? ldb : 1};
  return o;
}

double at(MatrixRef<BFloat16> r, int64_t i, int64_t j) {
  return static_cast<float>(r.data[i * r.row_stride + j * r.col_stride]);
}

// C (ldc = n + 2) as gemm_bf16 leaves it, starting from c0 everywhere.
std::vector<float> run(const Case& t, const Operands& o, float c0) {
  std::vector<float> c(static_cast<size_t>(t.m * (t.n + 2)), c0);
  gemm_bf16(t.m, t.n, t.k, o.ra, o.rb, t.beta, c.data(), t.n + 2);
  return c;
}

void check_case(const Case& t) {
  const Operands o = make_operands(t);
  const float c0 = 0.75f;
  const std::vector<float> c = run(t, o, c0);
  for (int64_t i = 0; i < t.m; ++i)
    for (int64_t j = 0; j < t.n + 2; ++j) {
      const float got = c[static_cast<size_t>(i * (t.n + 2) + j)];
      if (j >= t.n) {  // the room past n is never touched
        CHECK(got == c0);
        continue;
      }
      double sum = 0, magnitude = 0;
      for (int64_t p = 0; p < t.k; ++p) {
        sum += at(o.ra, i, p) * at(o.rb, p, j);
        magnitude += std::fabs(at(o.ra, i, p) * at(o.rb, p, j));
      }
      const double expected = sum + static_cast<double>(t.beta) * c0;
      // fp32 sums of exact products: k roundings of at most half an ulp of the running sum
      const double tol = (magnitude + 1.0) * 6e-8 * static_cast<double>(t.k + 2);
      CHECK_MESSAGE(std::fabs(got - expected) <= tol, "m " << t.m << " n " << t.n << " k " << t.k
                                                           << " ta " << t.ta << " tb " << t.tb
                                                           << " at " << i << "," << j);
    }
}

}  // namespace

TEST_CASE("gemm_bf16: odd shapes, every transpose, beta, against a double loop") {
  if (!hg::kernels::cpu::bf16_gemm_supported()) {
    MESSAGE("skipped: this CPU lacks AVX-512 BF16");
    return;
  }
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (const Case shape :
           {Case{1, 1, 1}, Case{12, 32, 2}, Case{13, 33, 3}, Case{11, 31, 257}, Case{25, 70, 513},
            Case{97, 5, 40}, Case{3, 2049, 9}, Case{14, 40, 1100}}) {
        for (float beta : {0.0f, 1.0f, 0.5f}) {
          Case t = shape;
          t.ta = ta, t.tb = tb, t.beta = beta;
          check_case(t);
        }
      }
}

TEST_CASE("gemm_bf16: beta 0 never reads C, k 0 scales C, bad sizes throw") {
  if (!hg::kernels::cpu::bf16_gemm_supported()) return;
  const Operands o = make_operands({5, 7, 9, false, false, 0.0f});
  const std::vector<float> c = run({5, 7, 9, false, false, 0.0f}, o, std::nanf(""));
  for (int64_t i = 0; i < 5; ++i)
    for (int64_t j = 0; j < 7; ++j) CHECK(!std::isnan(c[static_cast<size_t>(i * 9 + j)]));
  std::vector<float> scaled(6, 2.0f);
  gemm_bf16(2, 3, 0, o.ra, o.rb, 0.5f, scaled.data(), 3);
  for (float v : scaled) CHECK(v == 1.0f);
  CHECK_THROWS_AS(gemm_bf16(-1, 3, 2, o.ra, o.rb, 0.0f, scaled.data(), 3), hg::Error);
  CHECK_THROWS_AS(gemm_bf16(2, 3, 2, o.ra, o.rb, 0.0f, scaled.data(), 2), hg::Error);
}

TEST_CASE("gemm_bf16: the same bits on 1 and 2 threads and from float or mixed sources") {
  if (!hg::kernels::cpu::bf16_gemm_supported()) return;
  const Case t{130, 300, 600, false, true, 0.0f};  // large enough to split across threads
  const Operands o = make_operands(t);
  const int before = hg::get_num_threads();
  hg::set_num_threads(1);
  const std::vector<float> one = run(t, o, 0.0f);
  hg::set_num_threads(2);
  const std::vector<float> two = run(t, o, 0.0f);
  hg::set_num_threads(before);
  CHECK(one == two);
  std::vector<float> a(o.a.begin(), o.a.end()), b(o.b.begin(), o.b.end());
  std::vector<float> c(static_cast<size_t>(t.m * (t.n + 2)), 0.0f);
  gemm_bf16(t.m, t.n, t.k, MatrixRef<float>{a.data(), o.ra.row_stride, o.ra.col_stride},
            MatrixRef<float>{b.data(), o.rb.row_stride, o.rb.col_stride}, 0.0f, c.data(), t.n + 2);
  CHECK(c == one);
  // mixed sources (the convolution's widened weight times its bf16 columns, and the reverse)
  std::fill(c.begin(), c.end(), 0.0f);
  gemm_bf16(t.m, t.n, t.k, MatrixRef<float>{a.data(), o.ra.row_stride, o.ra.col_stride}, o.rb, 0.0f,
            c.data(), t.n + 2);
  CHECK(c == one);
  std::fill(c.begin(), c.end(), 0.0f);
  gemm_bf16(t.m, t.n, t.k, o.ra, MatrixRef<float>{b.data(), o.rb.row_stride, o.rb.col_stride}, 0.0f,
            c.data(), t.n + 2);
  CHECK(c == one);
}

// tests/CMakeLists.txt runs this case again with HG_CPU_BF16_GEMM=0 in the environment.
TEST_CASE("gemm_bf16: HG_CPU_BF16_GEMM=0 turns it off, and blas_info says whether it runs") {
  const char* env = std::getenv("HG_CPU_BF16_GEMM");
  const bool off = env != nullptr && std::string(env) == "0";
  CHECK(hg::kernels::cpu::bf16_gemm_enabled() == (hg::kernels::cpu::bf16_gemm_supported() && !off));
  const bool named = hg::blas_info().find("bf16 products: AVX-512 BF16") != std::string::npos;
  CHECK(named == hg::kernels::cpu::bf16_gemm_enabled());
}

TEST_CASE("gemm_bf16: subnormal inputs and products flush to zero (vdpbf16ps's rule)") {
  if (!hg::kernels::cpu::bf16_gemm_supported()) return;
  const float tiny = std::numeric_limits<float>::denorm_min() * 65536.0f;  // a bf16 subnormal
  REQUIRE(static_cast<float>(BFloat16(tiny)) == tiny);
  const std::vector<BFloat16> a{BFloat16(tiny), BFloat16(0.5f), BFloat16(1e-20f)};
  const std::vector<BFloat16> two{BFloat16(2.0f)}, small{BFloat16(1e-20f)};
  std::vector<float> c(3, 5.0f);
  gemm_bf16(3, 1, 1, MatrixRef<BFloat16>{a.data(), 1, 1}, MatrixRef<BFloat16>{two.data(), 1, 1},
            0.0f, c.data(), 1);
  CHECK(c[0] == 0.0f);  // the subnormal input counts as 0
  CHECK(c[1] == 1.0f);
  CHECK(c[2] == 2.0f * static_cast<float>(a[2]));
  gemm_bf16(3, 1, 1, MatrixRef<BFloat16>{a.data(), 1, 1}, MatrixRef<BFloat16>{small.data(), 1, 1},
            0.0f, c.data(), 1);
  CHECK(c[1] == 0.5f * static_cast<float>(small[0]));
  CHECK(c[2] == 0.0f);  // about 1e-40: a subnormal product, flushed
}

TEST_CASE("matmul and conv2d in bf16 agree with fp32, and take gemm_bf16 where it runs") {
  hg::manual_seed(5);
  const hg::Tensor x16 = hg::randn({37, 300}).to(hg::kBFloat16);
  const hg::Tensor w16 = hg::randn({70, 300}).to(hg::kBFloat16);
  const hg::Tensor got = hg::matmul(x16, w16.t());
  const hg::Tensor fp32 = hg::matmul(x16.to(hg::kFloat32), w16.to(hg::kFloat32).t());
  // one bf16 rounding of an fp32 sum in another order: within 2^-8 relative
  hg::test::expect_close(hg::test::values(got), hg::test::values(fp32), 1e-3, 4e-3);
  if (hg::kernels::cpu::bf16_gemm_enabled()) {  // and the bits of gemm_bf16 itself
    std::vector<float> c(37 * 70);
    gemm_bf16(37, 70, 300, MatrixRef<BFloat16>{x16.data<BFloat16>(), 300, 1},
              MatrixRef<BFloat16>{w16.data<BFloat16>(), 1, 300}, 0.0f, c.data(), 70);
    const hg::Tensor direct = hg::from_vector(c, {37, 70}).to(hg::kBFloat16);
    CHECK(hg::test::same_bits(got, direct));
  }
  const hg::Tensor img16 = hg::randn({3, 16, 12, 12}).to(hg::kBFloat16);
  const hg::Tensor k16 = hg::randn({8, 16, 3, 3}).to(hg::kBFloat16);
  const hg::Tensor conv_fp32 =
      hg::conv2d(img16.to(hg::kFloat32), k16.to(hg::kFloat32), {}, {1, 1}, {1, 1});
  const hg::Tensor conv_got = hg::conv2d(img16, k16, {}, {1, 1}, {1, 1});
  hg::test::expect_close(hg::test::values(conv_got), hg::test::values(conv_fp32), 1e-3, 4e-3);
}
