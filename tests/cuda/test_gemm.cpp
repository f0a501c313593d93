// matmul / bmm / linear through cuBLAS against the CPU's BLAS: shapes (odd, batched, broadcast
// batch, transposed operands, empty), dtypes (fp32 strict, fp16/bf16 with fp32 accumulation,
// fp64), forward and backward; TF32 only when asked for.
#include <cmath>

#include "parity.h"

using namespace hg;
using cuda_test::Inputs;
using cuda_test::Kind;

TEST_CASE("matmul matches the CPU for every layout and dtype") {
  HG_REQUIRE_CUDA();
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 5}, {5, 4}},       {{1, 7}, {7, 1}},    {{17, 33}, {33, 9}},
      {{2, 3, 5}, {2, 5, 4}}, {{4, 3, 5}, {5, 6}}, {{2, 1, 3, 5}, {4, 5, 2}},
      {{7}, {7, 3}},          {{3, 7}, {7}},       {{64, 130}, {130, 65}},
      {{3, 0}, {0, 4}},       {{0, 3}, {3, 4}},    {{2, 3, 4}, {4, 0}}};
  for (DType dtype : cuda_test::kFloatDtypes) {
    for (const auto& [sa, sb] : shapes) {
      const std::string name =
          "matmul " + std::string(dtype_name(dtype)) + " " + shape_str(sa) + " x " + shape_str(sb);
      cuda_test::check_op(
          name, {cuda_test::input(sa, dtype, 91), cuda_test::input(sb, dtype, 92)},
          [](const Inputs& x) { return matmul(x[0], x[1]); }, Kind::Gemm);
    }
    // Transposed and sliced operands go to cuBLAS in place or packed.
    cuda_test::check_op(
        "matmul transposed",
        {cuda_test::strided_input({6, 9}, dtype, 93), cuda_test::strided_input({9, 5}, dtype, 94)},
        [](const Inputs& x) { return matmul(x[0], x[1]); }, Kind::Gemm);
    cuda_test::check_op(
        "matmul sliced columns",
        {cuda_test::input({6, 20}, dtype, 95), cuda_test::input({10, 4}, dtype, 96)},
        [](const Inputs& x) { return matmul(x[0].slice(1, 0, 20, 2), x[1]); }, Kind::Gemm);
    cuda_test::check_op(
        "bmm", {cuda_test::input({3, 4, 6}, dtype, 97), cuda_test::input({3, 6, 2}, dtype, 98)},
        [](const Inputs& x) { return bmm(x[0], x[1]); }, Kind::Gemm);
    cuda_test::check_op(
        "bmm permuted batch",
        {cuda_test::input({4, 3, 6}, dtype, 99), cuda_test::input({3, 6, 2}, dtype, 100)},
        [](const Inputs& x) { return bmm(x[0].transpose(0, 1), x[1]); }, Kind::Gemm);
    cuda_test::check_op(
        "linear",
        {cuda_test::input({8, 12}, dtype, 101), cuda_test::input({5, 12}, dtype, 102),
         cuda_test::input({5}, dtype, 103)},
        [](const Inputs& x) { return linear(x[0], x[1], x[2]); }, Kind::Gemm);
  }
}

TEST_CASE("fp32 matmul is strict fp32 unless TF32 is allowed") {
  HG_REQUIRE_CUDA();
  CHECK_FALSE(cuda::allow_tf32());
  // 1 + 2^-16 keeps its low bits only in fp32: TF32 inputs (10-bit mantissa) would lose them.
  // Every partial sum j (1 + 2^-16), j <= 64, is exact in fp32, so the result does not depend on
  // the order in which cuBLAS adds the products (with 1 + 2^-20, a running sum rounds from the
  // 17th term on and only some tree orders give 64 (1 + 2^-20)).
  const Tensor a = full({64, 64}, 1.0 + 1.0 / (1 << 16), TensorOptions().device(kCUDA));
  const Tensor b = ones({64, 64}, TensorOptions().device(kCUDA));
  const double exact = 64.0 * (1.0 + 1.0 / (1 << 16));
  CHECK(matmul(a, b).to_vector<double>() == std::vector<double>(64 * 64, exact));
  cuda::set_allow_tf32(true);
  CHECK(cuda::allow_tf32());
  const std::vector<double> fast = matmul(a, b).to_vector<double>();
  cuda::set_allow_tf32(false);
  CHECK(std::abs(fast[0] - exact) < 2e-3);  // TF32 or not, the result is close (64 vs exact)
}

// TF32 is matmul's opt-in: with it allowed, convolutions stay strict fp32, the same values as
// above. The bias sends conv's weight gradient to linear's gemm_bias_grad, which would take TF32
// for fp32 there: conv declines it under TF32 (kernels/cuda/conv.cu weight_and_bias_grad).
TEST_CASE("conv2d stays strict fp32 with TF32 allowed, its weight and bias gradient too") {
  HG_REQUIRE_CUDA();
  struct Tf32Allowed {
    Tf32Allowed() { cuda::set_allow_tf32(true); }
    ~Tf32Allowed() { cuda::set_allow_tf32(false); }
    Tf32Allowed(const Tf32Allowed&) = delete;
    Tf32Allowed& operator=(const Tf32Allowed&) = delete;
  };
  const double v = 1.0 + 1.0 / (1 << 16);
  const TensorOptions on_gpu = TensorOptions().device(kCUDA);
  const Tensor x = full({16, 1, 4, 4}, v, on_gpu);  // 16 samples x 2 x 2 outputs: 64 terms
  const Tensor w = ones({2, 1, 3, 3}, on_gpu).requires_grad_();
  const Tensor b = zeros({2}, on_gpu).requires_grad_();
  Tensor y;
  {
    const Tf32Allowed tf32;
    y = conv2d(x, w, b, {1, 1}, {0, 0}, {1, 1}, 1);
    y.backward(ones(y.sizes(), on_gpu));
  }
  CHECK(y.to_vector<double>() == std::vector<double>(128, 9.0 * v));
  CHECK(w.grad().to_vector<double>() == std::vector<double>(18, 64.0 * v));
  CHECK(b.grad().to_vector<double>() == std::vector<double>(2, 64.0));
}

TEST_CASE("16-bit matmul accumulates in fp32 and rounds once") {
  HG_REQUIRE_CUDA();
  // 4096 products of 1 * 2^-12 = 1.0 exactly; fp16 accumulation would stall at 0.25 or so.
  for (DType dtype : {kFloat16, kBFloat16}) {
    const Tensor a = full({2, 4096}, 1.0 / 4096, TensorOptions(dtype).device(kCUDA));
    const Tensor b = ones({4096, 3}, TensorOptions(dtype).device(kCUDA));
    CHECK(matmul(a, b).to_vector<double>() == std::vector<double>(6, 1.0));
  }
}

// linear's bias goes into cuBLASLt's epilogue (kernels/cuda/gemm_bias.cpp) where cuBLASLt takes
// the call, else a broadcast copy + accumulating GEMM: both against the CPU, for the mlp's
// shapes, odd ones, a transposed and a misaligned input (a view at storage offset 1), a 3-D
// input, and fp64 (never cuBLASLt).
TEST_CASE("cuda linear with a bias matches the CPU: the epilogue path and its fallback") {
  HG_REQUIRE_CUDA();
  struct Case {
    const char* name;
    Shape x, w;
  };
  const std::vector<Case> cases = {{"mlp layer", {128, 784}, {1024, 784}},
                                   {"logits", {128, 1024}, {10, 1024}},
                                   {"odd", {7, 13}, {5, 13}},
                                   // one row: cuBLASLt has mis-added biases there (with a
                                   // padded output), and its gradient keeps the plain kernels
                                   {"one row", {1, 768}, {4, 768}},
                                   {"one odd row", {1, 13}, {5, 13}},
                                   {"3-D input", {2, 3, 12}, {5, 12}}};
  for (DType dtype : cuda_test::kFloatDtypes) {
    for (const Case& c : cases) {
      // weights and bias as nn::Linear draws them (within 1 / sqrt(fan_in)): with inputs in
      // [-2, 2] the 784-term fp32 sums erred by more than Kind::Gemm's tolerance on the CPU
      // alone (found by tests/cuda_emu, whose GEMMs sum in double)
      const double bound = 1.0 / std::sqrt(static_cast<double>(c.w[1]));
      cuda_test::check_op(
          std::string("linear ") + c.name,
          {cuda_test::input(c.x, dtype, 111), cuda_test::input(c.w, dtype, 112, -bound, bound),
           cuda_test::input({c.w[0]}, dtype, 113, -bound, bound)},
          [](const Inputs& x) { return linear(x[0], x[1], x[2]); }, Kind::Gemm);
    }
    cuda_test::check_op(
        "linear transposed input",
        {cuda_test::input({12, 9}, dtype, 114), cuda_test::input({6, 12}, dtype, 115),
         cuda_test::input({6}, dtype, 116)},
        [](const Inputs& x) { return linear(x[0].t(), x[1], x[2]); }, Kind::Gemm);
    cuda_test::check_op(
        "linear misaligned input",
        {cuda_test::input({8 * 16 + 1}, dtype, 117), cuda_test::input({6, 16}, dtype, 118),
         cuda_test::input({6}, dtype, 119)},
        [](const Inputs& x) {
          return linear(x[0].slice(0, 1, 8 * 16 + 1).reshape({8, 16}), x[1], x[2]);
        },
        Kind::Gemm);
  }
}

TEST_CASE("cuda linear: calls of one shape each add their own bias") {
  HG_REQUIRE_CUDA();
  for (DType dtype : {kFloat32, kFloat16, kBFloat16}) {
    const TensorOptions on_gpu = TensorOptions(dtype).device(kCUDA);
    const Tensor x = zeros({4, 8}, on_gpu), w = ones({3, 8}, on_gpu);
    const Tensor b1 = full({3}, 1.0, on_gpu), b2 = full({3}, -2.0, on_gpu);
    CHECK(linear(x, w, b1).to_vector<double>() == std::vector<double>(12, 1.0));
    CHECK(linear(x, w, b2).to_vector<double>() == std::vector<double>(12, -2.0));
    CHECK(linear(x + 0.5, w, b1).to_vector<double>() == std::vector<double>(12, 5.0));
  }
}

// The fallback gives the same results, so the parity cases above pass whether or not cuBLASLt
// took a call: this one says that the epilogue path runs at all, for the mlp's 16-bit layers
// forward and backward (fp32 too, where the heuristic may decline: reported, not required).
TEST_CASE("cuda linear: the mlp's layers take cuBLASLt's epilogue forward and backward") {
  HG_REQUIRE_CUDA();
  for (DType dtype : {kFloat16, kBFloat16, kFloat32}) {
    const TensorOptions on_gpu = TensorOptions(dtype).device(kCUDA);
    const Tensor x = randn({128, 784}, on_gpu);
    const Tensor w = randn({512, 784}, on_gpu).requires_grad_();
    const Tensor b = zeros({512}, on_gpu).requires_grad_();
    const Tensor g = randn({128, 512}, on_gpu);  // a dense gradient (sum()'s is expanded)
    const int64_t before = cuda::cublaslt_epilogue_calls();
    (linear(x, w, b) * g).sum().backward();
    const int64_t taken = cuda::cublaslt_epilogue_calls() - before;
    INFO(dtype_name(dtype), ": ", taken, " of 2 calls took the epilogue");
    if (dtype == kFloat32)
      MESSAGE("fp32 linear: ", taken, " of 2 calls took cuBLASLt's epilogue");
    else
      CHECK(taken == 2);
  }
}
