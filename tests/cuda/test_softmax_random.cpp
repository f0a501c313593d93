// Softmax / log-softmax on the GPU against the CPU (short rows: warp per row; long rows: block
// per row), forward and backward; and the device random stream against the host one.
#include <cmath>

#include "halfgrad/kernels/random_kernels.h"
#include "halfgrad/kernels/tensor_bridge.h"
#include "parity.h"
#include "test_util.h"

using namespace hg;
using cuda_test::Inputs;
using cuda_test::Kind;

TEST_CASE("softmax and log_softmax match the CPU forward and backward") {
  HG_REQUIRE_CUDA();
  const std::vector<std::pair<Shape, int64_t>> cases = {
      {{1, 1}, 1},    {{5, 10}, 1}, {{3, 33}, -1},  {{4, 1024}, 1}, {{2, 1025}, 1},
      {{2, 5000}, 1}, {{7, 6}, 0},  {{2, 3, 9}, 1}, {{0, 4}, 1},    {{100, 3}, 1}};
  for (DType dtype : cuda_test::kFloatDtypes) {
    for (const auto& [shape, dim] : cases) {
      const std::string where = std::string(dtype_name(dtype)) + " " + shape_str(shape);
      const int64_t d = dim;
      const Tensor x = cuda_test::input(shape, dtype, 111, -5, 5);
      cuda_test::check_op(
          "softmax " + where, {x}, [d](const Inputs& v) { return softmax(v[0], d); },
          Kind::Reduction);
      cuda_test::check_op(
          "log_softmax " + where, {x}, [d](const Inputs& v) { return log_softmax(v[0], d); },
          Kind::Reduction);
    }
  }
  // Large logits: the max subtraction keeps exp finite on both.
  const Tensor big = from_vector(std::vector<float>{1000, 999, -1000, 0}, {1, 4});
  cuda_test::check_op(
      "softmax large", {big}, [](const Inputs& v) { return softmax(v[0], 1); }, Kind::Reduction);
}

TEST_CASE("the device generator gives the CPU's stream bit for bit and advances it equally") {
  HG_REQUIRE_CUDA();
  struct Draw {
    const char* name;
    Tensor (*fn)(const Shape&, TensorOptions);
  };
  for (const Draw& draw : {Draw{"rand", hg::rand}, Draw{"randn", hg::randn}}) {
    for (DType dtype : cuda_test::kFloatDtypes) {
      for (const Shape& shape : {Shape{1}, Shape{7}, Shape{1001}, Shape{3, 333}, Shape{0}}) {
        manual_seed(1234);
        (void)hg::rand({5});  // start mid-stream: offset 2
        const Tensor cpu = draw.fn(shape, TensorOptions(dtype));
        const Generator::State after_cpu = default_generator().state();
        manual_seed(1234);
        (void)hg::rand({5}, TensorOptions().device(kCUDA));
        const Tensor gpu = draw.fn(shape, TensorOptions(dtype).device(kCUDA));
        CHECK(gpu.device() == kCUDA);
        CHECK(default_generator().state() == after_cpu);
        cuda_test::check_same(std::string(draw.name) + " " + std::string(dtype_name(dtype)), gpu,
                              cpu, Kind::Exact);
      }
    }
  }
  manual_seed(99);
  const Tensor cpu = randint(-5, 1000000007, {4097});
  manual_seed(99);
  const Tensor gpu = randint(-5, 1000000007, {4097}, TensorOptions(kInt64).device(kCUDA));
  cuda_test::check_same("randint", gpu, cpu, Kind::Exact);
  manual_seed(7);
  const Tensor like_cpu = randn_like(zeros({64, 3}, kFloat16));
  manual_seed(7);
  const Tensor like_gpu = randn_like(zeros({64, 3}, TensorOptions(kFloat16).device(kCUDA)));
  cuda_test::check_same("randn_like", like_gpu, like_cpu, Kind::Exact);
}

TEST_CASE("a small training graph gives the same gradients on both devices") {
  HG_REQUIRE_CUDA();
  // linear -> gelu -> linear -> log_softmax -> weighted sum: matmul, broadcast add, unary,
  // softmax and reduction backward kernels in one graph.
  for (DType dtype : {kFloat32, kFloat16, kBFloat16}) {
    cuda_test::check_op(
        "mlp " + std::string(dtype_name(dtype)),
        {cuda_test::input({16, 20}, dtype, 121), cuda_test::input({32, 20}, dtype, 122, -0.3, 0.3),
         cuda_test::input({32}, dtype, 123), cuda_test::input({10, 32}, dtype, 124, -0.3, 0.3)},
        [](const Inputs& x) {
          const Tensor h = gelu(linear(x[0], x[1], x[2]));
          return log_softmax(linear(h, x[3]), 1).mean({0});
        },
        Kind::Gemm);
  }
}

// The kernel columns check their arguments alike (core/random_checks.h): the CPU column always,
// the CUDA one when a device is present.
TEST_CASE("random_fill: a non-finite range or spread is an hg::Error on every device") {
  std::vector<Device> devices{kCPU};
  if (cuda::is_available()) devices.push_back(kCUDA);
  for (const Device device : devices) {
    CAPTURE(device.str());
    const Tensor out = empty({8}, TensorOptions(kFloat32).device(device));
    const auto fill = [&](kernels::RandomKind kind, double a, double b) {
      kernels::random_fill(device)(kind, kernels::view_of(out), {a, b}, 1, 0);
    };
    hg::test::expect_error([&] { fill(kernels::RandomKind::Uniform, 0.0, INFINITY); },
                           {"high - low must be finite"});
    hg::test::expect_error([&] { fill(kernels::RandomKind::Uniform, 1.0, 0.0); }, {"low <= high"});
    hg::test::expect_error([&] { fill(kernels::RandomKind::Normal, NAN, 1.0); },
                           {"mean and stddev must be finite"});
    hg::test::expect_error([&] { fill(kernels::RandomKind::Normal, 0.0, -1.0); }, {"stddev >= 0"});
    fill(kernels::RandomKind::Normal, 0.0, 1.0);  // a good call still works
  }
}
