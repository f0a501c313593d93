// The autocast weight cache and the casting rules PyTorch's autocast has at its edges: a cached
// cast after a backward, a weight whose storage was swapped, float64 inputs, and the fp32 list's
// reciprocal, rsqrt, tensor pow and scalar / tensor.
#include "test_util.h"

using namespace hg;
using hg::test::values;

TEST_CASE("autocast: backward twice in one region through a cached weight cast, as PyTorch") {
  // gradient accumulation, a skipped step, two losses: each backward consumes the cast node
  Tensor w = randn({4, 3}).requires_grad_();
  const Tensor x = randn({2, 3});
  amp::AutocastGuard ac(kFloat16);
  linear(x, w).sum().backward();
  const std::vector<double> once = values(w.grad());
  linear(x, w).sum().backward();  // threw: "CastBackward already freed its saved tensors"
  const std::vector<double> twice = values(w.grad());
  for (size_t i = 0; i < once.size(); ++i) CHECK(twice[i] == 2 * once[i]);
}

TEST_CASE("autocast: a weight whose storage was swapped is cast again, not served stale") {
  Tensor w = zeros({4, 3}).requires_grad_();
  const Tensor x = ones({2, 3});
  amp::AutocastGuard ac(kFloat16);
  const Tensor before = linear(x, w);
  nn::assign_in_place(w, ones({4, 3}));  // what Module::to does: new storage, version restarts
  const Tensor after = linear(x, w);
  CHECK(values(before) == std::vector<double>(8, 0.0));
  CHECK(values(after) == std::vector<double>(8, 3.0));
}

TEST_CASE("autocast: float64 inputs are not eligible for the lower precision, as PyTorch") {
  amp::AutocastGuard ac(kFloat16);
  const Tensor x = randn({2, 3}, kFloat64), w = randn({4, 3}, kFloat64);
  CHECK(linear(x, w).dtype() == kFloat64);
  CHECK(matmul(x, w.t()).dtype() == kFloat64);
  // an fp32 input with an fp64 weight: the input goes to fp16, the weight stays: a dtype error
  hg::test::expect_error([&] { (void)linear(randn({2, 3}), w); }, {"linear", "float64"});
}

TEST_CASE("autocast: reciprocal, rsqrt, tensor pow and scalar / tensor run in float32") {
  amp::AutocastGuard ac(kFloat16);
  const Tensor h = full({1}, 1e-5, kFloat16);
  const Tensor r = reciprocal(h);
  CHECK(r.dtype() == kFloat32);
  CHECK(std::isfinite(r.item<float>()));  // 1 / 1e-5 overflowed fp16 to inf
  CHECK(rsqrt(h).dtype() == kFloat32);
  const Tensor big = full({1}, 300, kFloat16);
  const Tensor squared = pow(big, full({1}, 2, kFloat16));
  CHECK(squared.dtype() == kFloat32);
  CHECK(squared.item<float>() == 90000.0f);
  CHECK((1.0 / h).dtype() == kFloat32);
}

// cross_entropy's float32 policy without the cast: its kernels widen the 16-bit logits (exact)
// and give the loss in float32 and the logits' gradient in their dtype, the bits of the cast.
TEST_CASE("autocast: cross_entropy widens 16-bit logits in its kernel, bit for bit the cast") {
  manual_seed(12);
  const Tensor target = from_vector(std::vector<int64_t>{2, 0, 4, -100, 1, 3}, kInt64);
  for (const DType low : {kFloat16, kBFloat16}) {
    for (const Reduction reduction : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
      for (const double smoothing : {0.0, 0.2}) {
        CAPTURE(dtype_name(low));
        CAPTURE(smoothing);
        const Tensor x0 = (randn({6, 5}) * 4.0).to(low);
        Tensor widened = x0.clone().requires_grad_(), cast = x0.clone().requires_grad_();
        Tensor loss;
        amp::PlanRecorder plan;
        {
          amp::AutocastGuard ac(low);
          loss = cross_entropy(widened, target, reduction, -100, smoothing);
        }
        REQUIRE(!plan.entries().empty());  // (then the sum's entry, for Reduction::Sum)
        CHECK(plan.entries()[0].op == "cross_entropy");
        CHECK(plan.entries()[0].casts == 1);  // the cast it stands for
        CHECK(plan.entries()[0].after == std::vector<DType>{kFloat32});
        const Tensor reference =
            cross_entropy(cast.to(kFloat32), target, reduction, -100, smoothing);
        CHECK(loss.dtype() == kFloat32);
        CHECK(hg::test::same_bits(loss, reference));
        const Tensor seed = randn(loss.sizes());
        loss.backward(seed);
        reference.backward(seed);
        CHECK(widened.grad().dtype() == low);
        CHECK(hg::test::same_bits(widened.grad(), cast.grad()));
      }
    }
  }
}
