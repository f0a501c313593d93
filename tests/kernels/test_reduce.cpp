// Reductions against a naive double reference, over every choice of dims.
#include <cmath>

#include "test_util.h"

using namespace hg;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::values;

namespace {
// Sum of x [2, 3, 4] over the dims in `mask` (keepdim layout flattened).
std::vector<double> naive_sum(const std::vector<double>& x, const Shape& shape,
                              std::vector<bool> mask) {
  Shape out_shape;
  for (size_t d = 0; d < shape.size(); ++d) out_shape.push_back(mask[d] ? 1 : shape[d]);
  std::vector<double> out(static_cast<size_t>(shape_numel(out_shape)), 0.0);
  const Shape in_strides = contiguous_strides(shape), out_strides = contiguous_strides(out_shape);
  for (int64_t i = 0; i < shape_numel(shape); ++i) {
    int64_t o = 0;
    for (size_t d = 0; d < shape.size(); ++d) {
      const int64_t idx = (i / in_strides[d]) % shape[d];
      if (!mask[d]) o += idx * out_strides[d];
    }
    out[o] += x[i];
  }
  return out;
}
}  // namespace

TEST_CASE("reduce: sum and mean over every subset of dims, with and without keepdim") {
  manual_seed(3);
  const Shape shape{2, 3, 4};
  for (DType d : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    CAPTURE(dtype_name(d));
    Tensor x = randn(shape, d);
    const auto xv = values(x);
    const double tol = d == kFloat16 ? 2e-3 : d == kBFloat16 ? 1e-2 : 1e-6;
    for (int m = 1; m < 8; ++m) {
      std::vector<int64_t> dims;
      std::vector<bool> mask(3, false);
      for (int k = 0; k < 3; ++k)
        if (m & (1 << k)) dims.push_back(k), mask[k] = true;
      CAPTURE(m);
      const auto expected = naive_sum(xv, shape, mask);
      Tensor s = sum(x, dims, true);
      expect_close(values(s), expected, tol, tol);
      int64_t count = 1;
      for (int64_t k : dims) count *= shape[k];
      std::vector<double> mean_expected;
      for (double v : expected) mean_expected.push_back(v / count);
      expect_close(values(mean(x, dims)), mean_expected, tol, tol);
      CHECK(sum(x, dims).dim() == 3 - static_cast<int64_t>(dims.size()));
    }
  }
}

TEST_CASE("reduce: large sums accumulate in wide precision") {
  Tensor x = full({1 << 14}, 0.1, kFloat16);  // fp16 accumulation would stall at 256
  CHECK(sum(x).item<double>() == 0.0999755859375 * (1 << 14));
  CHECK(std::isinf(sum(full({1 << 20}, 0.1, kFloat16)).item<float>()));  // 104832 > 65504
  Tensor y = full({3000000}, 1.0);
  CHECK(sum(y).item<double>() == 3000000.0);
  CHECK(sum(arange(10, kInt64)).dtype() == kInt64);
  CHECK(sum(arange(10, kInt64)).item<int64_t>() == 45);
  Tensor flags = from_vector(std::vector<bool>{true, false, true});
  CHECK(sum(flags).item<int64_t>() == 2);
}

TEST_CASE("reduce: 16-bit sums are the exact sum rounded once, whatever the layout") {
  // a float accumulator gave 100.125 for 1e6 x fp16(1e-4) (the exact sum rounds to 100), and
  // another answer again when the same values were reduced along the other dim of a transpose
  const Tensor x = full({1000000}, 1e-4, kFloat16);
  CHECK(sum(x).item<float>() == 100.0f);
  const Tensor m = cat({full({100000, 2}, 1e-4, kFloat16), full({100000, 2}, 3e-4, kFloat16)}, 0);
  const std::vector<float> down = sum(m, {0}).to_vector<float>();
  const std::vector<float> across = sum(m.t().contiguous(), {1}).to_vector<float>();
  CHECK(down == across);
  CHECK(down[0] == sum(m.t(), {1}).to_vector<float>()[0]);
}

TEST_CASE("reduce: column sums of 16-bit rows wider than a widening block, and NaN columns") {
  // dim 0 of a row-major matrix: each row is added into the column accumulators in one
  // contiguous run (widened 256 values at a time); small integers keep every sum exact
  manual_seed(12);
  for (const DType dtype : {kBFloat16, kFloat16, kFloat32}) {
    CAPTURE(dtype_name(dtype));
    const Tensor m = round(randn({301, 700}, kFloat64) * 4.0).to(dtype);
    const std::vector<double> v = values(m);
    std::vector<double> expected(700, 0.0);
    for (size_t r = 0; r < 301; ++r)
      for (size_t c = 0; c < 700; ++c) expected[c] += v[r * 700 + c];
    CHECK(values(sum(m, {0})) == expected);
    Tensor with_nan = m.clone();
    with_nan.select(0, 150).select(0, 333).fill_(std::nan(""));
    const std::vector<double> maxima = values(amax(with_nan, {0}));
    CHECK(std::isnan(maxima[333]));
    CHECK(!std::isnan(maxima[332]));
  }
}

TEST_CASE("reduce: max, min, argmax and max along a dim") {
  Tensor x = from_vector(std::vector<float>{3, 9, 1, 4, 9, 8}, {2, 3});
  CHECK(max(x).item<float>() == 9);
  CHECK(min(x).item<float>() == 1);
  CHECK(argmax(x, 1).to_vector<int64_t>() == std::vector<int64_t>{1, 1});
  CHECK(argmax(x, 0).to_vector<int64_t>() == std::vector<int64_t>{1, 0, 1});
  CHECK(argmin(x, -1, true).sizes() == Shape{2, 1});
  auto [v, i] = max(x, 0);
  CHECK(values(v) == std::vector<double>{4, 9, 8});
  CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{1, 0, 1});
  CHECK(values(amax(x, {1})) == std::vector<double>{9, 9});
  Tensor n = from_vector(std::vector<float>{1, NAN, 3});
  CHECK(std::isnan(max(n).item<float>()));
  CHECK(argmax(n, 0).item<int64_t>() == 1);
  expect_error([] { (void)max(zeros({0})); }, {"max", "zero elements", "[0] float32"});
  expect_error([&] { (void)sum(x, {2}); }, {"sum", "dimension 2", "2 dims"});
  expect_error([&] { (void)mean(arange(3, kInt64)); }, {"mean", "[3] int64"});
}

TEST_CASE("reduce: var with and without Bessel's correction") {
  Tensor x = from_vector(std::vector<double>{1, 2, 3, 4}, kFloat64);
  CHECK(var(x).item<double>() == doctest::Approx(5.0 / 3.0));
  CHECK(var(x, {}, false, 0).item<double>() == doctest::Approx(1.25));
  Tensor m = x.reshape({2, 2});
  expect_close(values(var(m, {1})), {0.5, 0.5}, 1e-12, 1e-12);
}

TEST_CASE("reduce: strided and parallel paths agree with the contiguous one") {
  manual_seed(4);
  Tensor x = randn({400, 300}, kFloat64);
  Tensor t = x.t();
  expect_close(values(sum(t, {0})), values(sum(x, {1})), 1e-9, 1e-9);
  expect_close(values(sum(t, {1})), values(sum(x, {0})), 1e-9, 1e-9);
  expect_close(values(amax(t, {1})), values(amax(x, {0})), 0, 0);
}
