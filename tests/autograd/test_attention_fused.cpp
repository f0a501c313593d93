// The fused attention kernel (kernels/attention_kernels.h) behind scaled_dot_product_attention:
// it gives the composite's values and gradients (scaled_dot_product_attention_with_weights is
// always the composite) for every kind of mask and broadcast, is more accurate in 16 bits, has
// the same bits on 1 and 2 threads, and steps aside where the composite is needed.
#include <cmath>
#include <limits>
#include <vector>

#include "grad_util.h"

using namespace hg;
using hg::test::expect_close;
using hg::test::values;

namespace {

struct Inputs {
  Tensor q, k, v;
};

Inputs leaves(const Shape& q, const Shape& k, const Shape& v, DType dtype) {
  return {randn(q, dtype).requires_grad_(), randn(k, dtype).requires_grad_(),
          randn(v, dtype).requires_grad_()};
}

struct Result {
  std::vector<double> out, grad_q, grad_k, grad_v;
};

// Output and input gradients for a fixed seed gradient, fused or composite.
Result run(const Inputs& in, const Tensor& mask, bool causal, bool fused, uint64_t seed = 5) {
  for (const Tensor* t : {&in.q, &in.k, &in.v}) t->set_grad(Tensor());
  const Tensor out =
      fused ? scaled_dot_product_attention(in.q, in.k, in.v, mask, 0.0, causal)
            : scaled_dot_product_attention_with_weights(in.q, in.k, in.v, mask, 0.0, causal).output;
  manual_seed(seed);
  out.backward(randn(out.sizes(), out.dtype()));
  return {values(out), values(in.q.grad()), values(in.k.grad()), values(in.v.grad())};
}

void expect_same_results(const Result& a, const Result& b, double tol) {
  expect_close(a.out, b.out, tol, tol);
  expect_close(a.grad_q, b.grad_q, tol, tol);
  expect_close(a.grad_k, b.grad_k, tol, tol);
  expect_close(a.grad_v, b.grad_v, tol, tol);
}

bool recorded_fused(const Tensor& out) {
  return hg::test::made_by_node(out, "ScaledDotProductAttentionBackward");
}

}  // namespace

TEST_CASE("fused attention: the composite's values and gradients, every mask and broadcast") {
  manual_seed(61);
  const double inf = std::numeric_limits<double>::infinity();
  const Inputs heads = leaves({2, 3, 5, 8}, {2, 3, 7, 8}, {2, 3, 7, 4}, kFloat64);
  const Tensor keep = gt(randn({5, 7}, kFloat64), full({}, -0.8, kFloat64));
  const Tensor padding = where(gt(randn({2, 1, 1, 7}, kFloat64), full({}, 0.9, kFloat64)),
                               full({}, -inf, kFloat64), zeros({}, kFloat64));
  for (const Tensor& mask : {Tensor(), randn({5, 7}, kFloat64), keep, padding})
    expect_same_results(run(heads, mask, false, true), run(heads, mask, false, false), 1e-12);
  expect_same_results(run(heads, Tensor(), true, true), run(heads, Tensor(), true, false), 1e-12);
  // one key/value set shared by the heads (batch dims broadcast), and no batch dims at all
  const Inputs shared = leaves({2, 3, 5, 8}, {2, 1, 7, 8}, {1, 7, 4}, kFloat64);
  expect_same_results(run(shared, keep, false, true), run(shared, keep, false, false), 1e-12);
  const Inputs plain = leaves({6, 3}, {4, 3}, {4, 5}, kFloat64);
  expect_same_results(run(plain, Tensor(), true, true), run(plain, Tensor(), true, false), 1e-12);
  // a float32 problem: the same to float rounding
  const Inputs single = leaves({4, 9, 16}, {4, 11, 16}, {4, 11, 16}, kFloat32);
  expect_same_results(run(single, Tensor(), false, true), run(single, Tensor(), false, false),
                      2e-5);
}

TEST_CASE("fused attention: gradcheck with a mask, causal and broadcast batch dims") {
  manual_seed(62);
  const Tensor mask = randn({2, 1, 3, 4}, kFloat64);
  hg::test::check_grad(
      [&](const std::vector<Tensor>& in) {
        return scaled_dot_product_attention(in[0], in[1], in[2], mask);
      },
      {hg::test::leaf({2, 2, 3, 5}), hg::test::leaf({1, 2, 4, 5}), hg::test::leaf({2, 2, 4, 3})});
  hg::test::check_grad(
      [](const std::vector<Tensor>& in) {
        return scaled_dot_product_attention(in[0], in[1], in[2], Tensor(), 0.0, true, 0.7);
      },
      {hg::test::leaf({5, 3}), hg::test::leaf({4, 3}), hg::test::leaf({4, 2})});
}

TEST_CASE("fused attention: 16-bit scores and weights stay float, closer to fp64") {
  manual_seed(63);
  const Inputs wide = leaves({4, 12, 32}, {4, 20, 32}, {4, 20, 32}, kFloat64);
  for (const DType dtype : {kBFloat16, kFloat16}) {
    const Inputs low{wide.q.detach().to(dtype).requires_grad_(),
                     wide.k.detach().to(dtype).requires_grad_(),
                     wide.v.detach().to(dtype).requires_grad_()};
    const Inputs rounded{low.q.detach().to(kFloat64).requires_grad_(),
                         low.k.detach().to(kFloat64).requires_grad_(),
                         low.v.detach().to(kFloat64).requires_grad_()};
    const Result reference = run(rounded, Tensor(), false, true);  // fp64 on the rounded inputs
    const auto error = [&](const std::vector<double>& got) {
      double worst = 0.0;
      for (size_t i = 0; i < got.size(); ++i)
        worst = std::max(worst, std::abs(got[i] - reference.out[i]));
      return worst;
    };
    const double fused = error(run(low, Tensor(), false, true).out);
    const double composite = error(run(low, Tensor(), false, false).out);
    CAPTURE(dtype_name(dtype));
    CHECK(fused < composite);  // the composite rounds scores and weights to 16 bits
    CHECK(fused < (dtype == kBFloat16 ? 8e-3 : 1e-3));  // about the output's own rounding
    CHECK(low.q.grad().dtype() == dtype);
  }
}

TEST_CASE("fused attention: the same bits on 1 and 2 threads") {
  manual_seed(64);
  const Inputs in = leaves({64, 4, 9, 16}, {64, 4, 9, 16}, {64, 4, 9, 16}, kFloat32);
  const Tensor mask = randn({64, 1, 1, 9});
  const int before = get_num_threads();
  set_num_threads(1);
  const Result one = run(in, mask, false, true);
  set_num_threads(2);
  const Result two = run(in, mask, false, true);
  set_num_threads(before);
  CHECK(one.out == two.out);
  CHECK(one.grad_q == two.grad_q);
  CHECK(one.grad_k == two.grad_k);
  CHECK(one.grad_v == two.grad_v);
}

TEST_CASE("fused attention: under autocast, and where the composite runs instead") {
  manual_seed(65);
  const Tensor q = randn({2, 4, 8}).requires_grad_(), k = randn({2, 6, 8}).requires_grad_();
  const Tensor v = randn({2, 6, 8}).requires_grad_();
  {
    amp::AutocastGuard autocast(kBFloat16);
    const Tensor out = scaled_dot_product_attention(q, k, v);
    CHECK(out.dtype() == kBFloat16);
    CHECK(recorded_fused(out));
    out.to(kFloat32).sum().backward();
  }
  CHECK(q.grad().dtype() == kFloat32);  // through the autocast casts to the fp32 leaves
  CHECK(v.grad().abs().sum().item<double>() > 0.0);
  CHECK(recorded_fused(scaled_dot_product_attention(q, k, v)));
  // dropout, asking for the weights, or a mask that wants a gradient: the composite
  CHECK(!recorded_fused(scaled_dot_product_attention(q, k, v, Tensor(), 0.3)));
  CHECK(!recorded_fused(scaled_dot_product_attention_with_weights(q, k, v).output));
  const Tensor mask = zeros({4, 6}).requires_grad_();
  scaled_dot_product_attention(q, k, v, mask).sum().backward();
  CHECK(mask.grad().defined());
  // a mask that does not fit the scores names itself and the scores' shape, on either path
  for (const double p : {0.0, 0.5})
    hg::test::expect_error(
        [&] {
          (void)scaled_dot_product_attention(q, k, v, zeros({4, 5}), p);
        },
        {"scaled_dot_product_attention", "attn_mask [4, 5]", "[2, 4, 6]"});
  // a row with every key masked is NaN, as the composite's softmax makes it
  const Tensor none = zeros({4, 6}, kBool);
  CHECK(std::isnan(scaled_dot_product_attention(q, k, v, none).sum().item<double>()));
}
