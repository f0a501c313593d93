// scaled_dot_product_attention (autograd/attention_ops.cpp): the formula, masks (bool keeps,
// floating adds, causal), broadcasting batch dims, gradcheck, autocast, dropout, errors.
#include <cmath>
#include <limits>
#include <vector>

#include "grad_util.h"

using namespace hg;
using hg::test::check_grad;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::values;

namespace {

// softmax(q k^T / sqrt(E) + mask) v written out with the basic ops.
Tensor attention_by_hand(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask) {
  Tensor scores = matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(q.size(-1)));
  if (mask.defined()) scores = scores + mask;
  return matmul(softmax(scores, -1), v);
}

}  // namespace

TEST_CASE("scaled_dot_product_attention: the formula, with each kind of mask") {
  manual_seed(45);
  const Tensor q = randn({2, 3, 4, 5}, kFloat64), k = randn({2, 3, 6, 5}, kFloat64);
  const Tensor v = randn({2, 3, 6, 7}, kFloat64);
  const Tensor y = scaled_dot_product_attention(q, k, v);
  REQUIRE(y.sizes() == Shape{2, 3, 4, 7});
  expect_close(values(y), values(attention_by_hand(q, k, v, Tensor())), 1e-14, 1e-14);
  // a floating mask is added; a bool mask keeps where true; causal = the lower triangle
  const Tensor additive = randn({4, 6}, kFloat64);
  expect_close(values(scaled_dot_product_attention(q, k, v, additive)),
               values(attention_by_hand(q, k, v, additive)), 1e-14, 1e-14);
  const double inf = std::numeric_limits<double>::infinity();
  const Tensor keep = tril(ones({4, 6}, kBool));
  const Tensor as_float = where(keep, zeros({4, 6}, kFloat64), full({4, 6}, -inf, kFloat64));
  const Tensor causal = scaled_dot_product_attention(q, k, v, Tensor(), 0.0, true);
  expect_close(values(scaled_dot_product_attention(q, k, v, keep)), values(causal), 0, 0);
  expect_close(values(causal), values(attention_by_hand(q, k, v, as_float)), 1e-14, 1e-14);
  // the first query sees only the first key: its output is that key's value
  expect_close(values(causal.narrow(2, 0, 1)), values(v.narrow(2, 0, 1)), 1e-15, 0);
  // an explicit scale; batch dims broadcast (one key/value set for every head)
  expect_close(values(scaled_dot_product_attention(q, k, v, Tensor(), 0.0, false, 0.5)),
               values(attention_by_hand(q * std::sqrt(5.0) * 0.5, k, v, Tensor())), 1e-14, 1e-14);
  const Tensor shared_k = k.narrow(1, 0, 1), shared_v = v.narrow(1, 0, 1);
  expect_close(values(scaled_dot_product_attention(q, shared_k, shared_v)),
               values(scaled_dot_product_attention(q, shared_k.expand({2, 3, 6, 5}),
                                                   shared_v.expand({2, 3, 6, 7}))),
               1e-15, 1e-15);
  // the weights: rows of a softmax, zero where masked
  const AttentionOutput both = scaled_dot_product_attention_with_weights(q, k, v, keep);
  CHECK(both.weights.sizes() == Shape{2, 3, 4, 6});
  expect_close(values(both.weights.sum({-1})), std::vector<double>(24, 1.0), 1e-15, 0);
  CHECK(both.weights.select(2, 0).narrow(-1, 1, 5).abs().max().item<double>() == 0.0);
}

TEST_CASE("scaled_dot_product_attention: gradcheck, 16-bit, autocast, dropout") {
  manual_seed(46);
  const Tensor mask = randn({3, 4}, kFloat64);
  check_grad(
      [&](const std::vector<Tensor>& in) {
        return scaled_dot_product_attention(in[0], in[1], in[2], mask);
      },
      {hg::test::leaf({2, 3, 5}), hg::test::leaf({2, 4, 5}), hg::test::leaf({2, 4, 2})});
  check_grad(
      [](const std::vector<Tensor>& in) {
        return scaled_dot_product_attention(in[0], in[1], in[2], Tensor(), 0.0, true);
      },
      {hg::test::leaf({4, 3}), hg::test::leaf({4, 3}), hg::test::leaf({4, 2})});
  const auto fn = [](const std::vector<Tensor>& in) {
    return scaled_dot_product_attention(in[0], in[1], in[2]);
  };
  const std::vector<Tensor> inputs{randn({2, 4, 8}, kFloat64), randn({2, 6, 8}, kFloat64),
                                   randn({2, 6, 8}, kFloat64)};
  hg::test::check_lowp(fn, inputs, kFloat16, 4e-3, "attention fp16");
  hg::test::check_lowp(fn, inputs, kBFloat16, 3e-2, "attention bf16");
  {
    amp::AutocastGuard autocast(kFloat16);  // products in fp16, the softmax in fp32
    const AttentionOutput out = scaled_dot_product_attention_with_weights(
        randn({2, 4, 8}), randn({2, 6, 8}), randn({2, 6, 8}));
    CHECK(out.output.dtype() == kFloat16);
    CHECK(out.weights.dtype() == kFloat32);
  }
  // dropout: some weights zeroed, the rest scaled; reproducible from the seed
  const Tensor q = randn({1, 8, 4}), k = randn({1, 8, 4}), v = randn({1, 8, 4});
  manual_seed(7);
  const AttentionOutput dropped = scaled_dot_product_attention_with_weights(q, k, v, Tensor(), 0.5);
  const AttentionOutput plain = scaled_dot_product_attention_with_weights(q, k, v);
  const Tensor zeroed = eq(dropped.weights, zeros_like(dropped.weights));
  CHECK(zeroed.to(kFloat32).sum().item<double>() > 0.0);
  expect_close(values(where(zeroed, zeros_like(plain.weights), plain.weights * 2.0)),
               values(dropped.weights), 1e-6, 1e-6);
  manual_seed(7);
  CHECK(hg::test::same_bits(scaled_dot_product_attention(q, k, v, Tensor(), 0.5), dropped.output));
}

TEST_CASE("scaled_dot_product_attention: errors name the operands") {
  const Tensor q = zeros({2, 3, 4});
  expect_error(
      [&] {
        scaled_dot_product_attention(q, zeros({2, 5, 3}), zeros({2, 5, 4}));
      },
      {"scaled_dot_product_attention", "query [2, 3, 4]", "key [2, 5, 3]"});
  expect_error(
      [&] {
        scaled_dot_product_attention(q, zeros({2, 5, 4}), zeros({2, 6, 4}));
      },
      {"scaled_dot_product_attention", "value [2, 6, 4]"});
  expect_error([&] { scaled_dot_product_attention(zeros({4}), zeros({4}), zeros({4})); },
               {"scaled_dot_product_attention", "[*, L, E]"});
  expect_error(
      [&] {
        scaled_dot_product_attention(q, q, q, zeros({3, 3}), 0.0, /*is_causal=*/true);
      },
      {"scaled_dot_product_attention", "not both"});
  expect_error(
      [&] {
        scaled_dot_product_attention(q, q, q, zeros({3, 3}, kInt64));
      },
      {"scaled_dot_product_attention", "attn_mask", "int64"});
  expect_error([&] { scaled_dot_product_attention(q, q, q, Tensor(), 1.0); },
               {"scaled_dot_product_attention", "dropout_p", "1"});
  expect_error(
      [&] {
        scaled_dot_product_attention(zeros({2, 3}, kInt64), q, q);
      },
      {"scaled_dot_product_attention", "int64"});
}
