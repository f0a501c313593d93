// floor, ceil, round, trunc, erf and gelu's tanh approximation (autograd/unary_ops.cpp): PyTorch
// 1.13's values (ties to even, signed zeros, huge values), zero gradients for the roundings,
// integers, every floating dtype, erf's and gelu-tanh's gradients, nn::GELU's option.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "grad_util.h"

using namespace hg;
using hg::test::check_grad;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::values;

namespace {

const std::vector<double> kRoundingInputs{-2.5, -1.5, -0.5, -0.4, 0.0,  0.4,
                                          0.5,  1.5,  2.5,  3.7,  -3.7, 1e20};

// |a - b| in units in the last place of fp32 (both finite floats)
int64_t ulp_distance(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  if (ia < 0) ia = INT32_MIN - ia;
  if (ib < 0) ib = INT32_MIN - ib;
  return std::abs(static_cast<int64_t>(ia) - static_cast<int64_t>(ib));
}

float float_from_bits(int32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

TEST_CASE("floor, ceil, round, trunc: PyTorch's values, ties to even, signed zeros") {
  // torch 1.13 on these float32 inputs (1e20 rounds to 100000002004087734272 in fp32)
  const Tensor x = from_vector<double>(kRoundingInputs).to(kFloat32);
  const double big = static_cast<double>(1e20f);
  CHECK(values(floor(x)) == std::vector<double>{-3, -2, -1, -1, 0, 0, 0, 1, 2, 3, -4, big});
  CHECK(values(ceil(x)) == std::vector<double>{-2, -1, -0.0, -0.0, 0, 1, 1, 2, 3, 4, -3, big});
  CHECK(values(round(x)) == std::vector<double>{-2, -2, -0.0, -0.0, 0, 0, 0, 2, 2, 4, -4, big});
  CHECK(values(trunc(x)) == std::vector<double>{-2, -1, -0.0, -0.0, 0, 0, 0, 1, 2, 3, -3, big});
  CHECK(std::signbit(values(round(x))[3]));  // round(-0.4) = -0.0, as torch
  CHECK(std::signbit(values(ceil(x))[2]));
  // NaN and infinities pass through; every floating dtype rounds to the same integers
  const Tensor special = from_vector<double>({NAN, INFINITY, -INFINITY});
  CHECK(std::isnan(values(floor(special))[0]));
  CHECK(values(round(special))[1] == INFINITY);
  for (const DType dtype : {kFloat16, kBFloat16, kFloat64}) {
    CAPTURE(dtype);
    const Tensor small = from_vector<double>({-2.5, -0.5, 0.5, 1.5, 2.5, 3.75, -3.75}).to(dtype);
    CHECK(round(small).dtype() == dtype);
    CHECK(values(round(small)) == std::vector<double>{-2, -0.0, 0, 2, 2, 4, -4});
    CHECK(values(floor(small)) == std::vector<double>{-3, -1, 0, 1, 2, 3, -4});
  }
  // integers: copies, not views
  const Tensor labels = from_vector<int64_t>({3, -1, 7});
  const Tensor copied = floor(labels);
  CHECK(copied.dtype() == kInt64);
  CHECK(values(copied) == values(labels));
  CHECK_FALSE(copied.is_same(labels));
}

TEST_CASE("round with decimals: PyTorch's values, 16-bit computed in float") {
  // torch 1.13: torch.round(x, decimals=...) on these float32 and float64 inputs
  const std::vector<double> inputs{1.2345, -2.5551, 1234.5678, 0.125, 2.5e-3};
  const Tensor x = from_vector<double>(inputs).to(kFloat32);
  CHECK(values(round(x, 2)) == std::vector<double>{1.2300000190734863, -2.559999942779541,
                                                   1234.5699462890625, 0.11999999731779099, 0.0});
  CHECK(values(round(x, -2)) == std::vector<double>{0.0, -0.0, 1200.0, 0.0, 0.0});
  CHECK(std::signbit(values(round(x, -2))[1]));
  const Tensor wide = from_vector<double>(inputs, kFloat64);
  CHECK(values(round(wide, 3)) == std::vector<double>{1.234, -2.555, 1234.568, 0.125, 0.002});
  CHECK(values(round(wide, -1)) == std::vector<double>{0.0, -0.0, 1230.0, 0.0, 0.0});
  CHECK(hg::test::same_bits(round(x, 0), round(x)));
  // bf16: torch's values; fp16 60000 * 100 would overflow fp16, but not the float computation
  CHECK(values(round(x.to(kBFloat16), 1)) ==
        std::vector<double>{1.203125, -2.59375, 1232.0, 0.10009765625, 0.0});
  const Tensor half = from_vector<double>({60000.0, 1.23456}).to(kFloat16);
  CHECK(round(half, 2).dtype() == kFloat16);
  CHECK(values(round(half, 2)) == std::vector<double>{60000.0, 1.23046875});
  // a zero gradient, as torch's
  Tensor leaf = x.clone().requires_grad_();
  round(leaf, 1).sum().backward();
  CHECK(values(leaf.grad()) == std::vector<double>(5, 0.0));
  expect_error([] { round(from_vector<int64_t>({15, 25}), -1); }, {"round", "floating", "int64"});
  expect_error([&] { round(x, 400); }, {"round", "decimals 400"});
}

TEST_CASE("floor, ceil, round, trunc: zero gradients, even for a non-finite upstream") {
  using Rounding = Tensor (*)(const Tensor&);
  const Rounding roundings[] = {hg::floor, hg::ceil, hg::round, hg::trunc};
  for (const Rounding op : roundings) {
    Tensor x = from_vector<double>({-1.5, 0.25, 2.0}, {3}, kFloat64).requires_grad_();
    op(x).backward(from_vector<double>({1.0, INFINITY, NAN}, {3}, kFloat64));
    CHECK(values(x.grad()) == std::vector<double>{0, 0, 0});
  }
  // the straight-through estimator, spelled out: x + (round(x) - x).detach()
  Tensor x = from_vector<double>({0.3, 1.7}, {2}, kFloat64).requires_grad_();
  const Tensor rounded = x + (round(x) - x).detach();
  rounded.sum().backward();
  CHECK(values(rounded) == std::vector<double>{0, 2});
  CHECK(values(x.grad()) == std::vector<double>{1, 1});
}

TEST_CASE("erf: PyTorch's values and gradients, gradcheck, integers in float32") {
  Tensor x =
      from_vector<double>({-3.0, -1.25, -0.5, 0.0, 0.25, 1.0, 2.5}, {7}, kFloat64).requires_grad_();
  const Tensor y = erf(x);
  y.backward(from_vector<double>({0.5, -1.0, 2.0, 1.5, -0.5, 1.0, 0.25}, {7}, kFloat64));
  expect_close(values(y),
               {-0.9999779095030014, -0.9229001282564583, -0.5204998778130465, 0.0,
                0.27632639016823696, 0.8427007929497149, 0.999593047982555},
               1e-15, 1e-15);
  expect_close(values(x.grad()),
               {6.962652597337393e-05, -0.23652112244729082, 1.7575651578708895, 1.692568750643269,
                -0.5300070646880571, 0.4151074974205947, 0.0005445710575881775},
               1e-15, 1e-14);
  manual_seed(54);
  check_grad([](const std::vector<Tensor>& in) { return erf(in[0]); }, {hg::test::leaf({6})});
  CHECK(erf(from_vector<int64_t>({0, 1})).dtype() == kFloat32);
}

TEST_CASE("gelu, tanh approximation: PyTorch's values and gradients, fp32 within 2 ulp") {
  const std::vector<double> inputs{-6.0, -3.0, -1.25, -0.5, 0.0, 0.25, 1.0, 2.5, 8.0};
  Tensor x = from_vector<double>(inputs, {9}, kFloat64).requires_grad_();
  const Tensor y = gelu(x, GeluApproximate::Tanh);
  y.sum().backward();
  expect_close(
      values(y),
      {-8.43964897967453e-11, -0.0036373920817729943, -0.13228579703028537, -0.15428599017485606,
       0.0, 0.149675350701685, 0.8411919906082768, 2.484915733910001, 8.0},
      1e-15, 1e-15);
  expect_close(
      values(x.grad()),
      {-7.709976012836329e-10, -0.011584166630969648, -0.12249263224964863, 0.13263009646535764,
       0.5, 0.6953540951510604, 1.0829640838457826, 1.037951576212666, 1.0},
      1e-15, 1e-15);
  // fp32: torch's bits within 2 ulp (its vectorised tanh may differ from the C library's in the
  // last bit). The gradient cancels (1 - tanh^2 near tanh = -1 at x = -3), so an ulp of tanh
  // moves it by tens of ulps: it is compared with the fp64 gradient, as torch's own is (its fp32
  // gradient at -3 is 1.3e-7 from the fp64 one).
  const std::vector<int32_t> torch_y{INT32_MIN,  -1150393856, -1106807314, -1105330906, 0,
                                     1041843327, 1062688860,  1075775708,  1090519040};
  Tensor x32 = from_vector<double>(inputs).to(kFloat32).requires_grad_();
  const Tensor y32 = gelu(x32, GeluApproximate::Tanh);
  y32.sum().backward();
  for (size_t i = 0; i < inputs.size(); ++i) {
    CAPTURE(inputs[i]);
    CHECK(ulp_distance(static_cast<float>(values(y32)[i]), float_from_bits(torch_y[i])) <= 2);
  }
  expect_close(values(x32.grad()), values(x.grad()), 5e-7, 1e-6);
  manual_seed(55);
  check_grad([](const std::vector<Tensor>& in) { return gelu(in[0], GeluApproximate::Tanh); },
             {hg::test::leaf({7})});
  // the approximation is close to the exact form, and nn::GELU takes either
  const Tensor z = randn({50}, kFloat64);
  expect_close(values(gelu(z, GeluApproximate::Tanh)), values(gelu(z)), 1e-3, 0);
  CHECK(hg::test::same_bits(nn::GELU(GeluApproximate::Tanh)(z), gelu(z, GeluApproximate::Tanh)));
  CHECK(hg::test::same_bits(nn::GELU()(z), gelu(z)));
  CHECK(nn::GELU(GeluApproximate::Tanh).describe() == "GELU(approximate='tanh')");
  CHECK(nn::GELU().describe() == "GELU()");
  expect_error([] { gelu(from_vector<int64_t>({1}), GeluApproximate::Tanh); },
               {"gelu", "floating", "int64"});
}
