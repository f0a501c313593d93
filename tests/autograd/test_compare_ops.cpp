// isfinite, isnan, isinf, isclose and allclose (autograd/compare_ops.cpp).
#include <cmath>
#include <limits>
#include <vector>

#include "test_util.h"

using namespace hg;
using hg::test::expect_error;

namespace {

std::vector<bool> mask_values(const Tensor& mask) {
  REQUIRE(mask.dtype() == kBool);
  std::vector<bool> out;
  for (const int64_t v : mask.to(kInt64).to_vector<int64_t>()) out.push_back(v != 0);
  return out;
}

const float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

}  // namespace

TEST_CASE("isfinite, isnan, isinf: each floating dtype, and an fp16 overflow seen") {
  const std::vector<float> v{1.5f, -kInf, kNaN, 0.0f, kInf, -3.0f};
  for (const DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    CAPTURE(dtype_name(dtype));
    const Tensor x = from_vector(v, {2, 3}).to(dtype);
    CHECK(isfinite(x).sizes() == Shape{2, 3});
    CHECK(mask_values(isfinite(x)) == std::vector<bool>{true, false, false, true, false, true});
    CHECK(mask_values(isnan(x)) == std::vector<bool>{false, false, true, false, false, false});
    CHECK(mask_values(isinf(x)) == std::vector<bool>{false, true, false, false, true, false});
  }
  // the question a mixed-precision user asks: which activations did the fp16 cast overflow?
  const Tensor wide = from_vector<float>({60000, 70000, -1e6, 1});
  CHECK(mask_values(isinf(wide.to(kFloat16))) == std::vector<bool>{false, true, true, false});
  CHECK(mask_values(isinf(wide.to(kBFloat16))) == std::vector<bool>{false, false, false, false});
}

TEST_CASE("isfinite, isnan, isinf: integers and bool are finite, and nothing is recorded") {
  const Tensor labels = from_vector<int64_t>({3, -1, 7});
  CHECK(mask_values(isfinite(labels)) == std::vector<bool>{true, true, true});
  CHECK(mask_values(isnan(labels)) == std::vector<bool>{false, false, false});
  CHECK(mask_values(isinf(labels.to(kBool))) == std::vector<bool>{false, false, false});
  const Tensor x = from_vector<float>({1, kNaN}).requires_grad_();
  CHECK_FALSE(isnan(x).requires_grad());
  CHECK_FALSE(isfinite(x).requires_grad());
  CHECK(isfinite(zeros({0, 4})).sizes() == Shape{0, 4});
  expect_error([] { (void)isnan(Tensor()); }, {"isnan"});
}

TEST_CASE("isclose: torch.isclose's rules for equal values, infinities, NaN and tolerances") {
  const Tensor a = from_vector<float>({1.0f, 1.0001f, kInf, kNaN, 1e-9f, 100.0f, kInf, 0.0f});
  const Tensor b = from_vector<float>({1.0f, 1.0f, kInf, kNaN, 0.0f, 100.001f, -kInf, 1e-8f});
  // default rtol 1e-5, atol 1e-8: |1.0001 - 1| = 1e-4 is too far; 1e-9 vs 0 is within atol;
  // 100 vs 100.001 within 1e-5 * 100.001 + 1e-8; inf == inf; inf vs -inf and NaN never
  CHECK(mask_values(isclose(a, b)) ==
        std::vector<bool>{true, false, true, false, true, true, false, true});
  CHECK(mask_values(isclose(a, b, 1e-5, 1e-8, /*equal_nan=*/true))[3]);
  // rtol 1e-3, atol 0: 1e-9 vs 0 is no longer close (|b| is 0), 1e-8 vs 0 neither
  CHECK(mask_values(isclose(a, b, 1e-3, 0.0)) ==
        std::vector<bool>{true, true, true, false, false, true, false, false});
  // tolerance 0: equality alone
  CHECK(mask_values(isclose(a, b, 0.0, 0.0)) ==
        std::vector<bool>{true, false, true, false, false, false, false, false});
  // an infinite b does not make everything close (|a - inf| is not finite)
  CHECK(mask_values(isclose(from_vector<float>({5}), from_vector<float>({kInf}), 1.0, 1.0)) ==
        std::vector<bool>{false});
}

TEST_CASE("isclose: broadcasting, integers through float32, 16-bit computed in their dtype") {
  const Tensor a = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor row = from_vector<float>({1, 2, 3.5f}, {3});
  CHECK(mask_values(isclose(a, row, 0.0, 0.5)) ==
        std::vector<bool>{true, true, true, false, false, false});
  const Tensor ia = from_vector<int64_t>({1, 2, 3}), ib = from_vector<int64_t>({1, 3, 3});
  CHECK(mask_values(isclose(ia, ib, 0.4, 0.0)) == std::vector<bool>{true, true, true});
  CHECK(mask_values(isclose(ia, ib, 0.1, 0.0)) == std::vector<bool>{true, false, true});
  // fp16: 1 + 2^-10 and 1 are one fp16 step apart, and rtol 1e-3 covers one step
  const Tensor h = from_vector<float>({1.0f + 1.0f / 1024}).to(kFloat16);
  const Tensor one = ones({1}, kFloat16);
  CHECK(mask_values(isclose(h, one, 1e-3, 0.0)) == std::vector<bool>{true});
  CHECK(mask_values(isclose(h, one, 5e-4, 0.0)) == std::vector<bool>{false});
  const Tensor flags = from_vector<int64_t>({1, 0}).to(kBool);
  CHECK(mask_values(isclose(flags, flags)) == std::vector<bool>{true, true});
}

TEST_CASE("allclose: all elements close, an empty pair is, and misuse is an hg::Error") {
  const Tensor ref = from_vector<float>({0.1f, 0.2f, 0.3f});
  CHECK(allclose(ref, ref.to(kFloat16).to(kFloat32), 1e-3, 0.0));
  CHECK_FALSE(allclose(ref, ref.to(kBFloat16).to(kFloat32), 1e-3, 0.0));  // bf16's 8 bits
  CHECK(allclose(ref, ref.to(kBFloat16).to(kFloat32), 1e-2, 0.0));
  CHECK(allclose(zeros({0}), zeros({0})));
  CHECK_FALSE(allclose(from_vector<float>({kNaN}), from_vector<float>({kNaN})));
  CHECK(allclose(from_vector<float>({kNaN}), from_vector<float>({kNaN}), 1e-5, 1e-8, true));
  expect_error([&] { (void)isclose(ref, ref.to(kFloat16)); },
               {"isclose", "[3] float32", "[3] float16", "differ in dtype"});
  expect_error([&] { (void)allclose(ref, ref, -1.0); }, {"isclose", "rtol", ">= 0"});
  expect_error([&] { (void)isclose(ref, zeros({2})); }, {"[3]", "[2]"});
}
