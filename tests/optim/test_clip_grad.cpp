// clip_grad_norm_ / clip_grad_value_ (reference values: tools/reference/optim_reference.py).
#include "optim_util.h"

using namespace hg;
using namespace hg::test::optim_ref;
using hg::optim::clip_grad_norm_;
using hg::optim::clip_grad_value_;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::values;

namespace {

// Two parameters with the reference gradients [3] and [4] in `dtype`.
std::vector<Tensor> clip_params(DType dtype) {
  std::vector<Tensor> params;
  for (int k = 0; k < 2; ++k) {
    const int64_t n = k == 0 ? 3 : 4;
    Tensor p = zeros({n}, dtype).requires_grad_();
    p.set_grad(from_vector(std::vector<double>(kClipGrads[k], kClipGrads[k] + n), dtype));
    params.push_back(p);
  }
  return params;
}

}  // namespace

TEST_CASE("clip_grad_norm_: total norm and clipped gradients match PyTorch") {
  for (DType dtype : {kFloat64, kFloat32}) {
    const auto& expected = dtype == kFloat64 ? kClipF64 : kClipF32;
    const double tol = dtype == kFloat64 ? 1e-12 : 1e-6;
    for (size_t c = 0; c < std::size(kClipCases); ++c) {
      CAPTURE(dtype);
      CAPTURE(c);
      auto params = clip_params(dtype);
      const double norm = clip_grad_norm_(params, kClipCases[c][0], kClipCases[c][1]);
      expect_close({norm}, {expected[c][0]}, tol, tol);
      std::vector<double> grads = values(params[0].grad());
      for (double v : values(params[1].grad())) grads.push_back(v);
      expect_close(grads, std::vector<double>(expected[c] + 1, expected[c] + 8), tol, tol);
    }
  }
}

TEST_CASE("clip_grad_norm_: 16-bit gradients, norm accumulated in double, scaled in place") {
  for (DType dtype : {kFloat16, kBFloat16}) {
    CAPTURE(dtype);
    Tensor a = zeros({2}, dtype).requires_grad_();
    Tensor b = zeros({2}, kFloat32).requires_grad_();  // mixed dtypes are fine
    a.set_grad(from_vector(std::vector<double>{3.0, 4.0}, dtype));
    b.set_grad(from_vector(std::vector<double>{12.0, 0.0}, kFloat32));
    const Tensor a_grad = a.grad();
    CHECK(clip_grad_norm_({a, b}, 6.5) == 13.0);
    CHECK(a.grad().is_same(a_grad));  // in place
    CHECK(a.grad().dtype() == dtype);
    const double coef = 6.5 / (13.0 + 1e-6);
    const double tol = dtype == kFloat16 ? 2e-3 : 1e-2;
    expect_close(values(a.grad()), {3.0 * coef, 4.0 * coef}, tol, 0.0);
    expect_close(values(b.grad()), {12.0 * coef, 0.0}, 1e-6, 0.0);
  }
  // Many fp16 elements: no 16-bit accumulation, so the sum of squares stays exact-ish.
  Tensor big = zeros({100000}, kFloat16).requires_grad_();
  big.set_grad(full({100000}, 0.5, kFloat16));
  CHECK(clip_grad_norm_({big}, 1e9) == doctest::Approx(std::sqrt(25000.0)).epsilon(1e-12));
}

TEST_CASE("clip_grad_norm_: no clipping when the norm is below max_norm") {
  auto params = clip_params(kFloat64);
  clip_grad_norm_(params, 100.0);
  CHECK(values(params[0].grad()) == std::vector<double>{3.0, -4.0, 1.5});
}

TEST_CASE("clip_grad_norm_: a non-finite norm leaves the gradients alone or raises") {
  Tensor a = zeros({3}).requires_grad_();
  Tensor b = zeros({2}).requires_grad_();
  b.set_grad(from_vector(std::vector<float>{1.0f, 2.0f}));
  for (float bad : {INFINITY, NAN}) {
    CAPTURE(bad);
    a.set_grad(from_vector(std::vector<float>{1.0f, bad, 2.0f}));
    for (double p : {2.0, 1.0, 3.0, optim::kInfNorm}) {
      CAPTURE(p);
      const double norm = clip_grad_norm_({a, b}, 1.0, p);
      CHECK(!std::isfinite(norm));
      CHECK(std::isnan(norm) == std::isnan(bad));
      CHECK(values(b.grad()) == std::vector<double>{1.0, 2.0});  // untouched
      expect_error(
          [&] {
            clip_grad_norm_({b, a}, 1.0, p, true);
          },
          {"clip_grad_norm_", "non-finite", "parameter 1 ([3] float32)", "error_if_nonfinite"});
    }
  }
}

TEST_CASE("clip_grad_norm_: edge cases and bad arguments") {
  Tensor w = zeros({3}).requires_grad_();
  CHECK(clip_grad_norm_({w}, 1.0) == 0.0);  // no gradients
  w.set_grad(zeros({3}));
  CHECK(clip_grad_norm_({w}, 0.0) == 0.0);
  expect_error([&] { clip_grad_norm_({w}, -1.0); }, {"clip_grad_norm_", "max_norm", "-1"});
  expect_error([&] { clip_grad_norm_({w}, 1.0, 0.0); }, {"clip_grad_norm_", "norm_type", "0"});
}

TEST_CASE("clip_grad_norm_: large gradients, parallel chunks, and the tensor-op path agree") {
  manual_seed(7);
  for (DType dtype : {kFloat32, kFloat16, kBFloat16, kFloat64}) {
    CAPTURE(dtype);
    const Tensor g = randn({300001}, dtype);
    for (double p : {2.0, 1.0, 3.0, optim::kInfNorm}) {
      CAPTURE(p);
      const double loops = optim::detail::grad_norm_part(g, p, true);
      const double ops = optim::detail::grad_norm_part(g, p, false);
      CHECK(loops == doctest::Approx(ops).epsilon(1e-12));
    }
    // The same value run after run (fixed chunking, whatever the thread count).
    CHECK(optim::detail::grad_norm_part(g, 2.0, true) ==
          optim::detail::grad_norm_part(g, 2.0, true));
  }
}

TEST_CASE("clip_grad_value_: clamps every gradient element, NaN stays NaN") {
  Tensor a = zeros({4}).requires_grad_();
  Tensor b = zeros({2}, kFloat16).requires_grad_();
  Tensor c = zeros({2}).requires_grad_();  // no gradient: ignored
  a.set_grad(from_vector(std::vector<float>{-3.0f, 0.25f, 7.0f, NAN}));
  b.set_grad(from_vector(std::vector<float>{-0.1f, 1.5f}, kFloat16));
  clip_grad_value_({a, b, c}, 0.5);
  const auto va = values(a.grad());
  CHECK(va[0] == -0.5);
  CHECK(va[1] == 0.25);
  CHECK(va[2] == 0.5);
  CHECK(std::isnan(va[3]));
  CHECK(values(b.grad()) == std::vector<double>{static_cast<float>(Half(-0.1f)), 0.5});
  CHECK(!c.grad().defined());
  expect_error([&] { clip_grad_value_({a}, -1.0); }, {"clip_grad_value_", "clip_value", "-1"});
}

TEST_CASE("clip_grad_norm_: warns once when the gradients are still loss-scaled") {
  std::vector<std::string> warnings;
  const WarningHandler previous =
      set_warning_handler([&](const std::string& m) { warnings.push_back(m); });
  Tensor w = zeros({2}).requires_grad_();
  w.set_grad(from_vector(std::vector<float>{3.0f, 4.0f}));
  clip_grad_norm_({w}, 100.0);
  CHECK(warnings.empty());                  // nothing pending
  amp::set_pending_gradient_scale(1024.0);  // as after GradScaler::scale(loss)
  CHECK(clip_grad_norm_({w}, 100.0) == 5.0);
  clip_grad_norm_({w}, 100.0);
  amp::set_pending_gradient_scale(0.0);
  set_warning_handler(previous);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("1024") != std::string::npos);
  CHECK(warnings[0].find("unscale_") != std::string::npos);
}
