#pragma once
// Helpers for the gradient suites (test_grad_*.cpp): fp64 leaves with controlled values, a
// gradcheck wrapper that reports the failing element, and the low-precision comparison.
#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "test_util.h"

namespace hg::test {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// A float64 leaf that requires grad, standard normal.
inline Tensor leaf(const Shape& shape) { return randn(shape, kFloat64).requires_grad_(); }

// A float64 leaf from explicit values.
inline Tensor leaf(const std::vector<double>& v, const Shape& shape) {
  return from_vector(v, shape, kFloat64).requires_grad_();
}

// Standard normal values pushed at least `margin` away from every kink.
inline Tensor leaf_away(const Shape& shape, const std::vector<double>& kinks, double margin = 0.1) {
  std::vector<double> v = randn(shape, kFloat64).to_vector<double>();
  for (double& x : v)
    for (double k : kinks)
      if (std::abs(x - k) < margin) x = x < k ? k - margin : k + margin;
  return leaf(v, shape);
}

// Values in [lo, hi): for log, sqrt, division by, pow bases.
inline Tensor leaf_in(const Shape& shape, double lo, double hi) {
  std::vector<double> v = rand(shape, kFloat64).to_vector<double>();
  for (double& x : v) x = lo + (hi - lo) * x;
  return leaf(v, shape);
}

// Pairwise distinct values gap * k + shift (k = -n/2 .. n/2, random order): max/min without
// ties. Two such leaves with shifts differing by d (0 < d < gap) never come closer than d.
inline Tensor leaf_distinct(const Shape& shape, double gap = 0.25, double shift = 0.1) {
  const std::vector<double> r = randn(shape, kFloat64).to_vector<double>();
  std::vector<size_t> order(r.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t i, size_t j) { return r[i] < r[j]; });
  std::vector<double> v(r.size());
  const double mid = static_cast<double>(r.size() / 2);
  for (size_t rank = 0; rank < order.size(); ++rank)
    v[order[rank]] = gap * (static_cast<double>(rank) - mid) + shift;
  return leaf(v, shape);
}

// gradcheck with the failure message shown by doctest.
inline void check_grad(const Fn& fn, const std::vector<Tensor>& inputs, double eps = 1e-6,
                       double atol = 1e-6, double rtol = 1e-4) {
  const autograd::GradcheckResult r = autograd::gradcheck(fn, inputs, eps, atol, rtol);
  CHECK_MESSAGE(r.ok, r.message);
}

// Scale-aware closeness: |a - e| <= tol * (|e| + max|e|).
inline void expect_close_scaled(const std::vector<double>& actual,
                                const std::vector<double>& expected, double tol,
                                const std::string& what) {
  REQUIRE(actual.size() == expected.size());
  double scale = 0.0;
  for (double e : expected) scale = std::max(scale, std::abs(e));
  for (size_t i = 0; i < actual.size(); ++i) {
    const double err = std::abs(actual[i] - expected[i]);
    CHECK_MESSAGE(err <= tol * (std::abs(expected[i]) + scale),
                  what << " element " << i << ": " << actual[i] << " vs fp64 " << expected[i]
                       << " (tol " << tol << ", scale " << scale << ")");
  }
}

// Runs fn on low-precision leaves (fp64 inputs cast to `dtype`) and on fp64 leaves holding the
// same (rounded) values; compares the forward output and every leaf gradient in double, and
// checks that each gradient has its leaf's dtype. The backward seed is a random tensor.
inline void check_lowp(const Fn& fn, const std::vector<Tensor>& inputs64, DType dtype, double tol,
                       const std::string& what) {
  std::vector<Tensor> low, ref;
  for (const Tensor& x : inputs64) {
    low.push_back(x.detach().to(dtype).requires_grad_());
    ref.push_back(low.back().detach().to(kFloat64).requires_grad_());
  }
  const Tensor out_low = fn(low);
  const Tensor out_ref = fn(ref);
  REQUIRE(out_low.dtype() == dtype);
  REQUIRE(out_low.sizes() == out_ref.sizes());
  expect_close_scaled(values(out_low), values(out_ref), tol, what + " forward");
  const Tensor seed = randn(out_ref.sizes(), kFloat64).to(dtype);
  out_low.backward(seed);
  out_ref.backward(seed.to(kFloat64));
  for (size_t i = 0; i < low.size(); ++i) {
    REQUIRE(low[i].grad().defined());
    CHECK(low[i].grad().dtype() == dtype);
    CHECK(low[i].grad().sizes() == low[i].sizes());
    expect_close_scaled(values(low[i].grad()), values(ref[i].grad()), tol,
                        what + " grad of input " + std::to_string(i));
  }
}

// ((i * mul) % mod - off) / div for i = 0, 1, ... in float64: the inputs of the PyTorch reference
// scripts behind the tests' expected values (integers and small fractions, exact everywhere).
inline Tensor reference_values(const Shape& shape, int64_t mul, int64_t mod, int64_t off,
                               double div) {
  std::vector<double> v;
  for (int64_t i = 0; i < shape_numel(shape); ++i)
    v.push_back(static_cast<double>((i * mul) % mod - off) / div);
  return from_vector(v, shape, kFloat64);
}

// Those scripts' upstream gradient g (they call (y * g).sum().backward()): ((i * 5) % 7 - 3) / 2.
inline Tensor reference_upstream(const Shape& shape, DType dtype = kFloat64) {
  return reference_values(shape, 5, 7, 3, 2.0).to(dtype);
}

}  // namespace hg::test
