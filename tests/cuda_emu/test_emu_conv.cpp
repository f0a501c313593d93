// kernels/cuda/conv.cu run by the CUDA emulator behind hg::conv2d and its backward, against the
// CPU kernels, in the shape families tests/cuda/test_nn_kernels.cpp gives the GPU: im2col and
// cuBLAS (emulated) per sample, columns shared by a chunk's samples (small or unaligned output
// planes), the weight and bias gradients in one cuBLASLt-style call, grad_x as a convolution
// with flipped weights (stride 1) or through col2im, chunks of samples past the 32 MiB column
// cap, and the implicit-GEMM route for 16-bit 3x3 layers.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "emu_util.h"
#include "halfgrad.h"
#include "kernels/cuda/cuda_nn_kernels.h"
#include "kernels/nn_kernels.h"

using namespace hg;
using hg::test::expect_within_parity;

namespace {

struct ConvCase {
  int64_t n, c, h, w, o, kh, kw;
  Pair stride, pad, dilation;
  int64_t groups;
  bool bias;
};

struct ConvResults {
  Tensor y, gx, gw, gb;
};

ConvResults run_conv(const ConvCase& k, const Tensor& x, const Tensor& w, const Tensor& b,
                     const Tensor& gout) {
  const Tensor xl = x.detach().requires_grad_(), wl = w.detach().requires_grad_();
  const Tensor bl = k.bias ? b.detach().requires_grad_() : Tensor();
  const Tensor y = conv2d(xl, wl, bl, k.stride, k.pad, k.dilation, k.groups);
  y.backward(gout);
  return {y, xl.grad(), wl.grad(), k.bias ? bl.grad() : Tensor()};
}

// The op on the CPU, then with kernels/cuda/conv.cu emulated: forward and every gradient.
void check_conv(const ConvCase& k, DType dtype) {
  const std::string what = "conv2d " + std::to_string(k.n) + "x" + std::to_string(k.c) + "x" +
                           std::to_string(k.h) + "x" + std::to_string(k.w) + " -> " +
                           std::to_string(k.o) + ", " + std::to_string(k.kh) + "x" +
                           std::to_string(k.kw) + " groups " + std::to_string(k.groups);
  const TensorOptions options(dtype);
  const Tensor x = randn({k.n, k.c, k.h, k.w}, options);
  const Tensor w = randn({k.o, k.c / k.groups, k.kh, k.kw}, options), b = randn({k.o}, options);
  const Tensor probe = conv2d(x, w, Tensor(), k.stride, k.pad, k.dilation, k.groups);
  const Tensor gout = randn(probe.sizes(), options);
  const ConvResults cpu = run_conv(k, x, w, b, gout);
  ConvResults emu;
  const long launches = hg_emu::launches();
  {
    test::EmulatedKernel forward(kernels::conv2d, &kernels::cuda::conv2d);
    test::EmulatedKernel backward(kernels::conv2d_backward, &kernels::cuda::conv2d_backward);
    emu = run_conv(k, x, w, b, gout);
  }
  CHECK_MESSAGE(hg_emu::launches() > launches, what << ": no emulated kernel ran");
  const double terms = std::sqrt(static_cast<double>(k.c / k.groups * k.kh * k.kw));
  const double positions = std::sqrt(static_cast<double>(probe.numel() / k.o));
  expect_within_parity(emu.y, cpu.y, dtype, what + " forward", terms);
  expect_within_parity(emu.gx, cpu.gx, dtype, what + " grad_x", terms);
  expect_within_parity(emu.gw, cpu.gw, dtype, what + " grad_weight", positions);
  expect_within_parity(emu.gb, cpu.gb, dtype, what + " grad_bias", positions);
}

const std::vector<ConvCase> kShapes = {
    {2, 4, 9, 7, 6, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, true},
    {3, 4, 8, 8, 4, 1, 1, {1, 1}, {0, 0}, {1, 1}, 1, true},  // 1x1: the columns are x
    {2, 6, 11, 10, 4, 3, 2, {2, 1}, {1, 0}, {2, 1}, 2, false},
    {5, 3, 5, 5, 8, 5, 5, {1, 1}, {2, 2}, {1, 1}, 1, true},
    {4, 8, 6, 6, 8, 3, 3, {2, 2}, {1, 1}, {1, 1}, 8, true},       // depthwise, stride 2
    {8, 16, 16, 16, 32, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, false},  // a ResNet-9 layer, smaller
    // stride 1: grad_x as a convolution with flipped weights, padded by d (k - 1) - p
    {2, 6, 11, 10, 4, 3, 2, {1, 1}, {2, 0}, {2, 1}, 2, false},  // dilated, grouped, uneven
    {2, 3, 6, 6, 4, 3, 3, {1, 1}, {3, 3}, {1, 1}, 1, true},     // padding past k - 1: col2im
    // output planes under 64 positions, or rows of no whole 16 bytes in 16 bits: shared columns
    {3, 8, 8, 8, 16, 3, 3, {2, 2}, {1, 1}, {1, 1}, 1, false},
    {6, 32, 4, 4, 16, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, true},  // ResNet-9's last layers, smaller
    {4, 5, 14, 14, 6, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, true},  // the MNIST cnn's 14x14
};

}  // namespace

TEST_CASE("conv2d: every shape family in every floating dtype matches the CPU") {
  for (DType dtype : test::floating_dtypes()) {
    manual_seed(71);
    for (const ConvCase& k : kShapes) check_conv(k, dtype);
  }
}

TEST_CASE("conv2d: threads in reverse order between barriers give the same results") {
  hg_emu::set_thread_order(hg_emu::ThreadOrder::Reverse);
  manual_seed(72);
  for (DType dtype : {kFloat32, kFloat16})
    for (const ConvCase& k : {kShapes[0], kShapes[5], kShapes[9]}) check_conv(k, dtype);
  hg_emu::set_thread_order(hg_emu::ThreadOrder::Forward);
}

// 32 x 86 x 86 with 3x3 is 2.1M column entries per sample: fp32 runs in chunks of 3 samples
// (the forward, the weight gradient and grad_x's transposed convolution), fp16 in one.
TEST_CASE("conv2d: samples in chunks under the 32 MiB column cap") {
  manual_seed(73);
  for (DType dtype : {kFloat32, kFloat16})
    check_conv({4, 32, 86, 86, 32, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, true}, dtype);
}

TEST_CASE("conv2d: 16-bit 3x3 layers through the implicit GEMM, weights in runs or one by one") {
  struct Restore {
    ~Restore() { cuda::set_implicit_gemm_conv(false); }
  } restore;
  cuda::set_implicit_gemm_conv(true);
  manual_seed(74);
  const std::vector<ConvCase> cases = {
      {2, 16, 8, 8, 32, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, true},    // runs; grad_x transposed
      {3, 3, 9, 7, 20, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, false},    // 3 channels: one by one
      {2, 16, 11, 10, 24, 3, 3, {2, 2}, {0, 0}, {1, 1}, 1, true},  // stride 2: col2im grad_x
      {2, 32, 6, 5, 16, 3, 3, {1, 1}, {1, 1}, {1, 1}, 2, true},    // groups
  };
  for (DType dtype : {kFloat16, kBFloat16})
    for (const ConvCase& k : cases) check_conv(k, dtype);
}
