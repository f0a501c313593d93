// Elementwise kernels against a double-precision reference, across dtypes, with broadcasting
// and non-contiguous inputs.
#include <cmath>
#include <vector>

#include "test_util.h"

using namespace hg;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::values;

namespace {
double tolerance(DType d) {
  return d == kFloat16 ? 1e-3 : d == kBFloat16 ? 8e-3 : d == kFloat32 ? 1e-6 : 1e-12;
}

std::vector<double> reference(const Tensor& x, double (*f)(double)) {
  std::vector<double> out;
  for (double v : values(x)) out.push_back(f(v));
  return out;
}
}  // namespace

TEST_CASE("elementwise: unary ops match a double reference in every float dtype") {
  manual_seed(1);
  for (DType d : {kFloat32, kFloat16, kBFloat16, kFloat64}) {
    CAPTURE(dtype_name(d));
    Tensor x = (rand({37}, d) * 2.0 + 0.1);  // positive, so log/sqrt are defined
    const double tol = tolerance(d);
    expect_close(values(exp(x)), reference(x, [](double v) { return std::exp(v); }), 0, tol);
    expect_close(values(log(x)), reference(x, [](double v) { return std::log(v); }), tol, tol);
    expect_close(values(sqrt(x)), reference(x, [](double v) { return std::sqrt(v); }), 0, tol);
    expect_close(values(tanh(x - 1.0)), reference(x, [](double v) { return std::tanh(v - 1.0); }),
                 tol, 4 * tol);
    expect_close(values(sigmoid(x)),
                 reference(x, [](double v) { return 1.0 / (1.0 + std::exp(-v)); }), 0, tol);
    expect_close(
        values(gelu(x)),
        reference(x, [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }), 0,
        tol);
    expect_close(values(pow(x, 3.0)), reference(x, [](double v) { return v * v * v; }), 0, 2 * tol);
    const Tensor wide = x * 3.0;  // past pi: both signs of sin and cos
    expect_close(values(sin(wide)), reference(wide, [](double v) { return std::sin(v); }), tol,
                 tol);
    expect_close(values(cos(wide)), reference(wide, [](double v) { return std::cos(v); }), tol,
                 tol);
  }
}

TEST_CASE("elementwise: relu, abs, neg, clamp keep special values") {
  Tensor x = from_vector(std::vector<float>{-2, -0.5, 0, 1.5, INFINITY, NAN});
  const auto r = values(relu(x));
  CHECK(r[0] == 0);
  CHECK(r[3] == 1.5);
  CHECK(std::isinf(r[4]));
  for (DType dtype : {kFloat32, kFloat16, kBFloat16, kFloat64}) {  // NaN is not clipped to 0
    CAPTURE(dtype_name(dtype));
    CHECK(std::isnan(values(relu(x.to(dtype)))[5]));
  }
  const auto c = values(clamp(x, -1, 1));
  CHECK(c[0] == -1);
  CHECK(c[1] == -0.5);
  CHECK(c[4] == 1);
  CHECK(std::isnan(c[5]));
  CHECK(values(abs(x))[0] == 2);
  CHECK(values(-x)[3] == -1.5);
}

TEST_CASE("elementwise: binary ops broadcast and promote dtypes") {
  Tensor a = from_vector(std::vector<float>{1, 2, 3}).reshape({3, 1});
  Tensor b = from_vector(std::vector<float>{10, 20}, kFloat16);
  Tensor s = a + b;
  CHECK(s.sizes() == Shape{3, 2});
  CHECK(s.dtype() == kFloat32);
  CHECK(values(s) == std::vector<double>{11, 21, 12, 22, 13, 23});
  CHECK(values(a * b) == std::vector<double>{10, 20, 20, 40, 30, 60});
  CHECK(values(b - a).size() == 6);
  CHECK((b / b).dtype() == kFloat16);
  // integer true division promotes to float32
  Tensor i = from_vector(std::vector<int64_t>{1, 2}, kInt64);
  CHECK((i / i).dtype() == kFloat32);
  CHECK((i + i).to_vector<int64_t>() == std::vector<int64_t>{2, 4});
  CHECK((i * 2.5).dtype() == kFloat32);
  CHECK((i * 2.0).dtype() == kInt64);
  expect_error(
      [&] {
        (void)(a.reshape({3}) + from_vector(std::vector<float>{1, 2}));
      },
      {"add", "[3]", "[2]", "cannot be broadcast"});
}

TEST_CASE("elementwise: non-contiguous inputs give the same results as contiguous ones") {
  manual_seed(2);
  Tensor x = randn({5, 7});
  Tensor y = randn({7, 5}).t();
  CHECK(values(x * y) == values(x * y.contiguous()));
  CHECK(values(exp(y)) == values(exp(y.contiguous())));
  Tensor big = randn({300, 200});  // above the parallel grain
  CHECK(values(big.t() + 1.0) == values(big.t().contiguous() + 1.0));
}

TEST_CASE("elementwise: scalars are not rounded to 16 bits before use") {
  Tensor x = ones({1}, kFloat16) * 1000.0;
  // 1000 * 0.1 computed in float is 100.0 exactly after rounding; with 0.1 first rounded to
  // fp16 (0.0999755859375) the product would round to 99.94
  CHECK((x * 0.1).item<float>() == 100.0f);
}

TEST_CASE("elementwise: comparisons and where") {
  Tensor a = from_vector(std::vector<float>{1, 5, 3});
  Tensor b = from_vector(std::vector<float>{2, 5, 1});
  CHECK(lt(a, b).to_vector<bool>() == std::vector<bool>{true, false, false});
  CHECK(eq(a, b).dtype() == kBool);
  CHECK(ge(a, b).to_vector<bool>() == std::vector<bool>{false, true, true});
  CHECK(values(where(gt(a, b), a, b)) == std::vector<double>{2, 5, 3});
  CHECK(values(maximum(a, b)) == std::vector<double>{2, 5, 3});
  CHECK(values(minimum(a, b)) == std::vector<double>{1, 5, 1});
  expect_error([&] { (void)where(a, a, b); }, {"where", "condition must be bool", "float32"});
}

TEST_CASE("elementwise: int64 neg, abs, sign, relu, square and clamp stay exact integers") {
  const int64_t big = (int64_t{1} << 53) + 1;  // not a double: a float path would round it
  const Tensor i = from_vector(std::vector<int64_t>{-big, -3, 0, 5});
  const auto ints = [](const Tensor& t) {
    CHECK(t.dtype() == kInt64);
    return t.to_vector<int64_t>();
  };
  CHECK(ints(-i) == std::vector<int64_t>{big, 3, 0, -5});
  CHECK(ints(abs(i)) == std::vector<int64_t>{big, 3, 0, 5});
  CHECK(ints(sign(i)) == std::vector<int64_t>{-1, -1, 0, 1});
  CHECK(ints(relu(i)) == std::vector<int64_t>{0, 0, 0, 5});
  CHECK(ints(square(i.slice(0, 1, 4))) == std::vector<int64_t>{9, 0, 25});
  CHECK(ints(clamp(i, -3, 2)) == std::vector<int64_t>{-3, -3, 0, 2});
  CHECK(ints(clamp_min(i, 1)) == std::vector<int64_t>{1, 1, 1, 5});
  const int64_t low = -(int64_t{1} << 40);  // (the bounds are doubles: exact up to 2^53)
  CHECK(ints(clamp_max(i, static_cast<double>(low))) == std::vector<int64_t>{-big, low, low, low});
  CHECK(clamp(i, 0.5, 2).dtype() == kFloat32);  // fractional bounds: float32, as PyTorch
  CHECK(abs(arange(3, kUInt8)).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2});
  expect_error([&] { (void)abs(ones({3}, kBool)); },
               {"abs", "floating-point tensor or an int64/uint8 one", "[3] bool"});
}

TEST_CASE("elementwise: float-only ops reject integer tensors with a clear message") {
  Tensor i = arange(3, kInt64);
  expect_error([&] { (void)gelu(i); }, {"gelu", "floating-point tensor, got", "[3] int64"});
  expect_error([&] { (void)softmax(i, 0); }, {"softmax", "[3] int64"});
  expect_error([&] { (void)i.requires_grad_(); }, {"requires_grad_", "[3] int64"});
}

TEST_CASE(
    "elementwise: relu and clamp block the gradient exactly, as PyTorch's threshold_backward") {
  Tensor x = from_vector(std::vector<float>{-1, 2, -3, 4, 0.5f, -0.5f, 3, -2, 1}).requires_grad_();
  Tensor y = relu(x);
  y.backward(from_vector(std::vector<float>{INFINITY, 1, NAN, 1, 1, INFINITY, 1, 1, 1}));
  // where x <= 0 the gradient is 0 even for an inf/NaN incoming gradient (a select, not 0 * g)
  CHECK(values(x.grad()) == std::vector<double>{0, 1, 0, 1, 1, 0, 1, 0, 1});
  Tensor z = ones({9}).requires_grad_();
  clamp(z * 2.0, 0.0, 1.5).backward(full({9}, NAN));
  CHECK(values(z.grad()) == std::vector<double>(9, 0.0));
}

namespace {
// The raw 16-bit patterns of a fp16/bf16 tensor (NaNs compare by payload, not by value).
std::vector<uint16_t> bits16(const Tensor& t) {
  std::vector<uint16_t> out;
  if (t.dtype() == kFloat16) {
    for (Half h : t.to_vector<Half>()) out.push_back(h.bits);
  } else {
    for (BFloat16 b : t.to_vector<BFloat16>()) out.push_back(b.bits);
  }
  return out;
}

// Column 0 of a [n, 2] tensor: a stride-2 view, which the CPU kernels convert element by element,
// and its contiguous copy, which goes through kernels/cpu/blocked_16bit.h in 256-element blocks.
struct TwoLayouts {
  Tensor base, strided, contiguous;
};
TwoLayouts two_layouts(int64_t n, DType d, uint64_t seed) {
  manual_seed(seed);
  Tensor base = (randn({n, 2}) * 4.0).to(d);
  base.select(1, 0).narrow(0, 0, 4).copy_(
      from_vector(std::vector<float>{INFINITY, -INFINITY, NAN, 1e-7f}));  // specials + subnormal
  TwoLayouts l{base, base.select(1, 0), Tensor()};
  l.contiguous = l.strided.contiguous();
  return l;
}
}  // namespace

TEST_CASE(
    "elementwise: contiguous 16-bit runs (float blocks) round exactly like element by element") {
  for (DType d : {kFloat16, kBFloat16}) {
    CAPTURE(dtype_name(d));
    const int64_t n = 1003;  // several 256-element blocks and a tail that is not a multiple of 8
    const TwoLayouts x = two_layouts(n, d, 11), y = two_layouts(n, d, 12);
    CHECK(x.contiguous.is_contiguous());
    CHECK_FALSE(x.strided.is_contiguous());
    CHECK(bits16(relu(x.contiguous)) == bits16(relu(x.strided)));
    CHECK(bits16(exp(x.contiguous)) == bits16(exp(x.strided)));
    CHECK(bits16(sigmoid(x.contiguous)) == bits16(sigmoid(x.strided)));
    CHECK(bits16(x.contiguous * y.contiguous) == bits16(x.strided * y.strided));
    CHECK(bits16(x.contiguous + y.contiguous) == bits16(x.strided + y.strided));
    CHECK(lt(x.contiguous, y.contiguous).to_vector<bool>() ==
          lt(x.strided, y.strided).to_vector<bool>());
    // backward: relu's select and tanh's multiply, on a saved input/output in both layouts
    const Tensor g = y.contiguous;
    for (bool use_relu : {true, false}) {
      CAPTURE(use_relu);
      Tensor leaf = x.contiguous.detach().requires_grad_();
      Tensor base = x.base.detach().requires_grad_();
      const auto f = [&](const Tensor& t) { return use_relu ? relu(t) : tanh(t); };
      f(leaf).backward(g);
      f(base.select(1, 0)).backward(g);
      CHECK(bits16(leaf.grad()) == bits16(base.grad().select(1, 0).contiguous()));
    }
  }
}

TEST_CASE("elementwise: comparison operators and in-place arithmetic, as libtorch writes them") {
  Tensor x = from_vector(std::vector<float>{-1, 0, 2, 3});
  const Tensor y = from_vector(std::vector<float>{0, 0, 1, 5});
  CHECK((x > 0).to_vector<bool>() == std::vector<bool>{false, false, true, true});
  CHECK((x >= y).to_vector<bool>() == std::vector<bool>{false, true, true, false});
  CHECK((x == y).to_vector<bool>() == std::vector<bool>{false, true, false, false});
  CHECK((x != 0).to_vector<bool>() == std::vector<bool>{true, false, true, true});
  CHECK((x < y).dtype() == kBool);
  CHECK((x <= 2.0).to_vector<bool>() == std::vector<bool>{true, true, true, false});
  x += y;        // -1 0 3 8
  x -= 1.0;      // -2 -1 2 7
  x *= 2.0;      // -4 -2 4 14
  x /= 4.0;      // -1 -0.5 1 3.5
  x.sub_(y, 2);  // -1 -0.5 -1 -6.5
  x.mul_(y);     // -0 0 -1 -32.5
  CHECK(values(x) == std::vector<double>{0, 0, -1, -32.5});
  x += 1.0;
  x.div_(full({4}, 2.0));
  CHECK(values(x) == std::vector<double>{0.5, 0.5, 0, -15.75});
  Tensor counts = from_vector(std::vector<int64_t>{1, 2});
  counts += 3.0;
  counts *= from_vector(std::vector<int64_t>{2, 2});
  CHECK(counts.to_vector<int64_t>() == std::vector<int64_t>{8, 10});
  expect_error([&] { counts /= 2.0; }, {"div_", "float32", "[2] int64"});  // true division
  expect_error([&] { x *= ones({2, 4}); }, {"mul_", "[2, 4] float32", "does not broadcast"});
}

TEST_CASE("elementwise: float tanh and sigmoid are correctly rounded, 16-bit rounds them once") {
  // 200001 points over [-20, 20] (every float near 0 is covered by the sample's spacing below)
  std::vector<float> points;
  for (int i = -100000; i <= 100000; ++i) points.push_back(static_cast<float>(i) * 2e-4f);
  for (const float tiny : {1e-30f, -3e-8f, 1e-40f}) points.push_back(tiny);
  const Tensor x = from_vector(points, {static_cast<int64_t>(points.size())});
  const std::vector<float> got_tanh = tanh(x).to_vector<float>();
  const std::vector<float> got_sigmoid = sigmoid(x).to_vector<float>();
  int64_t tanh_misses = 0, sigmoid_misses = 0;
  for (size_t i = 0; i < points.size(); ++i) {
    const long double v = points[i];
    tanh_misses += got_tanh[i] != static_cast<float>(std::tanh(v));
    sigmoid_misses += got_sigmoid[i] != static_cast<float>(1.0L / (1.0L + std::exp(-v)));
  }
  CHECK(tanh_misses == 0);
  CHECK(sigmoid_misses == 0);
  for (const DType dtype : {kFloat16, kBFloat16}) {
    const Tensor narrow = x.to(dtype);
    CHECK(hg::test::same_bits(tanh(narrow), tanh(narrow.to(kFloat32)).to(dtype)));
    CHECK(hg::test::same_bits(sigmoid(narrow), sigmoid(narrow.to(kFloat32)).to(dtype)));
  }
}
