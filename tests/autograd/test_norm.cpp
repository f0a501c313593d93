// batch_norm and layer_norm: forward against a double reference, running statistics,
// gradcheck in fp64, fp16 inputs with fp32 parameters, bad input.
#include <cmath>

#include "test_util.h"

using namespace hg;
using autograd::gradcheck;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::values;

TEST_CASE("batch_norm: training normalises per channel and updates running stats") {
  manual_seed(10);
  Tensor x = randn({4, 3, 2, 2}, kFloat64) * 2.0 + 1.0;
  Tensor rm = zeros({3}, kFloat64), rv = ones({3}, kFloat64);
  Tensor y = batch_norm(x, rm, rv, Tensor(), Tensor(), true, 0.1, 1e-5);
  const auto xv = values(x), yv = values(y);
  for (int c = 0; c < 3; ++c) {
    double s = 0, sq = 0;
    for (int n = 0; n < 4; ++n)
      for (int i = 0; i < 4; ++i) s += xv[(n * 3 + c) * 4 + i];
    const double m = s / 16;
    for (int n = 0; n < 4; ++n)
      for (int i = 0; i < 4; ++i) sq += std::pow(xv[(n * 3 + c) * 4 + i] - m, 2);
    const double var = sq / 16;
    for (int n = 0; n < 4; ++n)
      for (int i = 0; i < 4; ++i) {
        const int k = (n * 3 + c) * 4 + i;
        CHECK(yv[k] == doctest::Approx((xv[k] - m) / std::sqrt(var + 1e-5)));
      }
    CHECK(values(rm)[c] == doctest::Approx(0.1 * m));
    CHECK(values(rv)[c] == doctest::Approx(0.9 + 0.1 * var * 16 / 15));
  }
}

TEST_CASE("batch_norm: the running variance keeps its bits when the variance is far below eps") {
  // var ~5e-9 with eps 1e-3: rebuilt from the fp32 invstd as 1/invstd^2 - eps it was off by ~1e-3
  // relative (the same for every channel); the kernel now hands over the double-precision sums
  manual_seed(11);
  const Tensor x = randn({4, 3, 8, 8}) * 1e-4 + 0.3;
  Tensor rm = zeros({3}), rv = zeros({3});
  (void)batch_norm(x, rm, rv, Tensor(), Tensor(), true, /*momentum=*/1.0, /*eps=*/1e-3);
  const Tensor per_channel = x.to(kFloat64).permute({1, 0, 2, 3}).reshape({3, -1});
  const std::vector<double> exact = values(var(per_channel, {1}, false, 1));
  expect_close(values(rv), exact, 0.0, 1e-6);
}

TEST_CASE("batch_norm: the one-kernel running update has the bits of the tensor-op update") {
  // contiguous buffers take batch_norm_running_stats; strided views of the same values take the
  // tensor ops (running * (1 - m) + batch * m), which the kernel must reproduce bit for bit
  manual_seed(12);
  for (DType dtype : {kFloat32, kFloat16, kFloat64}) {
    CAPTURE(dtype_name(dtype));
    const DType stats = dtype == kFloat64 ? kFloat64 : kFloat32;
    const Tensor x = (randn({5, 4, 3, 3}) * 3.0 + 0.7).to(dtype);
    Tensor rm = randn({4}).to(stats), rv = rand({4}).to(stats) + 0.5;
    Tensor rm_wide = zeros({8}, stats), rv_wide = zeros({8}, stats);
    Tensor rm_view = rm_wide.slice(0, 0, 8, 2), rv_view = rv_wide.slice(0, 0, 8, 2);
    rm_view.copy_(rm);
    rv_view.copy_(rv);
    REQUIRE(!rm_view.is_contiguous());
    // nn::BatchNorm's batch counter rides along in the same kernel (or the tensor ops)
    Tensor count = zeros({}, kInt64), count_view = zeros({}, kInt64);
    for (double momentum : {0.1, 0.37, 1.0}) {
      (void)hg::detail::batch_norm_counted(x, rm, rv, Tensor(), Tensor(), true, momentum, 1e-5,
                                           false, count);
      (void)hg::detail::batch_norm_counted(x, rm_view, rv_view, Tensor(), Tensor(), true, momentum,
                                           1e-5, false, count_view);
      CHECK(values(rm) == values(rm_view));
      CHECK(values(rv) == values(rv_view));
    }
    (void)hg::detail::batch_norm_counted(x, rm, rv, Tensor(), Tensor(), false, 0.1, 1e-5, false,
                                         count);  // eval: not counted
    CHECK(count.item<int64_t>() == 3);
    CHECK(count_view.item<int64_t>() == 3);
  }
}

// The fused op must be the two ops it replaces, bit for bit, including relu's edge values:
// NaN passes (forward and gradient), -0 and negatives become 0 and stop the gradient.
// (5 x 5 planes, and 17 x 19 ones that cross the CPU kernel's 256-value conversion blocks)
TEST_CASE("batch_norm_relu: relu(batch_norm(x)) in one op with the two ops' bits each way") {
  for (const Shape& shape : {Shape{4, 3, 5, 5}, Shape{2, 3, 17, 19}})
    for (DType dtype : {kFloat32, kFloat16, kBFloat16, kFloat64}) {
      for (bool training : {true, false}) {
        CAPTURE(dtype_name(dtype));
        CAPTURE(training);
        CAPTURE(shape[2]);
        manual_seed(13);
        const DType stats = dtype == kFloat64 ? kFloat64 : kFloat32;
        Tensor x0 = (randn(shape) * 2.0).to(dtype);
        if (!training) x0.view({-1}).narrow(0, 7, 1).fill_(NAN);  // (a NaN batch mean otherwise)
        const Tensor w0 = (rand({3}) + 0.5).to(stats), b0 = randn({3}).to(stats);
        const Tensor rm0 = randn({3}).to(stats) * 0.1, rv0 = rand({3}).to(stats) + 0.5;
        Tensor x[2], w[2], b[2], rm[2], rv[2], y[2];
        for (int k = 0; k < 2; ++k) {
          x[k] = x0.clone().requires_grad_();
          w[k] = w0.clone().requires_grad_();
          b[k] = b0.clone().requires_grad_();
          rm[k] = rm0.clone(), rv[k] = rv0.clone();
        }
        y[0] = batch_norm_relu(x[0], rm[0], rv[0], w[0], b[0], training);
        y[1] = relu(batch_norm(x[1], rm[1], rv[1], w[1], b[1], training));
        CHECK(std::string(y[0].grad_fn()->name()) == "BatchNormReluBackward");
        auto same = [](const Tensor& a, const Tensor& c) {  // equal, NaN where NaN
          const auto va = values(a), vc = values(c);
          bool ok = va.size() == vc.size();
          for (size_t i = 0; ok && i < va.size(); ++i)
            ok = va[i] == vc[i] || (std::isnan(va[i]) && std::isnan(vc[i]));
          return ok;
        };
        CHECK(same(y[0], y[1]));
        CHECK(same(rm[0], rm[1]));
        CHECK(same(rv[0], rv[1]));
        const Tensor g = randn(y[0].sizes()).to(dtype);
        y[0].backward(g);
        y[1].backward(g);
        CHECK(same(x[0].grad(), x[1].grad()));
        CHECK(same(w[0].grad(), w[1].grad()));
        CHECK(same(b[0].grad(), b[1].grad()));
      }
    }
}

// The 16-bit forward, element by element as docs/numerics.md defines it: statistics from double
// sums in order, then y = round((float(x) - float(mean)) * float(invstd * w) + float(b)), over
// planes of 323 values (the CPU kernel converts 256 at a time).
template <typename T>
void check_16bit_forward_bits(DType dtype) {
  manual_seed(21);
  const Tensor x = (randn({3, 2, 17, 19}) * 3.0 + 1.0).to(dtype);
  const Tensor w = rand({2}) + 0.5, b = randn({2});
  const Tensor y = batch_norm(x, Tensor(), Tensor(), w, b, true);
  const int64_t inner = 17 * 19, count = 3 * inner;
  const T* px = x.data<T>();
  const T* py = y.data<T>();
  for (int64_t c = 0; c < 2; ++c) {
    double sum = 0, sq = 0;
    for (int64_t n = 0; n < 3; ++n)
      for (int64_t i = 0; i < inner; ++i) sum += static_cast<float>(px[(n * 2 + c) * inner + i]);
    const double mean = sum / static_cast<double>(count);
    for (int64_t n = 0; n < 3; ++n)
      for (int64_t i = 0; i < inner; ++i) {
        const double d = static_cast<float>(px[(n * 2 + c) * inner + i]) - mean;
        sq += d * d;
      }
    const double invstd = 1.0 / std::sqrt(sq / static_cast<double>(count) + 1e-5);
    const float mean_f = static_cast<float>(static_cast<float>(mean));
    const float scale =
        static_cast<float>(static_cast<float>(invstd) * static_cast<double>(w.data<float>()[c]));
    const float shift = b.data<float>()[c];
    for (int64_t n = 0; n < 3; ++n)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t k = (n * 2 + c) * inner + i;
        const T want((static_cast<float>(px[k]) - mean_f) * scale + shift);
        CHECK_MESSAGE(py[k].bits == want.bits, "channel " << c << " element " << k);
      }
  }
}

TEST_CASE("batch_norm: fp16 and bf16 outputs have the bits of the per-element formula") {
  check_16bit_forward_bits<Half>(kFloat16);
  check_16bit_forward_bits<BFloat16>(kBFloat16);
}

// The fused backward recomputes relu's mask from x, the statistics, weight and bias instead of
// keeping the output: without weight and bias too, and a bias changed in place before the
// backward is an error, as for any saved tensor.
TEST_CASE("batch_norm_relu: the mask from x without affine parameters, a changed bias refused") {
  for (DType dtype : {kFloat32, kBFloat16}) {
    CAPTURE(dtype_name(dtype));
    manual_seed(14);
    const Tensor x0 = randn({3, 2, 4, 4}).to(dtype);
    Tensor x[2] = {x0.clone().requires_grad_(), x0.clone().requires_grad_()};
    const Tensor y0 = batch_norm_relu(x[0], Tensor(), Tensor(), Tensor(), Tensor(), true);
    const Tensor y1 = relu(batch_norm(x[1], Tensor(), Tensor(), Tensor(), Tensor(), true));
    CHECK(values(y0) == values(y1));
    const Tensor g = randn(y0.sizes()).to(dtype);
    y0.backward(g);
    y1.backward(g);
    CHECK(values(x[0].grad()) == values(x[1].grad()));
  }
  Tensor w = ones({2}).requires_grad_(), b = zeros({2}).requires_grad_();
  const Tensor y =
      batch_norm_relu(randn({3, 2, 4}).requires_grad_(), Tensor(), Tensor(), w, b, true);
  {
    NoGradGuard no_grad;
    b.add_(ones({2}));
  }
  hg::test::expect_error([&] { y.sum().backward(); }, {"modified"});
}

TEST_CASE("batch_norm: eval mode uses the running statistics") {
  Tensor x = from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2}, kFloat64);
  Tensor rm = from_vector(std::vector<double>{1, 2}, kFloat64);
  Tensor rv = from_vector(std::vector<double>{4, 1}, kFloat64);
  Tensor w = from_vector(std::vector<double>{2, 1}, kFloat64),
         b = from_vector(std::vector<double>{0, 1}, kFloat64);
  Tensor y = batch_norm(x, rm, rv, w, b, false, 0.1, 0.0);
  expect_close(values(y), {0, 1, 2, 3}, 1e-12);
  CHECK(values(rm) == std::vector<double>{1, 2});  // untouched in eval
}

TEST_CASE("batch_norm: gradcheck in training and eval mode, with and without affine") {
  manual_seed(11);
  Tensor x = randn({3, 2, 2, 3}, kFloat64).requires_grad_();
  Tensor w = (rand({2}, kFloat64) + 0.5).requires_grad_();
  Tensor b = randn({2}, kFloat64).requires_grad_();
  for (bool training : {true, false}) {
    CAPTURE(training);
    Tensor rm = zeros({2}, kFloat64), rv = ones({2}, kFloat64) * 1.5;
    auto r = gradcheck(
        [&](const std::vector<Tensor>& in) {
          return batch_norm(in[0], rm.clone(), rv.clone(), in[1], in[2], training);
        },
        {x, w, b});
    CHECK_MESSAGE(r.ok, r.message);
  }
  auto r = gradcheck(
      [](const std::vector<Tensor>& in) {
        return batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true);
      },
      {x});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("batch_norm: fp16 activations with fp32 parameters, as under O2") {
  manual_seed(12);
  Tensor x64 = randn({8, 4, 3, 3}, kFloat64);
  Tensor x16 = x64.to(kFloat16).requires_grad_();
  Tensor w = ones({4}).requires_grad_(), b = zeros({4}).requires_grad_();
  Tensor y = batch_norm(x16, zeros({4}), ones({4}), w, b, true);
  CHECK(y.dtype() == kFloat16);
  Tensor ref = batch_norm(x16.detach().to(kFloat64), Tensor(), Tensor(), Tensor(), Tensor(), true);
  expect_close(values(y), values(ref), 5e-3, 5e-3);
  (y.to(kFloat32) * 3.0).sum().backward();
  CHECK(w.grad().dtype() == kFloat32);
  CHECK(x16.grad().dtype() == kFloat16);
}

TEST_CASE("batch_norm: bad input") {
  expect_error([] { (void)batch_norm(zeros({4}), Tensor(), Tensor(), Tensor(), Tensor(), true); },
               {"batch_norm", "[N, C, *]", "[4] float32"});
  expect_error(
      [] {
        (void)batch_norm(zeros({2, 3}), zeros({4}), ones({4}), Tensor(), Tensor(), true);
      },
      {"batch_norm", "running_mean", "[4] float32", "3 channels"});
  expect_error(
      [] {
        (void)batch_norm(zeros({2, 3}, kFloat16), Tensor(), Tensor(), ones({3}, kFloat16), Tensor(),
                         true);
      },
      {"batch_norm", "weight", "float16", "must be float32"});
  expect_error(
      [] {
        (void)batch_norm(zeros({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true);
      },
      {"batch_norm", "more than 1 value per channel"});
}

TEST_CASE("layer_norm: forward, gradcheck and bad input") {
  manual_seed(13);
  Tensor x = randn({2, 3, 4}, kFloat64).requires_grad_();
  Tensor w = randn({3, 4}, kFloat64).requires_grad_(), b = randn({3, 4}, kFloat64).requires_grad_();
  Tensor y = layer_norm(x, {4});
  const auto yv = values(y);
  for (int r = 0; r < 6; ++r) {
    double m = 0, v = 0;
    for (int i = 0; i < 4; ++i) m += yv[r * 4 + i] / 4;
    for (int i = 0; i < 4; ++i) v += std::pow(yv[r * 4 + i] - m, 2) / 4;
    CHECK(std::abs(m) < 1e-12);
    CHECK(v == doctest::Approx(1.0).epsilon(1e-4));
  }
  auto r = gradcheck(
      [](const std::vector<Tensor>& in) {
        return layer_norm(in[0], {3, 4}, in[1], in[2]);
      },
      {x, w, b});
  CHECK_MESSAGE(r.ok, r.message);
  auto r2 = gradcheck(
      [](const std::vector<Tensor>& in) {
        return layer_norm(in[0].transpose(0, 1), {2, 4});
      },
      {x});
  CHECK_MESSAGE(r2.ok, r2.message);
  expect_error([&] { (void)layer_norm(x, {3}); }, {"layer_norm", "[3]", "[2, 3, 4] float64"});
  expect_error([&] { (void)layer_norm(x, {4}, ones({4})); },
               {"layer_norm", "[4] float32", "float64"});
}
