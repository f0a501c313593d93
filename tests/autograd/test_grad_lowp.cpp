// fp16 / bf16: forward and backward of a representative op set, compared in double with the
// fp64 result on the same (rounded) input values; tolerances suit the dtype (fp16 ~1e-2, bf16
// ~5e-2 relative, scale-aware: |err| <= tol * (|expected| + max|expected|)). Every leaf gradient
// must come back in its leaf's dtype.
#include <string>

#include "grad_util.h"

using namespace hg;
using hg::test::check_lowp;
using hg::test::Fn;

namespace {

struct LowpCase {
  std::string name;
  Fn fn;
  std::vector<Tensor> inputs;  // fp64 values; cast to the low dtype inside check_lowp
};

Tensor positive_fp64(const Shape& s) { return rand(s, kFloat64) * 1.5 + 0.5; }

std::vector<LowpCase> lowp_cases() {
  manual_seed(701);
  return {
      {"exp", [](const std::vector<Tensor>& in) { return exp(in[0]); }, {randn({4, 5}, kFloat64)}},
      {"tanh",
       [](const std::vector<Tensor>& in) { return tanh(in[0]); },
       {randn({4, 5}, kFloat64) * 2.0}},
      {"sin and cos",
       [](const std::vector<Tensor>& in) { return sin(in[0]) * cos(in[0] * 0.7); },
       {randn({4, 5}, kFloat64) * 2.0}},
      {"gelu",
       [](const std::vector<Tensor>& in) { return gelu(in[0]); },
       {randn({4, 5}, kFloat64) * 2.0}},
      {"sigmoid",
       [](const std::vector<Tensor>& in) { return sigmoid(in[0]); },
       {randn({4, 5}, kFloat64) * 2.0}},
      {"silu",
       [](const std::vector<Tensor>& in) { return silu(in[0]); },
       {randn({4, 5}, kFloat64) * 3.0}},
      {"leaky_relu",
       [](const std::vector<Tensor>& in) { return leaky_relu(in[0], 0.2); },
       {randn({4, 5}, kFloat64) * 2.0}},
      {"logsumexp",
       [](const std::vector<Tensor>& in) { return logsumexp(in[0], {1}); },
       {randn({4, 5}, kFloat64) * 2.0}},
      {"affine (scalar ops)",
       [](const std::vector<Tensor>& in) { return in[0] * 0.1 + 1.0; },
       {randn({3, 4}, kFloat64)}},
      {"mul [3,4] x [4]",
       [](const std::vector<Tensor>& in) { return in[0] * in[1]; },
       {randn({3, 4}, kFloat64), randn({4}, kFloat64)}},
      {"mul [3,1] x [4]",
       [](const std::vector<Tensor>& in) { return mul(in[0], in[1]); },
       {randn({3, 1}, kFloat64), randn({4}, kFloat64)}},
      {"div [2,3,4] / [3,1]",
       [](const std::vector<Tensor>& in) { return in[0] / in[1]; },
       {randn({2, 3, 4}, kFloat64), positive_fp64({3, 1})}},
      {"div [4] / [2,3,4]",
       [](const std::vector<Tensor>& in) { return div(in[0], in[1]); },
       {randn({4}, kFloat64), positive_fp64({2, 3, 4})}},
      {"sum all",
       [](const std::vector<Tensor>& in) { return sum(in[0]); },
       {rand({8, 512}, kFloat64)}},  // 4096 positive terms: 16-bit accumulation would stall
      {"sum dim 1",
       [](const std::vector<Tensor>& in) { return sum(in[0], {1}); },
       {randn({4, 300}, kFloat64)}},
      {"mean all",
       [](const std::vector<Tensor>& in) { return mean(in[0]); },
       {rand({16, 256}, kFloat64) + 1.0}},
      {"mean dim 0 keepdim",
       [](const std::vector<Tensor>& in) { return mean(in[0], {0}, true); },
       {randn({64, 5}, kFloat64)}},
      {"matmul 2-D",
       [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
       {randn({4, 64}, kFloat64), randn({64, 8}, kFloat64)}},
      {"matmul batched",
       [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
       {randn({2, 3, 32}, kFloat64), randn({32, 5}, kFloat64)}},
      {"matmul transposed",
       [](const std::vector<Tensor>& in) { return matmul(in[0].t(), in[1]); },
       {randn({32, 4}, kFloat64), randn({32, 3}, kFloat64)}},
      {"linear + bias",
       [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
       {randn({2, 3, 48}, kFloat64), randn({8, 48}, kFloat64) * 0.2, randn({8}, kFloat64)}},
      {"linear no bias",
       [](const std::vector<Tensor>& in) { return linear(in[0], in[1]); },
       {randn({5, 16}, kFloat64), randn({4, 16}, kFloat64)}},
      {"softmax dim -1",
       [](const std::vector<Tensor>& in) { return softmax(in[0], -1); },
       {randn({4, 10}, kFloat64) * 3.0}},
      {"softmax dim 0",
       [](const std::vector<Tensor>& in) { return softmax(in[0], 0); },
       {randn({6, 3}, kFloat64) * 3.0}},
      {"log_softmax dim -1",
       [](const std::vector<Tensor>& in) { return log_softmax(in[0], -1); },
       {randn({4, 10}, kFloat64) * 3.0}},
      {"log_softmax dim 1 of 3-D",
       [](const std::vector<Tensor>& in) { return log_softmax(in[0], 1); },
       {randn({2, 7, 3}, kFloat64) * 3.0}},
      {"strided: exp/mul/sum of views",
       [](const std::vector<Tensor>& in) {
         return sum(exp(in[0].t() * 0.5) * in[1].slice(1, 0, 8, 2), {0});
       },
       {randn({4, 3}, kFloat64), randn({3, 8}, kFloat64)}},
      {"strided: softmax of a permuted view",
       [](const std::vector<Tensor>& in) {
         return softmax(in[0].permute({2, 0, 1}), 1);
       },
       {randn({3, 6, 2}, kFloat64) * 2.0}},
      {"mlp-like chain",
       [](const std::vector<Tensor>& in) {
         return log_softmax(linear(gelu(linear(in[0], in[1])), in[2]), -1);
       },
       {randn({4, 16}, kFloat64), randn({12, 16}, kFloat64) * 0.25,
        randn({5, 12}, kFloat64) * 0.3}},
  };
}

void run_all(DType dtype, double tol) {
  const std::vector<LowpCase> cases = lowp_cases();
  manual_seed(702);
  for (const LowpCase& c : cases) {
    INFO(dtype_name(dtype) << " " << c.name);
    check_lowp(c.fn, c.inputs, dtype, tol, c.name);
  }
}

}  // namespace

TEST_CASE("grad lowp: float16 forward and backward match fp64") { run_all(kFloat16, 1e-2); }

TEST_CASE("grad lowp: bfloat16 forward and backward match fp64") { run_all(kBFloat16, 5e-2); }

TEST_CASE("grad lowp: a 16-bit leaf used in an fp32 graph gets a 16-bit gradient") {
  for (DType low : {kFloat16, kBFloat16}) {
    INFO(dtype_name(low));
    Tensor w = from_vector(std::vector<double>{0.5, -1.0, 2.0}, {3}).to(low).requires_grad_();
    Tensor x = from_vector(std::vector<double>{1.0, 2.0, 3.0}, {3});
    Tensor y = (w.to(kFloat32) * x).sum();
    CHECK(y.dtype() == kFloat32);
    y.backward();
    CHECK(w.grad().dtype() == low);
    CHECK(hg::test::values(w.grad()) == std::vector<double>{1.0, 2.0, 3.0});
    // mixed 16-bit and fp32 operands promote to fp32; the gradient is cast back
    Tensor v = from_vector(std::vector<double>{1.5, 2.5}, {2}).to(low).requires_grad_();
    Tensor z = v * from_vector(std::vector<float>{2.f, 4.f}, {2});
    CHECK(z.dtype() == kFloat32);
    z.sum().backward();
    CHECK(v.grad().dtype() == low);
    CHECK(hg::test::values(v.grad()) == std::vector<double>{2.0, 4.0});
  }
}

TEST_CASE("grad lowp: mixed 16-bit dtypes fail where ops need equal dtypes") {
  using hg::test::expect_error;
  const Tensor h = ones({2, 3}, kFloat16);
  const Tensor b = ones({3, 2}, kBFloat16);
  expect_error([&] { matmul(h, b); }, {"matmul", "[2, 3] float16", "[3, 2] bfloat16"});
  expect_error(
      [&] {
        linear(h, ones({4, 3}, kBFloat16));
      },
      {"linear", "[2, 3] float16", "[4, 3] bfloat16"});
  expect_error(
      [&] {
        bmm(ones({1, 2, 3}, kFloat16), ones({1, 3, 2}));
      },
      {"bmm", "float16", "float32"});
}
