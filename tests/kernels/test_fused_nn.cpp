// The fused nn families on the CPU (kernels/fused_nn_kernels.h) through their autograd ops:
// dropout gives the mask of rand() + ge + multiply bit for bit; cross_entropy's fused forward
// equals nll_loss(log_softmax(x)) bit for bit without label smoothing; gradients by gradcheck.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "halfgrad/autograd/gradcheck.h"
#include "halfgrad/kernels/fused_nn_kernels.h"
#include "halfgrad/kernels/tensor_bridge.h"
#include "test_util.h"

using namespace hg;

namespace {

void expect_bits(const Tensor& a, const Tensor& b, const char* what) {
  REQUIRE(a.sizes() == b.sizes());
  const auto x = a.to(kFloat64).to_vector<double>(), y = b.to(kFloat64).to_vector<double>();
  for (size_t i = 0; i < x.size(); ++i)
    CHECK_MESSAGE(std::memcmp(&x[i], &y[i], sizeof(double)) == 0,
                  what << " element " << i << ": " << x[i] << " vs " << y[i]);
}

}  // namespace

TEST_CASE("dropout: the fused kernel's mask is rand() >= p, scaled in the input's dtype") {
  for (DType dtype : {kFloat32, kFloat16, kBFloat16, kFloat64}) {
    CAPTURE(dtype_name(dtype));
    for (double p : {0.1, 0.5, 0.7}) {
      const Tensor x = randn({5, 13}).to(dtype);
      manual_seed(31);
      const Tensor draw = rand({5, 13}, TensorOptions(kFloat32));
      const Tensor mask = ge(draw, wrap_scalar(p, draw)).to(dtype) * (1.0 / (1.0 - p));
      const Tensor expected = x * mask;
      const Generator::State after = default_generator().state();
      manual_seed(31);
      Tensor leaf = x.detach().requires_grad_();
      const Tensor y = dropout(leaf, p);
      expect_bits(y, expected, "dropout forward");
      CHECK(default_generator().state() == after);  // the same blocks were used
      const Tensor g = randn({5, 13}).to(dtype);
      y.backward(g);
      expect_bits(leaf.grad(), g * mask, "dropout backward");
    }
  }
  CHECK(dropout(ones({3}), 0.5, /*training=*/false).to_vector<float>() ==
        std::vector<float>{1, 1, 1});
}

TEST_CASE("dropout: gradcheck with a fixed seed, and inf in a dropped element stays non-finite") {
  const Tensor x = randn({4, 6}, TensorOptions(kFloat64)).requires_grad_();
  const auto result = autograd::gradcheck(
      [](const std::vector<Tensor>& in) {
        manual_seed(32);
        return dropout(in[0], 0.4);
      },
      {x});
  CHECK_MESSAGE(result.ok, result.message);
  manual_seed(33);
  const Tensor y = dropout(full({64}, INFINITY), 0.5);
  for (float v : y.to_vector<float>()) CHECK(!std::isfinite(v));  // inf * scale or inf * 0
}

TEST_CASE("cross_entropy (fused): forward equals nll_loss(log_softmax(x)) bit for bit") {
  for (DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    CAPTURE(dtype_name(dtype));
    manual_seed(34);
    const Tensor logits = (randn({9, 7}) * 3.0).to(dtype);
    const Tensor target = from_vector<int64_t>({0, 6, 3, -100, 2, 2, 5, 1, 4}, {9}, kInt64);
    const Tensor fused = cross_entropy(logits, target, Reduction::None);
    const Tensor composed = nll_loss(log_softmax(logits, -1), target, Reduction::None);
    expect_bits(fused, composed, "cross_entropy");
  }
}

TEST_CASE("cross_entropy (fused): label smoothing matches its definition, gradcheck") {
  manual_seed(35);
  const Tensor logits = randn({6, 5}, TensorOptions(kFloat64)).requires_grad_();
  const Tensor target = from_vector<int64_t>({4, 0, -100, 2, 1, 3}, {6}, kInt64);
  const double ls = 0.2;
  const Tensor logp = log_softmax(logits, -1);
  const Tensor kept = ne(target, wrap_scalar(-100.0, target));
  const Tensor smooth = where(kept, -mean(logp, {1}), zeros({}, logp.options()));
  const Tensor expected = nll_loss(logp, target, Reduction::None) * (1.0 - ls) + smooth * ls;
  hg::test::expect_close(hg::test::values(cross_entropy(logits, target, Reduction::None, -100, ls)),
                         hg::test::values(expected), 1e-12, 1e-12);
  for (double smoothing : {0.0, ls}) {
    for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
      const auto result = autograd::gradcheck(
          [&](const std::vector<Tensor>& in) {
            return cross_entropy(in[0], target, r, -100, smoothing);
          },
          {logits});
      CHECK_MESSAGE(result.ok, result.message);
    }
  }
  hg::test::expect_error(
      [&] {
        cross_entropy(logits, from_vector<int64_t>({0, 1, 2, 9, 0, 0}, {6}, kInt64));
      },
      {"cross_entropy", "target 9", "index 3", "5 classes"});
}

TEST_CASE("cross_entropy kernels: a loss dtype other than the logits' or float32 is an hg::Error") {
  const Tensor x = randn({2, 3}).to(kFloat16), t = zeros({2}, kInt64);
  Tensor loss = zeros({2}, kBFloat16), lse = zeros({2, 2});
  int64_t bad = -1;
  hg::test::expect_error(
      [&] {
        kernels::cross_entropy(kCPU)(kernels::view_of(x), kernels::view_of(t), -100, 0.0,
                                     kernels::view_of(loss), kernels::view_of(lse), {}, {}, &bad);
      },
      {"cross_entropy", "float16 logits", "bfloat16"});
}
