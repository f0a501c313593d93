// Unary, binary (broadcasting, comparisons) and where on the GPU against the CPU, forward and
// backward through autograd, for fp32/fp16/bf16/fp64 and several layouts.
#include <cmath>

#include "parity.h"

using namespace hg;
using cuda_test::Inputs;
using cuda_test::Kind;

namespace {

struct UnaryCase {
  const char* name;
  Tensor (*fn)(const Tensor&);
  Kind kind;
  double low, high;  // input range (log, sqrt... need positives)
};

Tensor pow_2_5(const Tensor& x) { return pow(x, 2.5); }
Tensor clamp_pm(const Tensor& x) {  // whole bounds for int64 tensors
  return x.is_floating_point() ? clamp(x, -0.5, 0.75) : clamp(x, -1, 2);
}
Tensor affine_op(const Tensor& x) { return affine(x, 0.3, -1.25); }
Tensor scalar_div_op(const Tensor& x) { return 0.1 / x; }
Tensor leaky_relu_op(const Tensor& x) { return leaky_relu(x, 0.2); }
Tensor logsumexp_op(const Tensor& x) { return x.dim() == 0 ? x : logsumexp(x, {-1}); }
Tensor gelu_tanh_op(const Tensor& x) { return gelu(x, GeluApproximate::Tanh); }

const UnaryCase kUnary[] = {
    {"neg", neg, Kind::Exact, -2, 2},
    {"exp", exp, Kind::Ulp, -3, 3},
    {"log", log, Kind::Ulp, 0.1, 4},
    {"sqrt", sqrt, Kind::Exact, 0.1, 4},
    {"rsqrt", rsqrt, Kind::Exact, 0.1, 4},
    {"abs", abs, Kind::Exact, -2, 2},
    {"sign", sign, Kind::Exact, -2, 2},
    {"square", square, Kind::Exact, -2, 2},
    {"reciprocal", reciprocal, Kind::Exact, 0.5, 3},
    {"relu", relu, Kind::Exact, -2, 2},
    {"gelu", gelu, Kind::Ulp, -3, 3},
    {"sigmoid", sigmoid, Kind::Ulp, -6, 6},
    {"tanh", tanh, Kind::Ulp, -3, 3},
    {"sin", sin, Kind::Ulp, -6, 6},
    {"cos", cos, Kind::Ulp, -6, 6},
    {"pow 2.5", pow_2_5, Kind::Ulp, 0.1, 3},
    {"clamp", clamp_pm, Kind::Exact, -2, 2},
    {"affine", affine_op, Kind::Ulp, -2, 2},
    {"0.1 / x", scalar_div_op, Kind::Exact, 0.5, 3},
    {"floor", floor, Kind::Exact, -4, 4},
    {"ceil", ceil, Kind::Exact, -4, 4},
    {"round", round, Kind::Exact, -4, 4},
    {"trunc", trunc, Kind::Exact, -4, 4},
    {"erf", erf, Kind::Ulp, -3, 3},
    {"gelu tanh", gelu_tanh_op, Kind::Ulp, -3, 3},
    // composites of the ops above (autograd/composite_ops.cpp)
    {"leaky_relu", leaky_relu_op, Kind::Ulp, -2, 2},
    {"silu", silu, Kind::Ulp, -3, 3},
    {"logsumexp", logsumexp_op, Kind::Reduction, -3, 3},
};

const Shape kShapes[] = {{}, {1}, {37}, {4, 129}, {2, 3, 5}, {0, 3}};

Kind grad_kind(Kind forward) { return forward == Kind::Exact ? Kind::Ulp : Kind::Reduction; }

}  // namespace

TEST_CASE("unary ops match the CPU forward and backward") {
  HG_REQUIRE_CUDA();
  for (const UnaryCase& c : kUnary) {
    for (DType dtype : cuda_test::kFloatDtypes) {
      for (const Shape& shape : kShapes) {
        const std::string name =
            std::string(c.name) + " " + std::string(dtype_name(dtype)) + " " + shape_str(shape);
        const auto fn = c.fn;
        // The gradient is one product with the derivative: Ulp-level when the op is exact.
        // Otherwise a forward output one 16-bit ulp apart (allowed by Ulp: exp/tanh/... differ
        // by an ulp of float, which can round the other way) feeds the derivative of exp,
        // sigmoid and tanh, and the rounded product may then be two ulps apart: exp fp16 of
        // the [4, 129] input has a value 1 float ulp from a rounding boundary (0.0731506).
        cuda_test::check_op(
            name, {cuda_test::input(shape, dtype, 31, c.low, c.high)},
            [fn](const Inputs& x) { return fn(x[0]); }, c.kind, true, grad_kind(c.kind));
      }
      const std::string strided =
          std::string(c.name) + " strided " + std::string(dtype_name(dtype));
      // A transposed view (non-contiguous) of values in the op's range.
      const Tensor in = cuda_test::input({9, 17}, dtype, 32, c.low, c.high).t();
      const auto fn = c.fn;
      cuda_test::check_op(
          strided, {in}, [fn](const Inputs& x) { return fn(x[0]); }, c.kind, true,
          grad_kind(c.kind));
    }
  }
}

TEST_CASE("binary ops with broadcasting match the CPU forward and backward") {
  HG_REQUIRE_CUDA();
  struct BinaryCase {
    const char* name;
    Tensor (*fn)(const Tensor&, const Tensor&);
    Kind kind;
  };
  const BinaryCase cases[] = {{"add", add, Kind::Exact},         {"sub", sub, Kind::Exact},
                              {"mul", mul, Kind::Exact},         {"div", div, Kind::Exact},
                              {"maximum", maximum, Kind::Exact}, {"minimum", minimum, Kind::Exact}};
  const std::pair<Shape, Shape> shapes[] = {{{5}, {5}},       {{4, 7}, {4, 7}},    {{4, 7}, {7}},
                                            {{4, 1}, {1, 7}}, {{2, 3, 4}, {3, 1}}, {{}, {6}},
                                            {{3, 0}, {3, 1}}, {{1025}, {1}}};
  for (const BinaryCase& c : cases) {
    for (DType dtype : cuda_test::kFloatDtypes) {
      for (const auto& [sa, sb] : shapes) {
        const std::string name = std::string(c.name) + " " + std::string(dtype_name(dtype)) + " " +
                                 shape_str(sa) + " " + shape_str(sb);
        const auto fn = c.fn;
        const Tensor b = cuda_test::input(sb, dtype, 42, 0.5, 2.0);  // no division by ~0
        cuda_test::check_op(
            name, {cuda_test::input(sa, dtype, 41), b},
            [fn](const Inputs& x) { return fn(x[0], x[1]); }, c.kind);
      }
      const auto fn = c.fn;
      cuda_test::check_op(
          std::string(c.name) + " strided",
          {cuda_test::strided_input({6, 11}, dtype, 43),
           cuda_test::input({6, 11}, dtype, 44, 0.5, 2)},
          [fn](const Inputs& x) { return fn(x[0], x[1]); }, c.kind);
    }
  }
  for (DType dtype : cuda_test::kFloatDtypes) {
    cuda_test::check_op(
        "pow tensor",
        {cuda_test::input({3, 8}, dtype, 45, 0.5, 2), cuda_test::input({8}, dtype, 46, -1, 2)},
        [](const Inputs& x) { return pow(x[0], x[1]); }, Kind::Ulp);
    cuda_test::check_op(
        "scalar ops", {cuda_test::input({300}, dtype, 47)},
        [](const Inputs& x) { return (x[0] * 0.1 + 1.0) / 3.0 - 2.0 * x[0]; },
        Kind::Ulp);  // (Ulp in case the host compiler fuses a * x + b)
  }
}

TEST_CASE("integer binary ops and comparisons match the CPU exactly") {
  HG_REQUIRE_CUDA();
  for (DType dtype : cuda_test::kAllDtypes) {
    const Tensor a = cuda_test::input({5, 6}, dtype, 51), b = cuda_test::input({6}, dtype, 52);
    // Equal values in both for the == / <= cases.
    const Tensor a_eq = cat({a.slice(0, 0, 4), b.unsqueeze(0)}, 0);
    for (auto fn : {eq, ne, lt, le, gt, ge}) {
      cuda_test::check_op(
          "compare " + std::string(dtype_name(dtype)), {a_eq, b},
          [fn](const Inputs& x) { return fn(x[0], x[1]); }, Kind::Exact, false);
    }
    if (!is_floating(dtype) && dtype != kBool) {
      for (auto fn : {add, sub, mul, maximum, minimum}) {
        cuda_test::check_op(
            "integer op " + std::string(dtype_name(dtype)), {a, b},
            [fn](const Inputs& x) { return fn(x[0], x[1]); }, Kind::Exact, false);
      }
    }
    if (dtype == kInt64) {  // the int64 unary ops, composed from the ops above
      for (auto fn : {neg, abs, sign, relu, square, clamp_pm}) {
        cuda_test::check_op(
            "int64 unary", {a - 10},  // inputs are >= 0: shift them to have both signs
            [fn](const Inputs& x) { return fn(x[0]); }, Kind::Exact, false);
      }
    }
  }
}

TEST_CASE("where matches the CPU forward and backward") {
  HG_REQUIRE_CUDA();
  for (DType dtype : cuda_test::kFloatDtypes) {
    const Tensor cond = cuda_test::input({4, 1, 6}, kBool, 61);
    cuda_test::check_op(
        "where " + std::string(dtype_name(dtype)),
        {cond, cuda_test::input({3, 6}, dtype, 62), cuda_test::input({4, 3, 1}, dtype, 63)},
        [](const Inputs& x) { return where(x[0], x[1], x[2]); }, Kind::Exact);
  }
  for (DType dtype : {kInt64, kUInt8, kBool}) {
    cuda_test::check_op(
        "where int",
        {cuda_test::input({9}, kBool, 64), cuda_test::input({9}, dtype, 65),
         cuda_test::input({9}, dtype, 66)},
        [](const Inputs& x) { return where(x[0], x[1], x[2]); }, Kind::Exact, false);
  }
}

TEST_CASE("relu and clamp block inf/NaN gradients on the GPU as on the CPU") {
  HG_REQUIRE_CUDA();
  const Tensor x = from_vector(std::vector<float>{-1, 2, -3, 0.5f});
  for (Device device : {kCPU, kCUDA}) {
    // detach: x.to(kCPU) is x itself, and x must not require grad when it goes to the GPU
    Tensor leaf = x.detach().to(device).requires_grad_(true);
    relu(leaf).backward(from_vector(std::vector<float>{INFINITY, 1, NAN, 2}).to(device));
    const std::vector<float> g = leaf.grad().to_vector<float>();
    CHECK(g[0] == 0.0f);
    CHECK(g[1] == 1.0f);
    CHECK(g[2] == 0.0f);
    CHECK(g[3] == 2.0f);
    CHECK(std::isnan(relu(from_vector(std::vector<float>{NAN}).to(device)).item<float>()));
  }
}
