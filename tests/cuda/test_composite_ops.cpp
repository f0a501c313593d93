// Ops composed of other ops (autograd/compare_ops.cpp, composite_ops.cpp, nn_composite_ops.cpp,
// regression_loss_ops.cpp, resample_ops.cpp, attention_ops.cpp, and conv_transpose2d on conv2d's
// kernels) on CUDA against the CPU: they have no kernels of their own, so this checks that their
// parts run on the device and keep the device, forward and backward.
#include <cmath>
#include <limits>

#include "parity.h"

using namespace hg;
using cuda_test::Inputs;
using cuda_test::Kind;

TEST_CASE("cuda isfinite, isnan, isinf, isclose: the CPU's masks") {
  HG_REQUIRE_CUDA();
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor specials = from_vector<float>({1.5f, -inf, NAN, 0.0f, inf, 70000.0f, 1e-3f});
  for (const DType dtype : cuda_test::kFloatDtypes) {
    const Tensor x = specials.to(dtype);
    const std::string name(dtype_name(dtype));
    cuda_test::check_op(
        "isfinite " + name, {x}, [](const Inputs& in) { return isfinite(in[0]); }, Kind::Exact);
    cuda_test::check_op(
        "isnan " + name, {x}, [](const Inputs& in) { return isnan(in[0]); }, Kind::Exact);
    cuda_test::check_op(
        "isinf " + name, {x}, [](const Inputs& in) { return isinf(in[0]); }, Kind::Exact);
    const Tensor a = cuda_test::input({5, 6}, dtype, 31);
    const Tensor b = (a.to(kFloat64) * 1.001).to(dtype);
    cuda_test::check_op(
        "isclose " + name, {a, b},
        [](const Inputs& in) { return isclose(in[0], in[1], 1e-3, 1e-4, true); }, Kind::Exact);
  }
  const Tensor labels = from_vector<int64_t>({1, 2, 3}).to(kCUDA);
  CHECK(isfinite(labels).device() == kCUDA);
  CHECK(allclose(labels, labels));
  CHECK_FALSE(allclose(specials.to(kCUDA), specials.to(kCUDA)));  // the NaN
}

TEST_CASE("cuda std, flip, one_hot: the CPU's values and gradients") {
  HG_REQUIRE_CUDA();
  for (const DType dtype : cuda_test::kFloatDtypes) {
    const Tensor x = cuda_test::input({4, 9}, dtype, 32);
    cuda_test::check_op(
        "std", {x}, [](const Inputs& in) { return hg::std(in[0], {1}, true); }, Kind::Reduction);
    cuda_test::check_op(
        "flip", {cuda_test::strided_input({3, 5}, dtype, 33)},
        [](const Inputs& in) {
          return flip(in[0], {0, 1});
        },
        Kind::Exact);
  }
  cuda_test::check_op(
      "flip int64", {cuda_test::input({7}, kInt64, 34)},
      [](const Inputs& in) { return flip(in[0], {0}); }, Kind::Exact);
  cuda_test::check_op(
      "one_hot", {from_vector<int64_t>({3, 0, 2, 2}, {2, 2})},
      [](const Inputs& in) { return one_hot(in[0], 5); }, Kind::Exact);
}

TEST_CASE("cuda l1, smooth_l1 and huber losses: the CPU's values and gradients") {
  HG_REQUIRE_CUDA();
  for (const DType dtype : cuda_test::kFloatDtypes) {
    const Tensor input = cuda_test::input({6, 7}, dtype, 35);
    const Tensor target = cuda_test::input({6, 7}, dtype, 36);
    cuda_test::check_op(
        "l1_loss", {input, target}, [](const Inputs& in) { return l1_loss(in[0], in[1]); },
        Kind::Reduction);
    cuda_test::check_op(
        "smooth_l1_loss", {input, target},
        [](const Inputs& in) { return smooth_l1_loss(in[0], in[1], Reduction::None, 0.5); },
        Kind::Ulp);
    cuda_test::check_op(
        "huber_loss", {input, target},
        [](const Inputs& in) { return huber_loss(in[0], in[1], Reduction::Sum, 1.5); },
        Kind::Reduction);
  }
}

TEST_CASE("cuda group_norm, conv1d, 1-D pools: the CPU's values and gradients") {
  HG_REQUIRE_CUDA();
  for (const DType dtype : cuda_test::kFloatDtypes) {
    const Tensor x = cuda_test::input({3, 6, 2, 5}, dtype, 37);
    const Tensor weight = cuda_test::input({6}, dtype, 38);
    const Tensor bias = cuda_test::input({6}, dtype, 39);
    cuda_test::check_op(
        "group_norm", {x, weight, bias},
        [](const Inputs& in) { return group_norm(in[0], 3, in[1], in[2]); }, Kind::Reduction);
    const Tensor signal = cuda_test::input({2, 4, 11}, dtype, 40);
    const Tensor kernel = cuda_test::input({6, 2, 3}, dtype, 41);
    cuda_test::check_op(
        "conv1d", {signal, kernel, weight},
        [](const Inputs& in) { return conv1d(in[0], in[1], in[2], 2, 1, 2, 2); }, Kind::Gemm);
    cuda_test::check_op(
        "max_pool1d", {signal}, [](const Inputs& in) { return max_pool1d(in[0], 3, 2, 1); },
        Kind::Exact);
    // the mask comes from dropout's kernel, whose stream the devices share (reseeded per call)
    cuda_test::check_op(
        "dropout2d", {x},
        [](const Inputs& in) {
          manual_seed(9);
          return dropout2d(in[0], 0.4);
        },
        Kind::Exact);
    cuda_test::check_op(
        "adaptive_avg_pool1d", {signal},
        [](const Inputs& in) { return adaptive_avg_pool1d(in[0], 4); }, Kind::Reduction);
  }
}

TEST_CASE("cuda pad, interpolate: the CPU's values and gradients") {
  HG_REQUIRE_CUDA();
  for (const DType dtype : cuda_test::kFloatDtypes) {
    const Tensor x = cuda_test::strided_input({2, 3, 4}, dtype, 42);
    for (const PadMode mode :
         {PadMode::Constant, PadMode::Reflect, PadMode::Replicate, PadMode::Circular})
      cuda_test::check_op(
          "pad", {x},
          [mode](const Inputs& in) {
            return pad(in[0], {2, 1, 0, 2}, mode);
          },
          Kind::Exact, true, Kind::Reduction);  // copies summed back in another order
    const Tensor image = cuda_test::input({2, 3, 4, 5}, dtype, 43);
    cuda_test::check_op(
        "interpolate nearest", {image},
        [](const Inputs& in) {
          return interpolate(in[0], InterpolateOptions().size({7, 3}));
        },
        Kind::Exact, true, Kind::Reduction);
    // the blend's products and sums round as the CPU's; the backward adds copies in another order
    cuda_test::check_op(
        "interpolate bilinear", {image},
        [](const Inputs& in) {
          return interpolate(
              in[0], InterpolateOptions().scale_factor(1.5).mode(InterpolateMode::Bilinear));
        },
        Kind::Reduction);
  }
}

TEST_CASE("cuda log1p, expm1 and the activations built on them: the CPU's values and gradients") {
  HG_REQUIRE_CUDA();
  for (const DType dtype : cuda_test::kFloatDtypes) {
    const Tensor x = cuda_test::input({5, 9}, dtype, 44);
    cuda_test::check_op(
        "log1p", {x}, [](const Inputs& in) { return log1p(abs(in[0])); }, Kind::Ulp);
    cuda_test::check_op(
        "expm1", {x}, [](const Inputs& in) { return expm1(in[0]); }, Kind::Ulp);
    cuda_test::check_op(
        "softplus", {x}, [](const Inputs& in) { return softplus(in[0], 2.0, 1.0); }, Kind::Ulp);
    cuda_test::check_op(
        "elu", {x}, [](const Inputs& in) { return elu(in[0], 0.5); }, Kind::Ulp);
    cuda_test::check_op(
        "selu", {x}, [](const Inputs& in) { return selu(in[0]); }, Kind::Ulp);
    cuda_test::check_op(
        "mish", {x}, [](const Inputs& in) { return mish(in[0]); }, Kind::Ulp);
  }
}

TEST_CASE("cuda tril, triu, roll, repeat: the CPU's values and gradients") {
  HG_REQUIRE_CUDA();
  for (const DType dtype : cuda_test::kFloatDtypes) {
    const Tensor x = cuda_test::strided_input({2, 5, 4}, dtype, 47);
    cuda_test::check_op(
        "tril", {x}, [](const Inputs& in) { return tril(in[0], 1); }, Kind::Exact);
    cuda_test::check_op(
        "triu", {x}, [](const Inputs& in) { return triu(in[0], -1); }, Kind::Exact);
    cuda_test::check_op(
        "roll", {x},
        [](const Inputs& in) {
          return roll(in[0], {3, -1}, {1, 2});
        },
        Kind::Exact);
    cuda_test::check_op(
        "repeat", {x},
        [](const Inputs& in) {
          return repeat(in[0], {2, 1, 3, 1});
        },
        Kind::Exact, true, Kind::Reduction);  // the tiles' gradients summed in another order
  }
}

TEST_CASE("cuda norm, normalize, cosine_similarity: the CPU's values and gradients") {
  HG_REQUIRE_CUDA();
  for (const DType dtype : cuda_test::kFloatDtypes) {
    const Tensor x = cuda_test::input({4, 9}, dtype, 48);
    const Tensor y = cuda_test::input({4, 9}, dtype, 49);
    cuda_test::check_op(
        "norm", {x}, [](const Inputs& in) { return norm(in[0], 2, {1}); }, Kind::Reduction);
    cuda_test::check_op(
        "norm p=3", {x}, [](const Inputs& in) { return norm(in[0], 3, {0}, true); },
        Kind::Reduction);
    cuda_test::check_op(
        "normalize", {x}, [](const Inputs& in) { return normalize(in[0]); }, Kind::Reduction);
    cuda_test::check_op(
        "cosine_similarity", {x, y},
        [](const Inputs& in) { return cosine_similarity(in[0], in[1]); }, Kind::Reduction);
  }
}

TEST_CASE("cuda conv_transpose2d, scaled_dot_product_attention, kl_div: the CPU's results") {
  HG_REQUIRE_CUDA();
  for (const DType dtype : cuda_test::kFloatDtypes) {
    const Tensor x = cuda_test::input({2, 4, 5, 6}, dtype, 50);
    const Tensor w = cuda_test::input({4, 3, 3, 2}, dtype, 51);
    const Tensor b = cuda_test::input({6}, dtype, 52);
    cuda_test::check_op(
        "conv_transpose2d", {x, w, b},
        [](const Inputs& in) {
          return conv_transpose2d(in[0], in[1], in[2], {2, 1}, {1, 0}, {1, 0}, 2, {1, 2});
        },
        Kind::Gemm);
    const Tensor q = cuda_test::input({2, 3, 5, 8}, dtype, 53);
    const Tensor k = cuda_test::input({2, 3, 7, 8}, dtype, 54);
    const Tensor v = cuda_test::input({2, 3, 7, 4}, dtype, 55);
    cuda_test::check_op(
        "scaled_dot_product_attention", {q, k, v},
        [](const Inputs& in) { return scaled_dot_product_attention(in[0], in[1], in[2]); },
        Kind::Gemm);
    cuda_test::check_op(
        "causal attention", {q, q, v.narrow(2, 0, 5)},
        [](const Inputs& in) {
          return scaled_dot_product_attention(in[0], in[1], in[2], Tensor(), 0.0, true);
        },
        Kind::Gemm);
    const Tensor logp = log_softmax(cuda_test::input({4, 6}, kFloat32, 56), 1).to(dtype);
    const Tensor target = softmax(cuda_test::input({4, 6}, kFloat32, 57), 1).to(dtype);
    cuda_test::check_op(
        "kl_div", {logp, target},
        [](const Inputs& in) { return kl_div(in[0], in[1], Reduction::Sum); }, Kind::Reduction);
  }
}
