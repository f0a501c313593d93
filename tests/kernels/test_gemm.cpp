// matmul/bmm/linear against a naive double-precision reference.
#include "test_util.h"

using namespace hg;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::values;

namespace {
// C = A @ B for row-major [m, k] x [k, n], in double.
std::vector<double> naive_mm(const std::vector<double>& a, const std::vector<double>& b, int64_t m,
                             int64_t k, int64_t n) {
  std::vector<double> c(static_cast<size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t p = 0; p < k; ++p) c[i * n + j] += a[i * k + p] * b[p * n + j];
  return c;
}
}  // namespace

TEST_CASE("gemm: matmul matches a double reference for every float dtype") {
  manual_seed(5);
  for (DType d : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    CAPTURE(dtype_name(d));
    Tensor a = randn({17, 33}, d), b = randn({33, 9}, d);
    const double tol = d == kFloat16 ? 1e-2 : d == kBFloat16 ? 6e-2 : d == kFloat32 ? 1e-4 : 1e-10;
    // reference from the (already rounded) inputs: only the product's rounding differs
    expect_close(values(matmul(a, b)), naive_mm(values(a), values(b), 17, 33, 9), tol, tol);
  }
}

TEST_CASE("gemm: transposed and strided operands") {
  manual_seed(6);
  Tensor a = randn({33, 17}).t();                    // transposed view
  Tensor b = randn({9, 66}).t().slice(0, 0, 66, 2);  // every other row of a transpose
  CHECK(b.sizes() == Shape{33, 9});
  expect_close(values(matmul(a, b)), naive_mm(values(a), values(b.contiguous()), 17, 33, 9), 1e-4,
               1e-4);
}

TEST_CASE("gemm: batched matmul broadcasts batch dims, 1-D operands follow torch.matmul") {
  manual_seed(7);
  Tensor a = randn({2, 1, 4, 3}), b = randn({5, 3, 2});
  Tensor c = matmul(a, b);
  CHECK(c.sizes() == Shape{2, 5, 4, 2});
  const auto av = values(a), bv = values(b), cv = values(c);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 5; ++j) {
      std::vector<double> ai(av.begin() + i * 12, av.begin() + i * 12 + 12);
      std::vector<double> bj(bv.begin() + j * 6, bv.begin() + j * 6 + 6);
      std::vector<double> cij(cv.begin() + (i * 5 + j) * 8, cv.begin() + (i * 5 + j) * 8 + 8);
      expect_close(cij, naive_mm(ai, bj, 4, 3, 2), 1e-5, 1e-5);
    }
  Tensor v = randn({3});
  CHECK(matmul(v, v).dim() == 0);
  CHECK(matmul(randn({4, 3}), v).sizes() == Shape{4});
  CHECK(matmul(v, randn({3, 5})).sizes() == Shape{5});
  CHECK(bmm(randn({2, 4, 3}), randn({2, 3, 5})).sizes() == Shape{2, 4, 5});
}

TEST_CASE("gemm: many small products share out the threads, with the bits of each alone") {
  // 96 products of 9 x 7 x 5 (a transposed, b broadcast over the first batch dim): spread over
  // the threads one product each, so every product has the bits it has when computed by itself
  manual_seed(8);
  for (const DType dtype : {kFloat32, kFloat64, kBFloat16, kFloat16}) {
    CAPTURE(dtype_name(dtype));
    const Tensor a = randn({8, 12, 7, 9}, dtype).transpose(-2, -1), b = randn({12, 7, 5}, dtype);
    const int before = get_num_threads();
    set_num_threads(1);
    const std::vector<double> one = values(matmul(a, b));
    set_num_threads(2);
    const Tensor two = matmul(a, b);
    set_num_threads(before);
    CHECK(values(two) == one);
    const Tensor alone = matmul(a.select(0, 5).select(0, 11), b.select(0, 11));
    CHECK(values(alone) == values(two.select(0, 5).select(0, 11)));
  }
}

TEST_CASE("gemm: linear is x @ W^T + b") {
  manual_seed(8);
  Tensor x = randn({2, 3, 4}), w = randn({5, 4}), b = randn({5});
  Tensor y = linear(x, w, b);
  CHECK(y.sizes() == Shape{2, 3, 5});
  expect_close(values(y), values(matmul(x, w.t()) + b), 1e-5, 1e-5);
  expect_close(values(linear(x, w)), values(matmul(x, w.t())), 1e-5, 1e-5);
}

TEST_CASE("gemm: mismatched operands raise hg::Error naming shapes and dtypes") {
  expect_error(
      [] {
        (void)matmul(zeros({2, 3}), zeros({4, 5}));
      },
      {"matmul", "inner dimensions", "[2, 3] float32", "[4, 5] float32"});
  expect_error(
      [] {
        (void)matmul(zeros({2, 3}), zeros({3, 5}, kFloat16));
      },
      {"matmul", "dtypes differ", "float16"});
  expect_error(
      [] {
        (void)linear(zeros({2, 3}), zeros({4, 3}, kFloat16));
      },
      {"linear", "dtypes differ: input [2, 3] float32, weight [4, 3] float16"});
  expect_error(
      [] {
        (void)matmul(zeros({2, 3}, kInt64), zeros({3, 5}, kInt64));
      },
      {"matmul", "floating-point", "int64"});
  expect_error(
      [] {
        (void)matmul(zeros({2, 2, 3}), zeros({3, 3, 1}));
      },
      {"matmul", "cannot be broadcast"});
  expect_error([] { (void)linear(zeros({2, 3}), zeros({4, 5})); }, {"linear", "[2, 3]", "[4, 5]"});
  expect_error([] { (void)bmm(zeros({2, 3}), zeros({3, 2})); }, {"bmm", "[B, M, K]"});
}

TEST_CASE("gemm: 16-bit transposed operands are widened in their memory order, same values") {
  manual_seed(9);
  for (DType d : {kFloat16, kBFloat16}) {
    CAPTURE(dtype_name(d));
    Tensor a = randn({33, 17}, d).t();                      // [17, 33], column-major
    Tensor b = randn({9, 66}, d).t().slice(0, 0, 66, 2);    // [33, 9], strided transpose
    Tensor batched = randn({3, 9, 33}, d).transpose(1, 2);  // [3, 33, 9], each matrix transposed
    const double tol = d == kFloat16 ? 1e-2 : 6e-2;
    expect_close(values(matmul(a, b)), naive_mm(values(a), values(b.contiguous()), 17, 33, 9), tol,
                 tol);
    // the same product from contiguous copies: only BLAS's summation order may differ
    expect_close(values(matmul(a, b)), values(matmul(a.contiguous(), b.contiguous())), tol, tol);
    const Tensor c = matmul(a, batched);
    for (int64_t i = 0; i < 3; ++i)
      expect_close(values(c.select(0, i)),
                   values(matmul(a.contiguous(), batched.select(0, i).contiguous())), tol, tol);
  }
}
