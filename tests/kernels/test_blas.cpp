// kernels/cpu/blas.h against a naive double-precision loop: odd shapes, all four transpose
// combinations, leading dimensions larger than needed, alpha/beta, degenerate sizes, threads.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "halfgrad/core/error.h"
#include "halfgrad/core/parallel.h"
#include "halfgrad/core/warning.h"
#include "halfgrad/kernels/cpu/blas.h"

namespace {

using hg::kernels::cpu::dgemm;
using hg::kernels::cpu::sgemm;

// Deterministic values in [-1, 1).
template <typename T>
std::vector<T> fill(size_t count, uint32_t seed) {
  std::vector<T> v(count);
  uint32_t state = seed * 2654435761u + 12345u;
  for (auto& x : v) {
    state = state * 1664525u + 1013904223u;
    x = static_cast<T>(static_cast<double>(state >> 8) / static_cast<double>(1u << 23) - 1.0);
  }
  return v;
}

// C = alpha * op(A) * op(B) + beta * C on row-major storage, accumulated in double.
template <typename T>
void reference_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const T* a,
                    int64_t lda, const T* b, int64_t ldb, double beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t p = 0; p < k; ++p) {
        const double x = ta ? a[p * lda + i] : a[i * lda + p];
        const double y = tb ? b[j * ldb + p] : b[p * ldb + j];
        sum += x * y;
      }
      T& out = c[i * ldc + j];
      out = static_cast<T>(alpha * sum + (beta == 0 ? 0.0 : beta * static_cast<double>(out)));
    }
}

template <typename T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if constexpr (std::is_same_v<T, float>)
    sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else
    dgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// Runs one case with leading dimensions `pad` elements wider than needed and checks C, including
// that the padding between rows of C is left alone.
template <typename T>
void check_case(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, T beta, int64_t pad) {
  CAPTURE(ta);
  CAPTURE(tb);
  CAPTURE(m);
  CAPTURE(n);
  CAPTURE(k);
  CAPTURE(alpha);
  CAPTURE(beta);
  CAPTURE(pad);
  const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k;
  const int64_t b_rows = tb ? n : k, b_cols = tb ? k : n;
  const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
  const auto a = fill<T>(static_cast<size_t>(a_rows * lda), 1);
  const auto b = fill<T>(static_cast<size_t>(b_rows * ldb), 2);
  auto c = fill<T>(static_cast<size_t>(m * ldc), 3);
  auto want = c;
  reference_gemm(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, want.data(), ldc);
  gemm<T>(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
  const double eps = std::numeric_limits<T>::epsilon();
  int64_t bad = 0;
  std::string first_bad;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      const size_t at = static_cast<size_t>(i * ldc + j);
      // |error| <= k * eps * sum|terms| is the textbook bound; here every term is at most 2
      const double tolerance = j < n ? 4.0 * eps * (static_cast<double>(k) + 2.0) : 0.0;
      const double got = static_cast<double>(c[at]), expected = static_cast<double>(want[at]);
      if (!(std::fabs(got - expected) <= tolerance) && bad++ == 0)
        first_bad = "C[" + std::to_string(i) + "][" + std::to_string(j) +
                    "] = " + std::to_string(got) + ", want " + std::to_string(expected);
    }
  INFO(first_bad);
  CHECK(bad == 0);
}

template <typename T>
void check_all_transposes(int64_t m, int64_t n, int64_t k, T alpha, T beta, int64_t pad) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) check_case<T>(ta, tb, m, n, k, alpha, beta, pad);
}

}  // namespace

TEST_CASE("sgemm matches a double loop on odd shapes, every transpose, padded strides") {
  check_all_transposes<float>(37, 53, 19, 1.0f, 0.0f, 0);
  check_all_transposes<float>(37, 53, 19, 1.0f, 0.0f, 5);
  check_all_transposes<float>(37, 53, 19, -0.75f, 0.5f, 3);
  check_all_transposes<float>(1, 17, 33, 2.0f, 1.0f, 7);
  check_all_transposes<float>(29, 1, 31, 1.0f, -1.0f, 2);
  check_all_transposes<float>(13, 11, 1, 1.0f, 0.25f, 1);
}

TEST_CASE("dgemm matches a double loop on odd shapes, every transpose, padded strides") {
  check_all_transposes<double>(37, 53, 19, 1.0, 0.0, 0);
  check_all_transposes<double>(37, 53, 19, 1.0, 0.0, 5);
  check_all_transposes<double>(37, 53, 19, -0.75, 0.5, 3);
  check_all_transposes<double>(1, 17, 33, 2.0, 1.0, 7);
  check_all_transposes<double>(29, 1, 31, 1.0, -1.0, 2);
  check_all_transposes<double>(13, 11, 1, 1.0, 0.25, 1);
}

TEST_CASE("sgemm and dgemm on shapes large enough to use several threads") {
  hg::kernels::cpu::set_num_threads(2);
  check_all_transposes<float>(301, 257, 263, 1.0f, 0.5f, 4);
  check_all_transposes<double>(211, 190, 173, 1.0, 0.0, 1);
}

TEST_CASE("gemm with beta == 0 overwrites C, NaNs included") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> a = {1, 2, 3, 4}, b = {5, 6, 7, 8};
  std::vector<float> c(4, nan);
  sgemm(false, false, 2, 2, 2, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(), 2);
  CHECK(c == std::vector<float>{19, 22, 43, 50});
  std::vector<double> cd(4, std::numeric_limits<double>::quiet_NaN());
  const std::vector<double> ad = {1, 2, 3, 4}, bd = {5, 6, 7, 8};
  dgemm(true, false, 2, 2, 2, 1.0, ad.data(), 2, bd.data(), 2, 0.0, cd.data(), 2);
  CHECK(cd == std::vector<double>{26, 30, 38, 44});
}

TEST_CASE("gemm with k == 0 or alpha == 0 only scales C") {
  std::vector<float> c = {1, 2, 3, 4, 5, 6};
  sgemm(false, false, 2, 3, 0, 1.0f, nullptr, 0, nullptr, 3, 2.0f, c.data(), 3);
  CHECK(c == std::vector<float>{2, 4, 6, 8, 10, 12});
  sgemm(true, true, 2, 3, 0, 1.0f, nullptr, 2, nullptr, 0, 0.0f, c.data(), 3);
  CHECK(c == std::vector<float>{0, 0, 0, 0, 0, 0});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> a(4, nan), b(4, nan);
  std::vector<double> cd = {1, 2, 3, 4};
  dgemm(false, false, 2, 2, 2, 0.0, a.data(), 2, b.data(), 2, -1.0, cd.data(), 2);
  CHECK(cd == std::vector<double>{-1, -2, -3, -4});
}

TEST_CASE("gemm with m == 0 or n == 0 touches nothing") {
  std::vector<float> c = {7};
  sgemm(false, false, 0, 5, 3, 1.0f, nullptr, 3, nullptr, 5, 0.0f, c.data(), 5);
  sgemm(false, false, 5, 0, 3, 1.0f, nullptr, 3, nullptr, 0, 0.0f, c.data(), 0);
  CHECK(c[0] == 7);
}

TEST_CASE("a single-row operand may have any leading dimension") {
  // a is 1 x 3 with lda = 0: never stepped over, so accepted
  const std::vector<float> a = {1, 2, 3}, b = {1, 0, 0, 1, 1, 1};  // b: 3 x 2
  std::vector<float> c(2, 0.0f);
  sgemm(false, false, 1, 2, 3, 1.0f, a.data(), 0, b.data(), 2, 0.0f, c.data(), 0);
  CHECK(c == std::vector<float>{4, 5});
}

TEST_CASE("gemm rejects negative sizes and too-small leading dimensions") {
  std::vector<float> a(64), b(64), c(64);
  CHECK_THROWS_AS(sgemm(false, false, -1, 2, 2, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(), 2),
                  hg::Error);
  CHECK_THROWS_AS(sgemm(false, false, 4, 4, 4, 1.0f, a.data(), 3, b.data(), 4, 0.0f, c.data(), 4),
                  hg::Error);
  // trans_a: A is stored k x m, so lda must be >= m
  CHECK_THROWS_AS(sgemm(true, false, 4, 2, 2, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(), 2),
                  hg::Error);
  CHECK_THROWS_AS(sgemm(false, true, 2, 4, 2, 1.0f, a.data(), 2, b.data(), 1, 0.0f, c.data(), 4),
                  hg::Error);
  CHECK_THROWS_AS(sgemm(false, false, 2, 4, 2, 1.0f, a.data(), 2, b.data(), 4, 0.0f, c.data(), 3),
                  hg::Error);
}

TEST_CASE("set_num_threads, num_threads and blas_info") {
  hg::kernels::cpu::set_num_threads(1);
  CHECK(hg::kernels::cpu::num_threads() == 1);
  CHECK(hg::kernels::cpu::blas_info().find("1 thread)") != std::string::npos);
  hg::kernels::cpu::set_num_threads(2);
  CHECK(hg::kernels::cpu::num_threads() == 2);
  const std::string info = hg::kernels::cpu::blas_info();
  INFO(info);
  CHECK(info.find("OpenBLAS") == 0);
  CHECK(info.find("2 threads") != std::string::npos);
  CHECK_THROWS_AS(hg::kernels::cpu::set_num_threads(0), hg::Error);
}

TEST_CASE("hg::set_num_threads warns once beyond the CPUs the process may use, and obeys") {
  const int cpus = hg::cpus_available(), before = hg::get_num_threads();
  REQUIRE(cpus >= 1);
  std::vector<std::string> warnings;
  auto previous = hg::set_warning_handler([&](const std::string& m) { warnings.push_back(m); });
  hg::reset_warn_once();
  hg::set_num_threads(cpus);  // all of them: no warning
  CHECK(warnings.empty());
  hg::set_num_threads(cpus + 3);
  CHECK(hg::get_num_threads() == cpus + 3);  // a warning, not a refusal
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("set_num_threads(" + std::to_string(cpus + 3) + ")") != std::string::npos);
  CHECK(warnings[0].find(std::to_string(cpus) + " CPUs") != std::string::npos);
  hg::set_num_threads(cpus + 3);  // once per process
  CHECK(warnings.size() == 1);
  hg::set_warning_handler(previous);
  hg::set_num_threads(before);
}
