// CPU-vs-CUDA parity of the fused nn kernels (kernels/cuda/fused_nn.cu): dropout draws the same
// mask on both devices (bit for bit), softmax + cross-entropy agrees to the dtype's tolerance.
#include <doctest/doctest.h>

#include <cmath>

#include "cuda_test_util.h"
#include "halfgrad/kernels/fused_nn_kernels.h"
#include "halfgrad/kernels/tensor_bridge.h"

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

namespace {

// mean_over_targets' own kernel over per-sample losses: what the loss kernel's last block must
// reproduce bit for bit.
Tensor mean_by_its_own_kernel(const Tensor& per_sample, const Tensor& target) {
  const TensorOptions on_device = TensorOptions().device(per_sample.device());
  const Tensor mean = empty({}, on_device.dtype(per_sample.dtype()));
  const Tensor count =
      empty({1}, on_device.dtype(per_sample.dtype() == kFloat64 ? kFloat64 : kFloat32));
  kernels::mean_over_targets(per_sample.device())(kernels::view_of(per_sample),
                                                  kernels::view_of(target), -100,
                                                  kernels::view_of(mean), kernels::view_of(count));
  return mean;
}

}  // namespace

TEST_CASE("cuda cross_entropy mean: the loss kernel's last block, the bits of a separate mean") {
  if (!hg::test::cuda_or_skip()) return;
  // 1003 rows: 126 blocks of 8, the last one partial; every 7th target ignored
  std::vector<int64_t> labels(1003);
  for (size_t n = 0; n < labels.size(); ++n) labels[n] = n % 7 == 3 ? -100 : int64_t(n * 5 % 10);
  const Tensor target = from_vector<int64_t>(labels, {1003}, kInt64).to(kCUDA);
  for (DType dtype : hg::test::floating_dtypes()) {
    manual_seed(55);
    const Tensor x_cpu = (randn({1003, 10}) * 3.0).to(dtype);
    const Tensor x = x_cpu.to(kCUDA);
    const Tensor want = mean_by_its_own_kernel(cross_entropy(x, target, Reduction::None), target);
    for (int call = 0; call < 3; ++call)  // the block counter is back at zero after each launch
      CHECK(hg::test::same_bits(cross_entropy(x, target).to(kCPU), want.to(kCPU)));
    expect_parity(cross_entropy(x, target), cross_entropy(x_cpu, target.to(kCPU)), dtype,
                  "cross_entropy mean over 126 blocks", 1.0);
    cuda::Graph graph;
    Tensor replayed;
    graph.capture([&] { replayed = cross_entropy(x, target); });
    for (int replay = 0; replay < 2; ++replay) {
      graph.replay();
      CHECK(hg::test::same_bits(replayed.to(kCPU), want.to(kCPU)));
    }
  }
  // under autocast: 16-bit logits, a float32 mean
  const Tensor x = (randn({1003, 10}) * 3.0).to(kFloat16).to(kCUDA);
  Tensor mean, per_sample;
  {
    amp::AutocastGuard ac(kFloat16);
    mean = cross_entropy(x, target);
    per_sample = cross_entropy(x, target, Reduction::None);
  }
  CHECK(mean.dtype() == kFloat32);
  CHECK(hg::test::same_bits(mean.to(kCPU), mean_by_its_own_kernel(per_sample, target).to(kCPU)));
}

TEST_CASE("cuda cross_entropy mean with nothing counted is NaN, as on the CPU") {
  if (!hg::test::cuda_or_skip()) return;
  const Tensor ignored = full({20}, -100.0, kInt64);
  const Tensor x = randn({20, 10});
  CHECK(std::isnan(cross_entropy(x, ignored).item<float>()));
  CHECK(std::isnan(cross_entropy(x.to(kCUDA), ignored.to(kCUDA)).to(kCPU).item<float>()));
  const Tensor none = randn({0, 10});  // no rows: no loss blocks, the mean still written
  const Tensor no_targets = empty({0}, kInt64);
  CHECK(std::isnan(cross_entropy(none, no_targets).item<float>()));
  CHECK(std::isnan(cross_entropy(none.to(kCUDA), no_targets.to(kCUDA)).to(kCPU).item<float>()));
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
