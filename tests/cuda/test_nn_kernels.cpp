// CPU-vs-CUDA parity of the nn kernels (kernels/cuda/{conv,pool,norm,lookup}.cu), forward and
// backward through the autograd ops, in every floating dtype. Skipped without a CUDA device.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cuda_test_util.h"

using namespace hg;
using hg::test::expect_parity;
using hg::test::leaf_pair;

namespace {

// backward(y, gout) on both devices: the same upstream gradient, copied to the device.
void backward_both(const Tensor& y_cpu, const Tensor& y_dev, const Tensor& gout) {
  y_cpu.backward(gout);
  y_dev.backward(gout.to(kCUDA));
}

Tensor rnd(const Shape& shape, DType dtype) { return randn(shape, TensorOptions(dtype)); }

struct ConvCase {
  int64_t n, c, h, w, o, kh, kw;
  Pair stride, pad, dilation;
  int64_t groups;
  bool bias;
};

void check_conv(const ConvCase& k, DType dtype) {
  const std::string what = "conv2d " + std::to_string(k.kh) + "x" + std::to_string(k.kw) +
                           " groups " + std::to_string(k.groups);
  auto x = leaf_pair(rnd({k.n, k.c, k.h, k.w}, dtype));
  auto w = leaf_pair(rnd({k.o, k.c / k.groups, k.kh, k.kw}, dtype));
  auto b = leaf_pair(rnd({k.o}, dtype));
  const Tensor y =
      conv2d(x.cpu, w.cpu, k.bias ? b.cpu : Tensor(), k.stride, k.pad, k.dilation, k.groups);
  const Tensor yd =
      conv2d(x.dev, w.dev, k.bias ? b.dev : Tensor(), k.stride, k.pad, k.dilation, k.groups);
  const double terms = static_cast<double>(k.c / k.groups * k.kh * k.kw);
  expect_parity(yd, y, dtype, what + " forward", std::sqrt(terms));
  backward_both(y, yd, rnd(y.sizes(), dtype));
  expect_parity(x.dev.grad(), x.cpu.grad(), dtype, what + " grad_x", std::sqrt(terms));
  const double positions = static_cast<double>(k.n * y.size(2) * y.size(3));
  expect_parity(w.dev.grad(), w.cpu.grad(), dtype, what + " grad_weight", std::sqrt(positions));
  if (k.bias)
    expect_parity(b.dev.grad(), b.cpu.grad(), dtype, what + " grad_bias", std::sqrt(positions));
}

}  // namespace

TEST_CASE("cuda conv2d matches the CPU: padding, strides, dilation, groups, 1x1") {
  if (!hg::test::cuda_or_skip()) return;
  const std::vector<ConvCase> cases = {
      {2, 4, 9, 7, 6, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, true},
      {3, 4, 8, 8, 4, 1, 1, {1, 1}, {0, 0}, {1, 1}, 1, true},  // 1x1: no im2col
      {2, 6, 11, 10, 4, 3, 2, {2, 1}, {1, 0}, {2, 1}, 2, false},
      {5, 3, 5, 5, 8, 5, 5, {1, 1}, {2, 2}, {1, 1}, 1, true},
      {4, 8, 6, 6, 8, 3, 3, {2, 2}, {1, 1}, {1, 1}, 8, true},       // depthwise
      {8, 16, 16, 16, 32, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, false},  // a ResNet-9 layer, smaller
      // stride 1: grad_x as a convolution with flipped weights, padded by d (k - 1) - p
      {2, 6, 11, 10, 4, 3, 2, {1, 1}, {2, 0}, {2, 1}, 2, false},  // dilated, grouped, uneven
      {4, 8, 6, 6, 8, 3, 3, {1, 1}, {1, 1}, {1, 1}, 8, true},     // depthwise
      {2, 3, 6, 6, 4, 3, 3, {1, 1}, {3, 3}, {1, 1}, 1, true},     // pad past k - 1: col2im
      // output planes under 64 positions (the first and fourth above too; in 16 bits also the
      // 10 x 10 one, whose rows are no whole number of 16 bytes): columns shared by the
      // samples, one GEMM, the product scattered back; stride 2, and without a bias
      {3, 8, 8, 8, 16, 3, 3, {2, 2}, {1, 1}, {1, 1}, 1, false},
      {6, 32, 4, 4, 16, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, true},  // ResNet-9's last layers, smaller
  };
  for (DType dtype : hg::test::floating_dtypes()) {
    manual_seed(11);
    for (const ConvCase& k : cases) check_conv(k, dtype);
  }
}

// Column buffers hold at most kMaxColumnBytes (32 MiB, kernels/cuda/conv_shape.cuh), so this
// shape (2.1M entries per sample) runs in chunks of samples when they are fp32: 3 of 4 per
// chunk (the forward, the weight gradient and grad_x's convolution); fp16's fit in one.
TEST_CASE("cuda conv2d in chunks of samples matches the CPU") {
  if (!hg::test::cuda_or_skip()) return;
  for (DType dtype : {kFloat32, kFloat16}) {
    manual_seed(15);
    check_conv({4, 32, 86, 86, 32, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, true}, dtype);
  }
  // stride 2 (the same 86 x 86 output): grad_x through fp32 columns and col2im, in chunks
  check_conv({4, 32, 171, 171, 32, 3, 3, {2, 2}, {1, 1}, {1, 1}, 1, false}, kFloat32);
  // 4 x 4 planes (shared columns in the forward and in grad_x's convolution): 295 KB of fp32
  // columns per sample, so 113 samples per chunk and two chunks
  manual_seed(16);
  check_conv({120, 512, 4, 4, 64, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, true}, kFloat32);
}

// The implicit-GEMM kernels (kernels/cuda/conv_igemm.cu, conv_igemm_wgrad.cu) take 16-bit 3x3
// convolutions: the forward and stride-1 grad_x (its transposed convolution), with the weights
// in 16-byte runs or one by one, and the weight gradient (pixel slices summed in a fixed order,
// so twice the same call gives the same bits). Shapes with partial tiles of channels and pixels,
// strides, dilation, groups and padding past k - 1.
TEST_CASE("cuda conv2d by implicit GEMM matches the CPU and the im2col path") {
  if (!hg::test::cuda_or_skip()) return;
  struct Restore {
    ~Restore() { cuda::set_implicit_gemm_conv(false); }
  } restore;
  const std::vector<ConvCase> cases = {
      {2, 64, 16, 16, 128, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, false},  // a ResNet-9 layer
      {3, 8, 7, 9, 40, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, true},       // partial tiles, bias
      {2, 16, 11, 10, 24, 3, 3, {2, 2}, {0, 0}, {1, 1}, 1, true},    // stride 2: forward only
      {2, 8, 9, 9, 16, 3, 3, {1, 1}, {2, 2}, {2, 2}, 1, false},      // dilated
      {2, 32, 6, 5, 16, 3, 3, {1, 1}, {1, 1}, {1, 1}, 2, true},      // groups
      {1, 8, 4, 4, 8, 3, 3, {1, 1}, {3, 3}, {1, 1}, 1, false},       // pad past k - 1: col2im
      {1, 16, 5, 5, 200, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, true},     // two tiles of channels
      // reductions that are not whole runs of 8 (3 and 1 input channels): weights one by one
      {4, 3, 12, 12, 64, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, false},
      {4, 1, 10, 10, 32, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, true},
  };
  for (DType dtype : {kFloat16, kBFloat16}) {
    manual_seed(16);
    cuda::set_implicit_gemm_conv(true);
    for (const ConvCase& k : cases) check_conv(k, dtype);
    // against the im2col path on the device: the same inputs, both 16-bit results
    const Tensor x = rnd({4, 32, 12, 12}, dtype).to(kCUDA),
                 w = rnd({48, 32, 3, 3}, dtype).to(kCUDA);
    const Tensor implicit = conv2d(x, w, Tensor(), {1, 1}, {1, 1});
    cuda::set_implicit_gemm_conv(false);
    expect_parity(implicit, conv2d(x, w, Tensor(), {1, 1}, {1, 1}).to(kCPU), dtype,
                  "conv2d implicit GEMM against im2col", std::sqrt(32.0 * 9.0));
    cuda::set_implicit_gemm_conv(true);
    std::vector<std::vector<double>> grads;
    for (int run = 0; run < 2; ++run) {
      const Tensor wl = w.detach().requires_grad_(true);
      conv2d(x, wl, Tensor(), {1, 1}, {1, 1}).sum().backward();
      grads.push_back(wl.grad().to(kFloat64).to_vector<double>());
    }
    CHECK_MESSAGE(grads[0] == grads[1], "the implicit-GEMM weight gradient is deterministic");
  }
}

// Windows of more than 256 elements keep int64 plane positions on CUDA too.
TEST_CASE("cuda max pooling over windows past a byte's positions matches the CPU") {
  if (!hg::test::cuda_or_skip()) return;
  for (DType dtype : {kFloat32, kBFloat16}) {
    manual_seed(13);
    auto x = leaf_pair(rnd({2, 2, 20, 19}, dtype));
    const Tensor y = max_pool2d(x.cpu, {17, 16}, {2, 1}), yd = max_pool2d(x.dev, {17, 16}, {2, 1});
    expect_parity(yd, y, dtype, "max 17x16 forward");
    backward_both(y, yd, rnd(y.sizes(), dtype));
    expect_parity(x.dev.grad(), x.cpu.grad(), dtype, "max 17x16 grad_x", 2.0);
  }
}

TEST_CASE("cuda max/avg/adaptive pooling match the CPU, indices included") {
  if (!hg::test::cuda_or_skip()) return;
  for (DType dtype : hg::test::floating_dtypes()) {
    manual_seed(12);
    auto x = leaf_pair(rnd({2, 3, 9, 8}, dtype));
    struct Pooled {
      const char* name;
      Tensor cpu, dev;
    };
    std::vector<Pooled> outs;
    outs.push_back(Pooled{"max 3/2/1", max_pool2d(x.cpu, {3, 3}, {2, 2}, {1, 1}),
                          max_pool2d(x.dev, {3, 3}, {2, 2}, {1, 1})});
    outs.push_back(Pooled{"max 2x2", max_pool2d(x.cpu, {2, 2}), max_pool2d(x.dev, {2, 2})});
    // CUDA keeps window positions (uint8) up to 256-element windows, plane positions above
    outs.push_back(Pooled{"max 3/1/1", max_pool2d(x.cpu, {3, 3}, {1, 1}, {1, 1}),
                          max_pool2d(x.dev, {3, 3}, {1, 1}, {1, 1})});
    outs.push_back(
        Pooled{"max 8x8/1", max_pool2d(x.cpu, {8, 8}, {1, 1}), max_pool2d(x.dev, {8, 8}, {1, 1})});
    outs.push_back(Pooled{"avg incl pad", avg_pool2d(x.cpu, {3, 2}, {2, 1}, {1, 1}, true),
                          avg_pool2d(x.dev, {3, 2}, {2, 1}, {1, 1}, true)});
    outs.push_back(Pooled{"avg excl pad", avg_pool2d(x.cpu, {3, 3}, {2, 2}, {1, 1}, false),
                          avg_pool2d(x.dev, {3, 3}, {2, 2}, {1, 1}, false)});
    outs.push_back(Pooled{"adaptive avg", adaptive_avg_pool2d(x.cpu, {4, 3}),
                          adaptive_avg_pool2d(x.dev, {4, 3})});
    outs.push_back(Pooled{"adaptive max", adaptive_max_pool2d(x.cpu, {5, 3}),
                          adaptive_max_pool2d(x.dev, {5, 3})});
    Tensor total_cpu, total_dev;
    for (const Pooled& p : outs) {
      expect_parity(p.dev, p.cpu, dtype, std::string(p.name) + " forward");
      const Tensor g = rnd(p.cpu.sizes(), dtype);  // a weighted sum of all the outputs
      const Tensor term_cpu = sum(p.cpu * g), term_dev = sum(p.dev * g.to(kCUDA));
      total_cpu = total_cpu.defined() ? total_cpu + term_cpu : term_cpu;
      total_dev = total_dev.defined() ? total_dev + term_dev : term_dev;
    }
    total_cpu.backward();
    total_dev.backward();
    expect_parity(x.dev.grad(), x.cpu.grad(), dtype, "pooling grad_x", 2.0);
  }
}

namespace {

void check_batch_norm(const Shape& shape, DType dtype, bool training) {
  manual_seed(13);
  const int64_t channels = shape[1];
  const DType stats = dtype == kFloat64 ? kFloat64 : kFloat32;
  auto x = leaf_pair(rnd(shape, dtype) * 2.0 + 1.0);
  auto w = leaf_pair(rand({channels}, TensorOptions(stats)) + 0.5);
  auto b = leaf_pair(randn({channels}, TensorOptions(stats)));
  const Tensor rm = randn({channels}, TensorOptions(stats)) * 0.1;
  const Tensor rv = rand({channels}, TensorOptions(stats)) + 0.5;
  const Tensor rm_dev = rm.to(kCUDA), rv_dev = rv.to(kCUDA);
  const Tensor y = batch_norm(x.cpu, rm, rv, w.cpu, b.cpu, training);
  const Tensor yd = batch_norm(x.dev, rm_dev, rv_dev, w.dev, b.dev, training);
  const std::string what =
      std::string(training ? "batch_norm training " : "batch_norm eval ") + shape_str(shape);
  expect_parity(yd, y, dtype, what + " forward");
  expect_parity(rm_dev, rm, dtype == kFloat64 ? dtype : kFloat32, what + " running_mean");
  expect_parity(rv_dev, rv, dtype == kFloat64 ? dtype : kFloat32, what + " running_var");
  backward_both(y, yd, rnd(y.sizes(), dtype));
  expect_parity(x.dev.grad(), x.cpu.grad(), dtype, what + " grad_x", 1.0);
  // the parameter gradients are sums over N x H x W 16-bit products: compare at the input's
  // precision, scaled by the size of the sum
  const double terms = static_cast<double>(x.cpu.numel() / channels);
  expect_parity(w.dev.grad(), w.cpu.grad(), dtype, what + " grad_weight", std::sqrt(terms));
  expect_parity(b.dev.grad(), b.cpu.grad(), dtype, what + " grad_bias", std::sqrt(terms));
}

}  // namespace

// The shapes take each path of kernels/cuda/batch_norm.cu's reductions: one slice of the batch
// with planes smaller than a block; several slices with planes of a block or more, the last
// slices empty (50 samples in slices of 5 of 12); several slices of small planes.
TEST_CASE("cuda batch_norm matches the CPU: training and eval, 16-bit input with fp32 stats") {
  if (!hg::test::cuda_or_skip()) return;
  const std::vector<Shape> shapes = {{4, 3, 5, 6}, {50, 2, 32, 32}, {512, 2, 4, 4}};
  for (DType dtype : hg::test::floating_dtypes())
    for (const Shape& shape : shapes)
      for (bool training : {true, false}) check_batch_norm(shape, dtype, training);
}

// The fused relu against relu(batch_norm) on the device itself, bit for bit: the same statistics
// and apply arithmetic, then the mask. (Against the CPU, an output within an ulp of 0 could take
// the other side of relu and its gradient with it: a flaky comparison.)
TEST_CASE("cuda batch_norm_relu is relu(batch_norm) bit for bit on the device") {
  if (!hg::test::cuda_or_skip()) return;
  for (DType dtype : hg::test::floating_dtypes()) {
    for (const Shape& shape : std::vector<Shape>{{4, 3, 5, 6}, {50, 2, 32, 32}, {512, 2, 4, 4}}) {
      for (bool training : {true, false}) {
        CAPTURE(shape_str(shape));
        CAPTURE(training);
        manual_seed(17);
        const DType stats = dtype == kFloat64 ? kFloat64 : kFloat32;
        const TensorOptions on = TensorOptions(stats).device(kCUDA);
        const Tensor x0 = (rnd(shape, dtype) * 2.0 + 0.3).to(kCUDA);
        const Tensor w0 = (rand({shape[1]}) + 0.5).to(stats).to(kCUDA);
        const Tensor b0 = randn({shape[1]}).to(stats).to(kCUDA);
        Tensor x[2], w[2], b[2], y[2];
        Tensor rm[2] = {zeros({shape[1]}, on), zeros({shape[1]}, on)};
        Tensor rv[2] = {ones({shape[1]}, on), ones({shape[1]}, on)};
        for (int k = 0; k < 2; ++k) {
          x[k] = x0.clone().requires_grad_();
          w[k] = w0.clone().requires_grad_();
          b[k] = b0.clone().requires_grad_();
        }
        y[0] = batch_norm_relu(x[0], rm[0], rv[0], w[0], b[0], training);
        y[1] = relu(batch_norm(x[1], rm[1], rv[1], w[1], b[1], training));
        const Tensor g = rnd(y[0].sizes(), dtype).to(kCUDA);
        y[0].backward(g);
        y[1].backward(g);
        for (auto [fused, plain] : {std::pair{y[0], y[1]},
                                    {x[0].grad(), x[1].grad()},
                                    {w[0].grad(), w[1].grad()},
                                    {b[0].grad(), b[1].grad()},
                                    {rm[0], rm[1]},
                                    {rv[0], rv[1]}})
          CHECK(fused.to(kCPU).to(kFloat64).to_vector<double>() ==
                plain.to(kCPU).to(kFloat64).to_vector<double>());
      }
    }
  }
}

TEST_CASE("cuda layer_norm matches the CPU, with and without affine parameters") {
  if (!hg::test::cuda_or_skip()) return;
  for (DType dtype : hg::test::floating_dtypes()) {
    for (bool affine : {true, false}) {
      manual_seed(14);
      auto x = leaf_pair(rnd({3, 4, 10}, dtype) * 3.0 - 2.0);
      auto w = leaf_pair(rnd({4, 10}, dtype));
      auto b = leaf_pair(rnd({4, 10}, dtype));
      const Tensor y =
          layer_norm(x.cpu, {4, 10}, affine ? w.cpu : Tensor(), affine ? b.cpu : Tensor());
      const Tensor yd =
          layer_norm(x.dev, {4, 10}, affine ? w.dev : Tensor(), affine ? b.dev : Tensor());
      const std::string what = affine ? "layer_norm affine" : "layer_norm";
      expect_parity(yd, y, dtype, what + " forward");
      backward_both(y, yd, rnd(y.sizes(), dtype));
      expect_parity(x.dev.grad(), x.cpu.grad(), dtype, what + " grad_x", 1.0);
      if (!affine) continue;
      expect_parity(w.dev.grad(), w.cpu.grad(), dtype, what + " grad_weight", 2.0);
      expect_parity(b.dev.grad(), b.cpu.grad(), dtype, what + " grad_bias", 2.0);
    }
  }
}

TEST_CASE("cuda layer_norm parameter gradients over several row chunks, and over no rows") {
  if (!hg::test::cuda_or_skip()) return;
  // 130 rows: three chunks of 64 rows in ln_params_partial_kernel, the last one partial
  for (DType dtype : hg::test::floating_dtypes()) {
    manual_seed(16);
    auto x = leaf_pair(rnd({130, 12}, dtype) * 3.0 - 2.0);
    auto w = leaf_pair(rnd({12}, dtype));
    auto b = leaf_pair(rnd({12}, dtype));
    const Tensor y = layer_norm(x.cpu, {12}, w.cpu, b.cpu);
    const Tensor yd = layer_norm(x.dev, {12}, w.dev, b.dev);
    backward_both(y, yd, rnd(y.sizes(), dtype));
    expect_parity(w.dev.grad(), w.cpu.grad(), dtype, "layer_norm 130 rows grad_weight", 20.0);
    expect_parity(b.dev.grad(), b.cpu.grad(), dtype, "layer_norm 130 rows grad_bias", 20.0);
  }
  auto w = leaf_pair(rnd({5}, kFloat32));
  auto b = leaf_pair(rnd({5}, kFloat32));
  const Tensor x = zeros({0, 5});
  backward_both(layer_norm(x, {5}, w.cpu, b.cpu), layer_norm(x.to(kCUDA), {5}, w.dev, b.dev),
                zeros({0, 5}));
  expect_parity(w.dev.grad(), w.cpu.grad(), kFloat32, "layer_norm 0 rows grad_weight");
  expect_parity(b.dev.grad(), b.cpu.grad(), kFloat32, "layer_norm 0 rows grad_bias");
}

TEST_CASE("cuda nll_loss matches the CPU, ignore_index included, a bad target is a late error") {
  if (!hg::test::cuda_or_skip()) return;
  const Tensor target = from_vector<int64_t>({2, 0, -100, 4, 1, 4}, {6}, kInt64);
  for (DType dtype : hg::test::floating_dtypes()) {
    manual_seed(15);
    auto logp = leaf_pair(rnd({6, 5}, dtype));
    const Tensor loss = nll_loss(logp.cpu, target, Reduction::None);
    const Tensor loss_dev = nll_loss(logp.dev, target.to(kCUDA), Reduction::None);
    expect_parity(loss_dev, loss, dtype, "nll_loss forward");
    backward_both(loss, loss_dev, rnd({6}, dtype));
    expect_parity(logp.dev.grad(), logp.cpu.grad(), dtype, "nll_loss grad");
    // the mean over the targets not ignored, counted on the device, and its backward's share
    logp.cpu.set_grad(Tensor()), logp.dev.set_grad(Tensor());
    const Tensor mean = nll_loss(logp.cpu, target), mean_dev = nll_loss(logp.dev, target.to(kCUDA));
    expect_parity(mean_dev, mean, dtype, "nll_loss mean");
    mean.backward(), mean_dev.backward();
    expect_parity(logp.dev.grad(), logp.cpu.grad(), dtype, "nll_loss mean grad");
  }
  // On CUDA the finding is read without a host synchronisation: the row's loss is NaN, and
  // cuda::synchronize() (or the next CUDA loss) throws, once (kernels/cuda/target_check.h).
  const Tensor bad = from_vector<int64_t>({1, 7}, {2}, kInt64).to(kCUDA);
  const Tensor loss = nll_loss(randn({2, 5}).to(kCUDA), bad, Reduction::None);
  hg::test::expect_error([] { cuda::synchronize(); }, {"nll_loss", "index 1", "[2, 5]"});
  CHECK(std::isnan(loss.to(kCPU).to_vector<float>()[1]));
  cuda::synchronize();  // reported once
  (void)nll_loss(randn({2, 5}).to(kCUDA), bad);
  const Tensor good = from_vector<int64_t>({1, 1}, {2}, kInt64).to(kCUDA);
  hg::test::expect_error(
      [&] {
        (void)nll_loss(randn({2, 5}).to(kCUDA), good);
      },
      {"nll_loss", "index 1"});  // the earlier call's finding
  cuda::synchronize();           // the last call's targets were fine
}

TEST_CASE("cuda embedding matches the CPU, repeated indices accumulate their gradients") {
  if (!hg::test::cuda_or_skip()) return;
  const Tensor index = from_vector<int64_t>({1, 3, 3, 0, 6, 1, 3}, {7}, kInt64);
  for (DType dtype : hg::test::floating_dtypes()) {
    for (int64_t dim : {5, 8}) {  // odd rows take the byte-wise copy
      manual_seed(16);
      auto w = leaf_pair(rnd({7, dim}, dtype));
      const Tensor y = embedding(index, w.cpu);
      const Tensor yd = embedding(index.to(kCUDA), w.dev);
      expect_parity(yd, y, dtype, "embedding forward");
      backward_both(y, yd, rnd(y.sizes(), dtype));
      expect_parity(w.dev.grad(), w.cpu.grad(), dtype, "embedding grad_weight", 2.0);
    }
  }
}

// As for a loss's targets: no host synchronisation per call, so an index out of the table is
// reported by the next loss, embedding or cuda::synchronize(); its output row is NaN and it adds
// nothing to the gradient. Both kernels: rows of whole 32-bit words and rows of odd bytes.
TEST_CASE("cuda embedding: an index out of the table is a late error, its row NaN, no gradient") {
  if (!hg::test::cuda_or_skip()) return;
  const Tensor index = from_vector<int64_t>({1, 9, 2}, {3}, kInt64).to(kCUDA);
  for (DType dtype : hg::test::floating_dtypes()) {
    for (int64_t dim : {5, 8}) {
      const Tensor w = rnd({4, dim}, dtype).to(kCUDA).requires_grad_();
      const Tensor y = embedding(index, w);
      y.sum().backward();
      hg::test::expect_error(
          [] { cuda::synchronize(); },
          {"embedding", "index at position 1",
           "[4, " + std::to_string(dim) + "] " + std::string(dtype_name(dtype)) + " table"});
      const std::vector<double> out = y.to(kCPU).to_vector<double>();
      for (int64_t d = 0; d < dim; ++d) {
        CHECK(!std::isnan(out[static_cast<size_t>(d)]));
        CHECK(std::isnan(out[static_cast<size_t>(dim + d)]));
      }
      const std::vector<double> grad = w.grad().to(kCPU).to_vector<double>();
      for (int64_t r = 0; r < 4; ++r)
        for (int64_t d = 0; d < dim; ++d)
          CHECK(grad[static_cast<size_t>(r * dim + d)] == (r == 1 || r == 2 ? 1.0 : 0.0));
      cuda::synchronize();  // reported once
    }
  }
}
