// cross_entropy, nll_loss, mse_loss, dropout and embedding.
#include <cmath>

#include "test_util.h"

using namespace hg;
using autograd::gradcheck;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::values;

TEST_CASE("cross_entropy: matches -log softmax at the target, every reduction") {
  Tensor logits = from_vector(std::vector<double>{1, 2, 3, 1, 1, 1}, {2, 3}, kFloat64);
  Tensor target = from_vector(std::vector<int64_t>{2, 0}, kInt64);
  const double l0 = -std::log(std::exp(3.0) / (std::exp(1.0) + std::exp(2.0) + std::exp(3.0)));
  const double l1 = std::log(3.0);
  expect_close(values(cross_entropy(logits, target, Reduction::None)), {l0, l1}, 1e-12);
  CHECK(cross_entropy(logits, target).item<double>() == doctest::Approx((l0 + l1) / 2));
  CHECK(cross_entropy(logits, target, Reduction::Sum).item<double>() == doctest::Approx(l0 + l1));
}

TEST_CASE("cross_entropy: ignore_index and label smoothing follow PyTorch") {
  Tensor logits = from_vector(std::vector<double>{1, 2, 3, 1, 1, 1}, {2, 3}, kFloat64);
  Tensor target = from_vector(std::vector<int64_t>{2, -100}, kInt64);
  const double l0 = -std::log(std::exp(3.0) / (std::exp(1.0) + std::exp(2.0) + std::exp(3.0)));
  CHECK(cross_entropy(logits, target).item<double>() == doctest::Approx(l0));  // mean over 1
  // smoothing 0.1: 0.9 nll + 0.1 mean_c(-log p_c); for row 0 that mean is l0 + 1, for the
  // uniform row 1 every -log p_c is log 3
  Tensor t2 = from_vector(std::vector<int64_t>{2, 0}, kInt64);
  CHECK(cross_entropy(logits, t2, Reduction::Mean, -100, 0.1).item<double>() ==
        doctest::Approx(0.5 * (0.9 * l0 + 0.1 * (l0 + 1) + std::log(3.0))));
}

TEST_CASE("cross_entropy: label smoothing 0.2 matches PyTorch's value and gradient") {
  // Reference: torch 1.13, F.cross_entropy(x, t, label_smoothing=0.2) in float64, then backward.
  Tensor logits = from_vector(std::vector<double>{0.5, -1.25, 2.0, 0.0, 1.5, 0.25, -0.75, 3.0, -2.0,
                                                  0.5, 1.0, 0.125},
                              {3, 4}, kFloat64)
                      .requires_grad_();
  Tensor target = from_vector(std::vector<int64_t>{2, 0, 1}, kInt64);
  Tensor loss = cross_entropy(logits, target, Reduction::Mean, -100, 0.2);
  CHECK(loss.item<double>() == doctest::Approx(1.2967662363027046).epsilon(1e-14));
  CHECK(cross_entropy(logits, target, Reduction::Sum, -100, 0.2).item<double>() ==
        doctest::Approx(3.890298708908113).epsilon(1e-14));
  loss.backward();
  expect_close(
      values(logits.grad()),
      {0.036564516677369416, -0.0074164740224398635, -0.04476772073920522, 0.015619678084275682,
       -0.22658215426358191, -0.0004071816357112676, -0.010685136399743363, 0.23767447229903657,
       -0.008661721859592568, -0.18581314156538845, 0.14411694782389958, 0.050357915601081465},
      1e-14);
}

TEST_CASE("cross_entropy and nll_loss: gradcheck") {
  manual_seed(20);
  Tensor logits = randn({4, 5}, kFloat64).requires_grad_();
  Tensor target = from_vector(std::vector<int64_t>{0, 4, -100, 2}, kInt64);
  for (double smoothing : {0.0, 0.2}) {
    for (Reduction red : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
      auto r = gradcheck(
          [&](const std::vector<Tensor>& in) {
            return cross_entropy(in[0], target, red, -100, smoothing);
          },
          {logits});
      CHECK_MESSAGE(r.ok, r.message);
    }
  }
  auto r = gradcheck(
      [&](const std::vector<Tensor>& in) { return nll_loss(log_softmax(in[0], 1), target); },
      {logits});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("log_softmax and cross_entropy keep their precision for large fp32 logits") {
  // logits 10000 + 0.37 i: x - (max + log(sum)) rounded log(sum) to 10000's float ulp (~1e-3);
  // (x - max) - log(sum) is as exact as for small logits. Reference: the same in float64.
  std::vector<float> row;
  for (int i = 0; i < 8; ++i) row.push_back(10000.0f + 0.37f * static_cast<float>(i));
  const Tensor x = from_vector(row, {1, 8});
  const std::vector<double> exact = values(log_softmax(x.to(kFloat64), 1));
  const std::vector<double> got = values(log_softmax(x, 1));
  for (size_t i = 0; i < 8; ++i) CHECK(got[i] == doctest::Approx(exact[i]).epsilon(1e-6));
  const Tensor target = from_vector(std::vector<int64_t>{3});
  CHECK(cross_entropy(x, target).item<double>() == doctest::Approx(-exact[3]).epsilon(1e-6));
  CHECK(cross_entropy(x, target, Reduction::Mean, -100, 0.2).item<double>() ==
        doctest::Approx(
            cross_entropy(x.to(kFloat64), target, Reduction::Mean, -100, 0.2).item<double>())
            .epsilon(1e-6));
  // the gradient too: the backward's softmax is exp((x - max) - log_sum), not exp(x - lse)
  const Tensor leaf = x.detach().requires_grad_();
  cross_entropy(leaf, target).backward();
  const Tensor leaf64 = x.to(kFloat64).requires_grad_();
  cross_entropy(leaf64, target).backward();
  expect_close(values(leaf.grad()), values(leaf64.grad()), 1e-6, 1e-7);
}

TEST_CASE("fp16 losses with mean reduction sum in float: no overflow past 65504") {
  // 20000 rows of logits (0, 6), target 0: each loss is 6.0025, their fp16 sum would be inf
  std::vector<float> rows;
  for (int i = 0; i < 20000; ++i) rows.insert(rows.end(), {0.0f, 6.0f});
  const Tensor x = from_vector(rows, {20000, 2}, kFloat16);
  const Tensor target = zeros({20000}, kInt64);
  const Tensor loss = cross_entropy(x, target);
  CHECK(loss.dtype() == kFloat16);
  CHECK(loss.item<float>() == doctest::Approx(6.0025).epsilon(1e-3));
  CHECK(nll_loss(log_softmax(x, 1), target).item<float>() == doctest::Approx(6.0025).epsilon(1e-3));
}

// The bits of the mean reduction and its gradient as the composition of tensor ops gives them:
// (sum(per_sample.to(C)) / count.to(C)).to(T), C float32 (float64 for fp64). cross_entropy's
// mean is one taped op whose backward is a single kernel (CrossEntropyMeanBackward).
TEST_CASE("losses' mean over counted targets: one kernel each way with the composition's bits") {
  const Tensor target =
      from_vector(std::vector<int64_t>{3, -100, 0, 4, 4, -100, 1, 2, 0}, {9}, kInt64);
  for (DType dtype : {kFloat32, kFloat16, kBFloat16, kFloat64})
    for (double ls : {0.0, 0.2}) {
      CAPTURE(dtype_name(dtype));
      CAPTURE(ls);
      const DType compute = dtype == kFloat64 ? kFloat64 : kFloat32;
      manual_seed(61);
      const Tensor x0 = (randn({9, 5}) * 3.0).to(dtype);
      Tensor x = x0.clone().requires_grad_(), x_ref = x0.clone().requires_grad_();
      const Tensor loss = cross_entropy(x, target, Reduction::Mean, -100, ls);
      CHECK(loss.grad_fn()->name() == "CrossEntropyMeanBackward");
      const Tensor per_sample = cross_entropy(x_ref, target, Reduction::None, -100, ls);
      const Tensor count = sum(ne(target, wrap_scalar(-100.0, target))).to(compute);
      const Tensor loss_ref = (sum(per_sample.to(compute)) / count).to(dtype);
      CHECK(loss.dtype() == dtype);
      CHECK(loss.dim() == 0);
      CHECK(values(loss) == values(loss_ref));
      loss.backward(full({}, 1.5, dtype));
      loss_ref.backward(full({}, 1.5, dtype));
      CHECK(values(x.grad()) == values(x_ref.grad()));
      const Tensor nll = nll_loss(log_softmax(x0, 1), target);
      const Tensor nll_ref =
          (sum(nll_loss(log_softmax(x0, 1), target, Reduction::None).to(compute)) / count)
              .to(dtype);
      CHECK(values(nll) == values(nll_ref));
    }
  // every target ignored: 0 / 0, as PyTorch; the gradient is 0 everywhere
  Tensor x = randn({2, 3}).requires_grad_();
  const Tensor loss = cross_entropy(x, full({2}, -100.0, kInt64));
  CHECK(std::isnan(loss.item<float>()));
  loss.backward();
  CHECK(values(x.grad()) == std::vector<double>(6, 0.0));
}

TEST_CASE(
    "binary_cross_entropy: probabilities outside [0, 1] are refused, 16-bit in gives 16-bit out") {
  const Tensor target = from_vector(std::vector<float>{1, 0});
  expect_error(
      [&] {
        binary_cross_entropy(from_vector(std::vector<float>{1.5f, -0.5f}), target);
      },
      {"binary_cross_entropy", "[0, 1]", "[2] float32", "-0.5", "1.5"});
  expect_error(
      [&] {
        binary_cross_entropy(from_vector(std::vector<float>{NAN, 0.5f}), target);
      },
      {"binary_cross_entropy", "[0, 1]"});
  const Tensor p16 = from_vector(std::vector<float>{0.25f, 0.5f}, {2}, kFloat16);
  CHECK(binary_cross_entropy(p16, target.to(kFloat16)).dtype() == kFloat16);
  CHECK(binary_cross_entropy(p16, target.to(kFloat16), Reduction::None).dtype() == kFloat16);
}

TEST_CASE("cross_entropy: fp16 logits are safe through the float kernel") {
  Tensor logits =
      from_vector(std::vector<float>{10000, 0, -10000, 5}, {2, 2}, kFloat16).requires_grad_();
  Tensor target = from_vector(std::vector<int64_t>{1, 0}, kInt64);
  Tensor loss = cross_entropy(logits, target);
  CHECK(std::isfinite(loss.item<float>()));
  loss.backward();
  CHECK(logits.grad().dtype() == kFloat16);
}

TEST_CASE("losses: bad input names op, shapes and dtypes") {
  Tensor logits = zeros({2, 3});
  expect_error(
      [&] {
        (void)cross_entropy(logits, from_vector(std::vector<int64_t>{0, 3}, kInt64));
      },
      {"cross_entropy", "target 3", "3 classes", "[2, 3] float32"});
  expect_error([&] { (void)cross_entropy(logits, zeros({2})); },
               {"cross_entropy", "int64 targets", "[2] float32"});
  expect_error(
      [&] {
        (void)cross_entropy(zeros({2, 3, 4}), zeros({2}, kInt64));
      },
      {"cross_entropy", "[N, C]", "[2, 3, 4]"});
  expect_error([&] { (void)mse_loss(zeros({2}), zeros({3})); },
               {"mse_loss", "[2] float32", "[3] float32"});
  expect_error([&] { (void)cross_entropy(logits, zeros({2}, kInt64), Reduction::Mean, -100, 2.0); },
               {"label_smoothing"});
}

TEST_CASE("mse_loss: value and gradcheck") {
  Tensor a = from_vector(std::vector<double>{1, 2, 3}, kFloat64).requires_grad_();
  Tensor b = from_vector(std::vector<double>{1, 0, 0}, kFloat64);
  CHECK(mse_loss(a, b).item<double>() == doctest::Approx(13.0 / 3));
  auto r = gradcheck(
      [&](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1], Reduction::Sum); },
      {a, b.requires_grad_()});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("binary_cross_entropy (on probabilities and on logits): values and gradcheck") {
  const Tensor p = from_vector(std::vector<double>{0.1, 0.5, 0.9, 0.3}, kFloat64);
  const Tensor t = from_vector(std::vector<double>{0, 1, 1, 0.25}, kFloat64);
  // -(t log p + (1 - t) log(1 - p)) per element, here summed
  double expected = 0;
  for (int i = 0; i < 4; ++i) {
    const double pi = values(p)[i], ti = values(t)[i];
    expected -= ti * std::log(pi) + (1 - ti) * std::log(1 - pi);
  }
  CHECK(binary_cross_entropy(p, t, Reduction::Sum).item<double>() == doctest::Approx(expected));
  CHECK(binary_cross_entropy(p, t).item<double>() == doctest::Approx(expected / 4));
  const Tensor logits = log(p) - log(1.0 - p);  // sigmoid(logits) = p
  CHECK(binary_cross_entropy_with_logits(logits, t, Reduction::Sum).item<double>() ==
        doctest::Approx(expected));
  CHECK(binary_cross_entropy_with_logits(logits, t, Reduction::None).sizes() == Shape{4});
  for (auto loss : {binary_cross_entropy, binary_cross_entropy_with_logits}) {
    const Tensor x = loss == binary_cross_entropy ? p : logits;
    auto r =
        gradcheck([&](const std::vector<Tensor>& in) { return loss(in[0], in[1], Reduction::Sum); },
                  {x.clone().requires_grad_(), t.clone().requires_grad_()});
    CHECK_MESSAGE(r.ok, r.message);
  }
}

TEST_CASE("binary cross-entropies are in nn::functional too") {
  const Tensor logits = from_vector(std::vector<float>{-1, 2}), target = ones({2});
  CHECK(nn::functional::binary_cross_entropy_with_logits(logits, target).item<double>() ==
        binary_cross_entropy_with_logits(logits, target).item<double>());
  CHECK(nn::functional::binary_cross_entropy(sigmoid(logits), target).item<double>() ==
        binary_cross_entropy(sigmoid(logits), target).item<double>());
}

TEST_CASE("binary_cross_entropy: the edges (large logits, p of 0 and 1, a zero logit)") {
  const Tensor x = from_vector(std::vector<double>{100, -100, 0}, kFloat64).requires_grad_();
  const Tensor t = from_vector(std::vector<double>{0, 1, 0.25}, kFloat64);
  const Tensor l = binary_cross_entropy_with_logits(x, t, Reduction::None);
  expect_close(values(l), {100, 100, std::log(2.0)}, 1e-12);  // no overflow to inf
  l.sum().backward();
  expect_close(values(x.grad()), {1, -1, 0.5 - 0.25}, 1e-12);  // sigmoid(x) - t, at 0 too
  const Tensor p = from_vector(std::vector<float>{0, 1, 0, 1}).requires_grad_();
  const Tensor y = from_vector(std::vector<float>{0, 1, 1, 0});
  const Tensor b = binary_cross_entropy(p, y, Reduction::None);  // logs clamped at -100
  CHECK(values(b) == std::vector<double>{0, 0, 100, 100});
  b.sum().backward();
  // PyTorch's formula, (p - t) / max((1 - p) p, 1e-12): no one-sided derivative at 0 and 1
  const double big = 1.0f / 1e-12f;  // in float: 999999995904
  CHECK(values(p.grad()) == std::vector<double>{0, 0, -big, big});
  // tiny probabilities (a sigmoid of -90 in float) give finite gradients, not -inf
  const Tensor tiny = from_vector(std::vector<float>{1e-39f, 1e-30f, 0.25f}).requires_grad_();
  binary_cross_entropy(tiny, ones({3}), Reduction::Sum).backward();
  CHECK(values(tiny.grad()) == std::vector<double>{-big, -big, -4});
  // fp16: 1e12 would be inf in the input's dtype, and sigmoid's backward inf * 0 = NaN
  const Tensor x16 = from_vector(std::vector<float>{-20, 10, 0}).to(kFloat16).requires_grad_();
  const Tensor t16 = from_vector(std::vector<float>{1, 0.5f, 1}).to(kFloat16);
  binary_cross_entropy(sigmoid(x16), t16, Reduction::Sum).backward();
  const std::vector<double> g16 = values(x16.grad());
  for (double g : g16) CHECK(std::isfinite(g));
  CHECK(g16[2] == -0.5);
  // a scaled gradient that overflows fp16 still does (the scaler must see it and back off)
  const Tensor z16 = zeros({1}, kFloat16).requires_grad_();
  (binary_cross_entropy(sigmoid(z16), zeros({1}, kFloat16), Reduction::Sum).to(kFloat32) * 60000.0)
      .backward();  // dL/dp = 120000 > 65504
  CHECK(std::isinf(values(z16.grad())[0]));
  expect_error([&] { (void)binary_cross_entropy(p, zeros({3})); },
               {"binary_cross_entropy", "[4] float32", "[3] float32", "differ in shape"});
}

TEST_CASE("binary_cross_entropy under fp16 autocast: banned on probabilities, fp32 on logits") {
  const Tensor x = from_vector(std::vector<float>{0.5f, -2.0f}).to(kFloat16);
  const Tensor t = from_vector(std::vector<float>{1, 0});
  amp::AutocastGuard autocast(kFloat16);
  expect_error([&] { (void)binary_cross_entropy(sigmoid(x), t); },
               {"binary_cross_entropy", "float16", "binary_cross_entropy_with_logits"});
  CHECK(binary_cross_entropy_with_logits(x, t).dtype() == kFloat32);
}

TEST_CASE("dropout: seeded, scaled, identity in eval") {
  Tensor x = ones({1000});
  manual_seed(5);
  Tensor a = dropout(x, 0.25);
  manual_seed(5);
  Tensor b = dropout(x, 0.25);
  CHECK(values(a) == values(b));
  int zeros_seen = 0;
  for (double v : values(a)) {
    CHECK((v == 0.0 || v == doctest::Approx(1.0 / 0.75)));
    zeros_seen += v == 0.0;
  }
  CHECK(zeros_seen > 200);
  CHECK(zeros_seen < 300);
  CHECK(dropout(x, 0.5, false).is_same(x));
  Tensor w = ones({10}).requires_grad_();
  manual_seed(6);
  Tensor d = dropout(w, 0.5);
  d.sum().backward();
  CHECK(values(w.grad()) == values(d.detach()));
  expect_error([] { (void)dropout(ones({2}), 1.5); }, {"dropout", "1.5"});
}

TEST_CASE("embedding: gathers rows, gradient scatter-adds repeated indices") {
  Tensor w = arange(12).reshape({4, 3}).to(kFloat64).requires_grad_();
  Tensor idx = from_vector(std::vector<int64_t>{3, 1, 3}, {3}, kInt64);
  Tensor e = embedding(idx, w);
  CHECK(e.sizes() == Shape{3, 3});
  CHECK(values(e) == std::vector<double>{9, 10, 11, 3, 4, 5, 9, 10, 11});
  e.sum().backward();
  CHECK(values(w.grad()) == std::vector<double>{0, 0, 0, 1, 1, 1, 0, 0, 0, 2, 2, 2});
  Tensor w2 = randn({5, 2}, kFloat64).requires_grad_();
  Tensor idx2 = from_vector(std::vector<int64_t>{0, 4, 4, 2}, {2, 2}, kInt64);
  auto r =
      gradcheck([&](const std::vector<Tensor>& in) { return embedding(idx2, in[0]) * 2.0; }, {w2});
  CHECK_MESSAGE(r.ok, r.message);
  expect_error([&] { (void)embedding(from_vector(std::vector<int64_t>{4}, kInt64), w); },
               {"embedding", "index 4", "4 rows", "[4, 3] float64"});
  expect_error([&] { (void)embedding(zeros({2}), w); }, {"embedding", "int64", "[2] float32"});
}
