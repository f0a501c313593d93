// CPU-vs-CUDA parity of the fused nn kernels (kernels/cuda/fused_nn.cu): dropout draws the same
// mask on both devices (bit for bit), softmax + cross-entropy agrees to the dtype's tolerance.
#include <doctest/doctest.h>

#include <cmath>

#include "cuda_test_util.h"

using namespace hg;
using hg::test::expect_parity;
using hg::test::leaf_pair;

TEST_CASE("cuda dropout: the same mask as the CPU for the same generator state") {
  if (!hg::test::cuda_or_skip()) return;
  for (DType dtype : hg::test::floating_dtypes()) {
    auto x = leaf_pair(randn({7, 33}).to(dtype));
    manual_seed(51);
    const Tensor y = dropout(x.cpu, 0.3);
    manual_seed(51);
    const Tensor yd = dropout(x.dev, 0.3);
    CHECK(yd.to(kCPU).to(kFloat64).to_vector<double>() == y.to(kFloat64).to_vector<double>());
    const Tensor g = randn({7, 33}).to(dtype);
    y.backward(g);
    yd.backward(g.to(kCUDA));
    CHECK(x.dev.grad().to(kCPU).to(kFloat64).to_vector<double>() ==
          x.cpu.grad().to(kFloat64).to_vector<double>());
  }
}

TEST_CASE("cuda cross_entropy: fused forward and backward match the CPU, smoothing and ignore") {
  if (!hg::test::cuda_or_skip()) return;
  const Tensor target = from_vector<int64_t>({3, 0, -100, 9, 4, 4, 1, 7, 2, 5, 6, 8}, {12}, kInt64);
  for (DType dtype : hg::test::floating_dtypes()) {
    for (int64_t classes : {10, 100}) {
      for (double ls : {0.0, 0.1}) {
        manual_seed(52);
        auto x = leaf_pair((randn({12, classes}) * 4.0).to(dtype));
        const Tensor loss = cross_entropy(x.cpu, target, Reduction::None, -100, ls);
        const Tensor loss_dev = cross_entropy(x.dev, target.to(kCUDA), Reduction::None, -100, ls);
        expect_parity(loss_dev, loss, dtype, "cross_entropy forward", 1.0);
        const Tensor g = randn({12}).to(dtype);
        loss.backward(g);
        loss_dev.backward(g.to(kCUDA));
        expect_parity(x.dev.grad(), x.cpu.grad(), dtype, "cross_entropy backward", 1.0);
        // the mean over the non-ignored targets: counted on the device, no readback
        const Tensor mean_loss = cross_entropy(x.cpu, target, Reduction::Mean, -100, ls);
        const Tensor mean_dev = cross_entropy(x.dev, target.to(kCUDA), Reduction::Mean, -100, ls);
        expect_parity(mean_dev, mean_loss, dtype, "cross_entropy mean", 1.0);
        x.cpu.set_grad(Tensor());
        x.dev.set_grad(Tensor());
        mean_loss.backward();
        mean_dev.backward();
        expect_parity(x.dev.grad(), x.cpu.grad(), dtype, "cross_entropy mean backward", 1.0);
      }
    }
  }
}

TEST_CASE("cuda cross_entropy under autocast: 16-bit logits, float32 loss, as the CPU") {
  if (!hg::test::cuda_or_skip()) return;
  const Tensor target = from_vector<int64_t>({3, 0, -100, 9, 4, 4, 1, 7}, {8}, kInt64);
  for (DType low : {kFloat16, kBFloat16}) {
    for (Reduction reduction : {Reduction::Mean, Reduction::None}) {
      manual_seed(54);
      auto x = leaf_pair((randn({8, 10}) * 4.0).to(low));
      Tensor loss, loss_dev;
      {
        amp::AutocastGuard ac(low);
        loss = cross_entropy(x.cpu, target, reduction, -100, 0.2);
        loss_dev = cross_entropy(x.dev, target.to(kCUDA), reduction, -100, 0.2);
      }
      CHECK(loss_dev.dtype() == kFloat32);
      expect_parity(loss_dev, loss, kFloat32, "widened cross_entropy", 1.0);
      // on the device too, the bits of the cast logits
      const Tensor cast = x.dev.detach().to(kFloat32).requires_grad_();
      const Tensor loss_cast = cross_entropy(cast, target.to(kCUDA), reduction, -100, 0.2);
      CHECK(hg::test::same_bits(loss_dev.to(kCPU), loss_cast.to(kCPU)));
      const Tensor g = randn(loss.sizes());
      loss.backward(g);
      loss_dev.backward(g.to(kCUDA));
      loss_cast.backward(g.to(kCUDA));
      CHECK(x.dev.grad().dtype() == low);
      expect_parity(x.dev.grad(), x.cpu.grad(), low, "widened cross_entropy backward", 1.0);
      CHECK(hg::test::same_bits(x.dev.grad().to(kCPU), cast.grad().to(low).to(kCPU)));
    }
  }
}

TEST_CASE("cuda binary cross-entropies (composites): forward and backward match the CPU") {
  if (!hg::test::cuda_or_skip()) return;
  manual_seed(53);
  const Tensor target = rand({6, 5});
  for (DType dtype : hg::test::floating_dtypes()) {
    auto x = leaf_pair((randn({6, 5}) * 3.0).to(dtype));
    const Tensor loss = binary_cross_entropy_with_logits(x.cpu, target, Reduction::None);
    const Tensor loss_dev =
        binary_cross_entropy_with_logits(x.dev, target.to(kCUDA), Reduction::None);
    expect_parity(loss_dev, loss, dtype, "binary_cross_entropy_with_logits forward", 1.0);
    const Tensor g = randn({6, 5}).to(loss.dtype());
    loss.backward(g);
    loss_dev.backward(g.to(kCUDA));
    expect_parity(x.dev.grad(), x.cpu.grad(), dtype, "binary_cross_entropy_with_logits backward",
                  1.0);
    auto p = leaf_pair(rand({6, 5}).to(dtype));
    const Tensor bce = binary_cross_entropy(p.cpu, target, Reduction::Sum);
    const Tensor bce_dev = binary_cross_entropy(p.dev, target.to(kCUDA), Reduction::Sum);
    expect_parity(bce_dev, bce, dtype, "binary_cross_entropy forward", 1.0);
    bce.backward();
    bce_dev.backward();
    expect_parity(p.dev.grad(), p.cpu.grad(), dtype, "binary_cross_entropy backward", 1.0);
  }
}

TEST_CASE("cuda cross_entropy: an out-of-range target is reported by the next loss") {
  if (!hg::test::cuda_or_skip()) return;
  const Tensor good = from_vector<int64_t>({1, 2, 3}, {3}, kInt64).to(kCUDA);
  const Tensor bad = from_vector<int64_t>({1, 2, 10}, {3}, kInt64).to(kCUDA);
  const Tensor x = randn({3, 10}).to(kCUDA);
  const Tensor loss = cross_entropy(x, bad, Reduction::None);  // returns without waiting
  hg::test::expect_error([&] { (void)cross_entropy(x, good); },
                         {"cross_entropy", "index 2", "10 classes"});
  CHECK(std::isnan(loss.to(kCPU).to_vector<float>()[2]));
  cuda::synchronize();  // the good call queued nothing to report
}
