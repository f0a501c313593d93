// PyTorch's semantics at the edges, each found by a review against PyTorch 1.13: copies between
// overlapping views, 0-dim tensors and dims, NaN in max/maximum gradients, signed zeros through
// scalar products, true scalar division, 16-bit variance, integer read-back and printing.
#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>

#include "test_util.h"

using namespace hg;
using hg::test::expect_error;
using hg::test::values;

TEST_CASE("copy_ between overlapping views reads every element before it is overwritten") {
  Tensor x = arange(0.0, 9.0, 1.0).reshape({3, 3});
  x.copy_(x.t());  // a transpose in place
  CHECK(values(x) == std::vector<double>{0, 3, 6, 1, 4, 7, 2, 5, 8});
  Tensor y = arange(0.0, 6.0, 1.0);
  y.slice(0, 1, 6).copy_(y.slice(0, 0, 5));  // a shift by one, whose ranges overlap
  CHECK(values(y) == std::vector<double>{0, 0, 1, 2, 3, 4});
  Tensor z = arange(0.0, 4.0, 1.0);
  z.copy_(z);  // the same view: nothing changes
  CHECK(values(z) == std::vector<double>{0, 1, 2, 3});
}

TEST_CASE("copy_ refuses a source that does not broadcast to the destination, naming both") {
  expect_error(
      [] {
        zeros({3}).copy_(ones({3, 1}));
      },
      {"copy_", "[3, 1] float32", "[3] float32", "broadcast"});
  expect_error([] { zeros({3}).copy_(ones({2, 3})); }, {"copy_", "[2, 3] float32"});
}

TEST_CASE("0-dim tensors have no dimension to index, size or slice") {
  const Tensor s = scalar_tensor(3.0);
  expect_error([&] { (void)s.size(0); }, {"size", "0-dim"});
  expect_error([&] { (void)s.stride(-1); }, {"stride", "0-dim"});
  expect_error([&] { (void)s.select(0, 0); }, {"select", "0-dim"});
  expect_error([&] { (void)s.slice(0, 0, 1); }, {"slice", "0-dim"});
  expect_error([&] { (void)s.narrow(0, 0, 1); }, {"narrow", "0-dim"});
  CHECK(s.squeeze(0).dim() == 0);  // squeeze and sum take dim 0 / -1 of a 0-dim tensor
  expect_error([&] { (void)s.squeeze(3); }, {"squeeze", "3"});
}

TEST_CASE("narrow takes a negative start, counted from the end") {
  const Tensor x = arange(0.0, 5.0, 1.0);
  CHECK(values(x.narrow(0, -2, 2)) == std::vector<double>{3, 4});
  expect_error([&] { (void)x.narrow(0, -6, 1); }, {"narrow", "start -6"});
}

TEST_CASE("max and maximum send the gradient to NaN where NaN won, as PyTorch") {
  Tensor x = from_vector(std::vector<float>{1, NAN, 3}).requires_grad_();
  x.max().backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 1, 0});
  Tensor a = from_vector(std::vector<float>{NAN, 1, 2, 5}).requires_grad_();
  Tensor b = from_vector(std::vector<float>{1, NAN, 2, 4}).requires_grad_();
  maximum(a, b).sum().backward();
  // beside a NaN neither side loses; a tie splits; otherwise the larger side
  CHECK(values(a.grad()) == std::vector<double>{1, 1, 0.5, 1});
  CHECK(values(b.grad()) == std::vector<double>{1, 1, 0.5, 0});
}

TEST_CASE("maximum and minimum return the first operand on a tie, as torch's (the sign of zero)") {
  const Tensor a = from_vector(std::vector<float>{-0.0f, 0.0f});
  const Tensor b = from_vector(std::vector<float>{0.0f, -0.0f});
  const std::vector<float> hi = maximum(a, b).to_vector<float>();
  const std::vector<float> lo = minimum(a, b).to_vector<float>();
  CHECK(std::signbit(hi[0]));
  CHECK_FALSE(std::signbit(hi[1]));
  CHECK(std::signbit(lo[0]));
  CHECK_FALSE(std::signbit(lo[1]));
}

TEST_CASE("a * x + b rounds twice, as written: the build does not fuse it into an fma") {
  // (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24 rounds (a tie, to even) to 1 + 2^-11 in float; minus
  // 1 + 2^-11 that is 0. An fma would keep the 2^-24.
  const double a = 1.0 + std::ldexp(1.0, -12);
  const Tensor x = from_vector(std::vector<float>{static_cast<float>(a)});
  CHECK(affine(x, a, -(1.0 + std::ldexp(1.0, -11))).item<float>() == 0.0f);
}

TEST_CASE("scalar products and quotients keep the sign of zero") {
  const Tensor neg_zero = from_vector(std::vector<float>{-0.0f});
  CHECK(std::signbit((neg_zero * 2.0).item<float>()));
  CHECK(std::signbit((neg_zero / 2.0).item<float>()));
  CHECK(!std::signbit((neg_zero + 0.0).item<float>()));  // -0 + 0 is +0, as in IEEE and PyTorch
  CHECK(std::signbit((neg_zero - 0.0).item<float>()));
}

TEST_CASE("a floating tensor over a scalar is a true division, forward and backward") {
  std::vector<float> xs;
  for (int i = 1; i <= 2000; ++i) xs.push_back(static_cast<float>(i));
  const std::vector<float> quotient = (from_vector(xs) / 3.0).to_vector<float>();
  for (size_t i = 0; i < xs.size(); ++i) CHECK(quotient[i] == xs[i] / 3.0f);
  CHECK((from_vector(std::vector<float>{49}) / 7.0).item<float>() == 7.0f);
  CHECK((from_vector(std::vector<double>{49}, {1}, kFloat64) / 49.0).item<double>() == 1.0);
  Tensor leaf = from_vector(std::vector<double>{1, 2}, {2}, kFloat64).requires_grad_();
  (leaf / 49.0).backward(from_vector(std::vector<double>{49, 98}, {2}, kFloat64));
  CHECK(values(leaf.grad()) == std::vector<double>{1, 2});  // g / 49, not g * (1 / 49)
  const Tensor h = from_vector(std::vector<float>{1}, {1}, kFloat16) / 3.0;
  CHECK(h.dtype() == kFloat16);
  CHECK(h.item<float>() == static_cast<float>(Half(1.0f / 3.0f)));
}

TEST_CASE("a scalar over a 16-bit tensor divides in float: the scalar is not rounded first") {
  // 0.1 / fp16(0x3c01): RNE16(0.1f / 1.0009765625f) is 0x2e65; through fp16(0.1) it was 0x2e64
  Tensor x = empty({1}, kFloat16);
  *static_cast<uint16_t*>(x.data_ptr()) = 0x3c01;
  const Tensor q = 0.1 / x;
  CHECK(q.dtype() == kFloat16);
  CHECK(*static_cast<const uint16_t*>(q.data_ptr()) == 0x2e65);
  CHECK((2.0 / from_vector(std::vector<float>{3})).item<float>() == 2.0f / 3.0f);
  CHECK((2.0 / arange(1, 3)).dtype() == kFloat32);  // integers: float32, as PyTorch
  Tensor leaf = from_vector(std::vector<double>{2, 4}, {2}, kFloat64).requires_grad_();
  (8.0 / leaf).sum().backward();
  CHECK(values(leaf.grad()) == std::vector<double>{-2, -0.5});  // -8 / x^2
}

TEST_CASE("add_ and sub_ with alpha round once in 16 bits") {
  // a + 0.1 b for a = 0x21a6, b = 0xa57f: RNE16(a + 0.1f * b) is 0x208d; rounding 0.1 b to fp16
  // first gave 0x208c
  Tensor a = empty({1}, kFloat16), b = empty({1}, kFloat16);
  *static_cast<uint16_t*>(a.data_ptr()) = 0x21a6;
  *static_cast<uint16_t*>(b.data_ptr()) = 0xa57f;
  a.add_(b, 0.1);
  CHECK(*static_cast<const uint16_t*>(a.data_ptr()) == 0x208d);
  Tensor c = empty({1}, kFloat16), d = empty({1}, kFloat16);
  *static_cast<uint16_t*>(c.data_ptr()) = 0xaf26;
  *static_cast<uint16_t*>(d.data_ptr()) = 0xa62e;
  c.sub_(d, 3.0);
  CHECK(*static_cast<const uint16_t*>(c.data_ptr()) == 0xa907);
}

TEST_CASE("mean divides the sum by n, as PyTorch (a product with 1 / n is an ulp off)") {
  // 49 * fl(1/49) = 0.99999999999999989 in float64; 49 / 49 = 1
  CHECK(mean(ones({49}, kFloat64)).item<double>() == 1.0);
  CHECK(mean(ones({7, 49}, kFloat64), {1}).to_vector<double>() == std::vector<double>(7, 1.0));
  Tensor leaf = ones({49}, kFloat64).requires_grad_();
  mean(leaf).backward(full({}, 49.0, kFloat64));
  CHECK(values(leaf.grad()) == std::vector<double>(49, 1.0));  // g / n
}

TEST_CASE("var of 16-bit values squares them in float, so it does not overflow") {
  std::vector<float> v(10, 0.0f);
  v[0] = -300;
  v[1] = 300;
  const Tensor x = from_vector(v, {10}, kFloat16);
  const Tensor result = var(x);
  CHECK(result.dtype() == kFloat16);
  CHECK(result.item<float>() == 20000.0f);
}

TEST_CASE("an int64 read-back of a tensor that requires grad works and records nothing") {
  Tensor x = from_vector(std::vector<float>{1, 2}).requires_grad_();
  const Tensor total = x.sum();
  CHECK(total.item<int64_t>() == 3);
  CHECK(total.to_vector<int64_t>() == std::vector<int64_t>{3});
  CHECK(!x.to(kInt64).requires_grad());
  total.backward();
  CHECK(values(x.grad()) == std::vector<double>{1, 1});
}

TEST_CASE("printing int64 shows every digit, past 2^53 and at the limits") {
  std::ostringstream out;
  out << from_vector(std::vector<int64_t>{std::numeric_limits<int64_t>::max(),
                                          (int64_t{1} << 53) + 1,
                                          std::numeric_limits<int64_t>::min()});
  CHECK(out.str().find("9223372036854775807") != std::string::npos);
  CHECK(out.str().find("9007199254740993") != std::string::npos);
  CHECK(out.str().find("-9223372036854775808") != std::string::npos);
}

TEST_CASE("result_type: a 0-dim tensor counts only when its category is higher, as PyTorch's") {
  const Tensor h = ones({3}, kFloat16);
  CHECK((h + scalar_tensor(1.0)).dtype() == kFloat16);
  CHECK((h * scalar_tensor(2.0, TensorOptions().dtype(kFloat64))).dtype() == kFloat16);
  CHECK((ones({3}) + scalar_tensor(1.0, TensorOptions().dtype(kFloat64))).dtype() == kFloat32);
  CHECK((arange(3) + scalar_tensor(0.5)).dtype() == kFloat32);  // a higher category counts
  CHECK((ones({3}, kUInt8) + scalar_tensor(2.0, TensorOptions().dtype(kInt64))).dtype() == kUInt8);
  CHECK((ones({3}, kBool) + scalar_tensor(2.0, TensorOptions().dtype(kInt64))).dtype() == kInt64);
  CHECK((scalar_tensor(1.0, TensorOptions().dtype(kFloat16)) + scalar_tensor(1.0)).dtype() ==
        kFloat32);  // both 0-dim: the usual promotion
  const Tensor cond = from_vector(std::vector<bool>{true, false, true});
  CHECK(where(cond, h, scalar_tensor(-1.0)).dtype() == kFloat16);
}

TEST_CASE("whole-number scalars on integer tensors wrap as libtorch's integer scalars") {
  const Tensor u = from_vector(std::vector<uint8_t>{0, 1, 200, 255});
  CHECK((u + (-1.0)).to_vector<int64_t>() == std::vector<int64_t>{255, 0, 199, 254});
  CHECK((u + 300.0).to_vector<int64_t>() == std::vector<int64_t>{44, 45, 244, 43});
  CHECK((u * -1.0).to_vector<int64_t>() == std::vector<int64_t>{0, 255, 56, 1});
  Tensor v = from_vector(std::vector<uint8_t>{5, 6});
  v -= 1.0;
  CHECK(v.to_vector<int64_t>() == std::vector<int64_t>{4, 5});
  const Tensor mask = from_vector(std::vector<bool>{true, false, false, false});
  CHECK(masked_fill(u, mask, -1).to_vector<int64_t>() == std::vector<int64_t>{255, 1, 200, 255});
  // a true division takes the scalar as float32, unwrapped
  CHECK((u / 256.0).to_vector<float>()[4 - 3] == 1.0f / 256.0f);
  CHECK((300.0 / from_vector(std::vector<uint8_t>{3})).item<float>() == 100.0f);
  // pow with a whole exponent stays an integer; a bound or a fill the dtype cannot hold fails
  const Tensor p = pow(from_vector(std::vector<int64_t>{2, 3}), 2.0);
  CHECK(p.dtype() == kInt64);
  CHECK(p.to_vector<int64_t>() == std::vector<int64_t>{4, 9});
  CHECK(pow(from_vector(std::vector<int64_t>{3}), 0.0).item<int64_t>() == 1);
  // integer tensor ^ integer tensor: exact int64, as torch.pow (3^40 wraps; negative powers of
  // anything but +-1 are 0)
  const Tensor base = from_vector(std::vector<int64_t>{2, 3, -2, 1, -1, 2, 3});
  const Tensor exponent = from_vector(std::vector<int64_t>{3, 2, 3, -1, -3, -1, 40});
  const Tensor ip = pow(base, exponent);
  CHECK(ip.dtype() == kInt64);
  CHECK(ip.to_vector<int64_t>() == std::vector<int64_t>{8, 9, -8, 1, -1, 0, -6289078614652622815});
  hg::test::expect_error([] { (void)pow(arange(3), -1.0); }, {"pow", "negative integer powers"});
  hg::test::expect_error([&] { (void)clamp(u, 0, 300); }, {"clamp", "300", "uint8"});
  hg::test::expect_error([] { (void)masked_fill(arange(2), ones({2}, kBool), NAN); },
                         {"masked_fill", "int64"});
  // a fraction truncates in double, past float32's integers too
  CHECK(masked_fill(zeros({1}, kInt64), ones({1}, kBool), 16777217.5).item<int64_t>() == 16777217);
  CHECK(masked_fill(zeros({1}, kInt64), ones({1}, kBool), -123456789.25).item<int64_t>() ==
        -123456789);
  CHECK(masked_fill(zeros({1}, kBool), ones({1}, kBool), 0.5).item<bool>());
  CHECK(masked_fill(zeros({1}, kBool), ones({1}, kBool), NAN).item<bool>());
  CHECK(masked_fill(zeros({1}, kBool), ones({1}, kBool), 1e300).item<bool>());
  // past int64, or a fraction: a floating scalar, so the result is float32
  const Tensor big = arange(3) + 1e20;
  CHECK(big.dtype() == kFloat32);
  CHECK(big.to_vector<float>()[0] == 1e20f);
  CHECK((arange(3) + 0.5).dtype() == kFloat32);
}

TEST_CASE("a fill past a float dtype's range is an error, an operand past it is inf, as PyTorch") {
  const Tensor h = zeros({2}, kFloat16);
  hg::test::expect_error([] { (void)full({2}, 70000.0, kFloat16); }, {"full", "70000", "float16"});
  hg::test::expect_error([&] { Tensor(h).fill_(65504.5); }, {"fill_", "float16", "overflow"});
  hg::test::expect_error([&] { (void)masked_fill(h, ones({2}, kBool), -1e5); },
                         {"masked_fill", "float16"});
  hg::test::expect_error([] { (void)full({1}, 1e39, kFloat32); }, {"full", "float32"});
  hg::test::expect_error([] { (void)full({1}, 3.4e38, kBFloat16); }, {"full", "bfloat16"});
  CHECK(full({1}, 65504.0, kFloat16).item<float>() == 65504.0f);
  CHECK(std::isinf(full({1}, INFINITY, kFloat16).item<float>()));
  CHECK(std::isinf(masked_fill(h, ones({2}, kBool), -INFINITY).to_vector<float>()[0]));
  CHECK(std::isinf((h + 70000.0).to_vector<float>()[0]));
  CHECK_FALSE((h == 70000.0).to_vector<bool>()[0]);
  CHECK(clamp(h, -1e5, 1e5).to_vector<float>()[0] == 0.0f);
  // an operand past float32 on an integer or bool tensor is float32 inf, as in PyTorch
  CHECK(std::isinf((arange(3) + 1e39).to_vector<float>()[0]));
  CHECK((arange(3) < 1e39).to_vector<bool>()[2]);
  CHECK((arange(3) / 1e39).to_vector<float>()[2] == 0.0f);
  CHECK(std::isinf((1e39 / arange(1, 3)).to_vector<float>()[0]));
  CHECK(std::isinf((ones({2}, kBool) + 1e39).to_vector<float>()[0]));
  hg::test::expect_error([] { (void)masked_fill(arange(3), ones({2}, kBool), 1); },
                         {"masked_fill", "mask [2] bool", "[3] int64"});
}

TEST_CASE("logsumexp of 16-bit inputs computes in float and rounds once") {
  // rounding each step to fp16 (x - max, exp, sum, log, + max) gave 3.22265625 for this row
  const Tensor x = from_vector(
      std::vector<float>{1.6171875f, 2.41796875f, 1.54003906f, 1.43652344f}, {1, 4}, kFloat16);
  const Tensor wide = x.to(kFloat32);
  const float expected = logsumexp(wide, {1}).item<float>();
  const Tensor got = logsumexp(x, {1});
  CHECK(got.dtype() == kFloat16);
  CHECK(got.item<float>() == static_cast<float>(Half(expected)));
  CHECK(got.item<float>() == 3.22460938f);
}
