// nn::MultiheadAttention: PyTorch 1.13's outputs, weights and gradients with both masks,
// gradcheck, layouts (batch_first, unbatched), initialisation, dropout, printing, errors.
#include <cmath>
#include <vector>

#include "autograd/grad_util.h"

using namespace hg;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::reference_upstream;
using hg::test::reference_values;
using hg::test::values;

namespace {

// The module of the PyTorch reference script: E = 4, two heads, float64, set weights.
std::shared_ptr<nn::MultiheadAttention> reference_attention() {
  auto m = std::make_shared<nn::MultiheadAttention>(4, 2);
  m->to(kFloat64);
  NoGradGuard no_grad;
  m->in_proj_weight.copy_(reference_values({12, 4}, 7, 11, 5, 8.0));
  m->in_proj_bias.copy_(reference_values({12}, 3, 7, 3, 10.0));
  m->out_proj->weight.copy_(reference_values({4, 4}, 5, 9, 4, 6.0));
  m->out_proj->bias.copy_(reference_values({4}, 1, 4, 2, 10.0));
  return m;
}

}  // namespace

TEST_CASE("MultiheadAttention: PyTorch's output, weights and gradients") {
  // torch 1.13: nn.MultiheadAttention(4, 2) with the weights above, query [3, 2, 4], key and
  // value [2, 2, 4], key_padding_mask [[F, F], [F, T]], a float attn_mask [3, 2]
  auto m = reference_attention();
  Tensor q = reference_values({3, 2, 4}, 3, 13, 6, 4.0).requires_grad_();
  const Tensor k = reference_values({2, 2, 4}, 5, 11, 5, 4.0);
  const Tensor v = reference_values({2, 2, 4}, 7, 9, 4, 3.0);
  const Tensor padding = from_vector<bool>({false, false, false, true}, {2, 2});
  const auto [out, weights] =
      m->forward(q, k, v, padding, true, reference_values({3, 2}, 1, 3, 1, 2.0));
  REQUIRE(out.sizes() == Shape{3, 2, 4});
  REQUIRE(weights.sizes() == Shape{2, 3, 2});
  (out * reference_upstream(out.sizes())).sum().backward();
  // clang-format off
  expect_close(values(out),
               {-0.5509420301291461, -0.20524028294172147, 0.15094619370607898, 0.4966479408935037,
                0.6819444444444445, 0.623611111111111, -0.3097222222222222, -0.36805555555555547,
                -0.36313443331433976, -0.08509969724951005, 0.0868660976354747, 0.36490083370030435,
                0.6819444444444445, 0.623611111111111, -0.3097222222222222, -0.36805555555555547,
                -0.30527116636058554, -0.0374523137760811, 0.044857152214895724, 0.31267600479940016,
                0.6819444444444445, 0.623611111111111, -0.3097222222222222, -0.36805555555555547},
               1e-13, 1e-13);
  expect_close(values(weights),
               {0.4574879115018835, 0.5425120884981165, 0.5614754313592192, 0.43852456864078093,
                0.5929228014403018, 0.40707719855969815, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0},
               1e-14, 1e-14);
  expect_close(values(q.grad()),
               {0.040571850906724126, -0.047422691376862, 0.05797281222813975, -0.05720355139492029,
                0.0, 0.0, 0.0, 0.0,
                -0.05246382447539566, 0.04795309726828348, -0.06167277839861736, -0.024115214982525682,
                0.0, 0.0, 0.0, 0.0,
                0.24641257473607148, -0.21598075117787524, 0.28047288139849286, 0.18109601369125122,
                0.0, 0.0, 0.0, 0.0},
               1e-14, 1e-14);
  expect_close(values(m->in_proj_bias.grad()),
               {-0.0877521812121621, 0.15461098594523798, -0.19852747530155906, 0.24434150806345734,
                0.0, 0.0, 0.0, 0.0, 0.0, -0.41666666666666696, -0.08333333333333337,
                -0.4999999999999999},
               1e-14, 1e-14);
  // clang-format on
}

TEST_CASE("MultiheadAttention: gradcheck through the inputs and the weights") {
  manual_seed(47);
  auto m = reference_attention();
  const Tensor padding = from_vector<bool>({false, true, false, false}, {2, 2});
  const Tensor causal = triu(ones({2, 2}, kBool), 1);  // true = not allowed (the module's rule)
  const Tensor in_proj = m->in_proj_weight, out_proj = m->out_proj->weight;
  // the weights as gradcheck's leaves: the members point at them for the call
  hg::test::check_grad(
      [&](const std::vector<Tensor>& in) {
        m->in_proj_weight = in[3];
        m->out_proj->weight = in[4];
        return std::get<0>(m->forward(in[0], in[1], in[2], padding, true, causal));
      },
      {hg::test::leaf({2, 2, 4}), hg::test::leaf({2, 2, 4}), hg::test::leaf({2, 2, 4}),
       in_proj.detach().clone().requires_grad_(), out_proj.detach().clone().requires_grad_()});
  m->in_proj_weight = in_proj;
  m->out_proj->weight = out_proj;
  // self-attention, unbatched: every parameter gets a gradient
  const Tensor x = randn({3, 4}, kFloat64);
  auto [out, weights] = m->forward(x, x, x);
  CHECK(out.sizes() == Shape{3, 4});
  CHECK(weights.sizes() == Shape{3, 3});
  out.sum().backward();
  for (const Tensor& p : m->parameters()) CHECK(p.grad().defined());
}

TEST_CASE("MultiheadAttention: layouts, per-head weights, masks, dropout") {
  manual_seed(48);
  auto m = reference_attention();
  const Tensor q = randn({5, 3, 4}, kFloat64), kv = randn({6, 3, 4}, kFloat64);
  const auto [out, weights] = m->forward(q, kv, kv);
  // batch_first: the same module on [N, L, E] gives the transposed result
  nn::MultiheadAttention first(nn::MultiheadAttentionOptions(4, 2).batch_first(true));
  first.to(kFloat64);
  first.load_state_dict(m->state_dict());
  const auto [out_bf, weights_bf] =
      first.forward(q.transpose(0, 1), kv.transpose(0, 1), kv.transpose(0, 1));
  expect_close(values(out_bf), values(out.transpose(0, 1)), 1e-15, 1e-15);
  expect_close(values(weights_bf), values(weights), 1e-15, 1e-15);
  // self-attention (one tensor: the packed projection) = the same values as three tensors
  expect_close(values(std::get<0>(m->forward(q, q, q))),
               values(std::get<0>(m->forward(q, q.clone(), q.clone()))), 1e-15, 1e-15);
  // unbatched = a batch of one
  const auto [out1, weights1] = m->forward(q.select(1, 0), kv.select(1, 0), kv.select(1, 0));
  expect_close(values(out1), values(out.select(1, 0)), 1e-15, 1e-15);
  // per-head weights average to the default ones; no weights when not asked for
  const auto [out_h, per_head] = m->forward(q, kv, kv, Tensor(), true, Tensor(), false);
  CHECK(per_head.sizes() == Shape{3, 2, 5, 6});
  expect_close(values(per_head.mean({1})), values(weights), 1e-15, 1e-15);
  CHECK(!std::get<1>(m->forward(q, kv, kv, Tensor(), false)).defined());
  // a bool mask = the additive mask with -inf where true; [N * H, L, S] masks per head
  const Tensor banned = triu(ones({5, 6}, kBool), 1);  // no row all banned
  const Tensor minus_inf =
      where(banned, full({5, 6}, -INFINITY, kFloat64), zeros({5, 6}, kFloat64));
  expect_close(values(std::get<0>(m->forward(q, kv, kv, Tensor(), true, banned))),
               values(std::get<0>(m->forward(q, kv, kv, Tensor(), true, minus_inf))), 0, 0);
  const Tensor per_head_mask = randn({6, 5, 6}, kFloat64);
  const auto [o3, w3] = m->forward(q, kv, kv, Tensor(), true, per_head_mask, false);
  CHECK(w3.sizes() == Shape{3, 2, 5, 6});
  // dropout acts in training only
  nn::MultiheadAttention dropping(nn::MultiheadAttentionOptions(4, 2).dropout(0.5));
  const Tensor x = randn({4, 2, 4});
  const Tensor trained = std::get<1>(dropping.forward(x, x, x, Tensor(), true, Tensor(), false));
  CHECK(eq(trained, zeros_like(trained)).to(kFloat32).sum().item<double>() > 0.0);
  dropping.eval();
  const Tensor evaluated = std::get<1>(dropping.forward(x, x, x, Tensor(), true, Tensor(), false));
  CHECK(eq(evaluated, zeros_like(evaluated)).to(kFloat32).sum().item<double>() == 0.0);
}

TEST_CASE("MultiheadAttention: parameters, initialisation, printing, errors") {
  manual_seed(49);
  nn::MultiheadAttention m(8, 2);
  const auto named = m.named_parameters();
  CHECK(named.size() == 4);
  CHECK(m.in_proj_weight.sizes() == Shape{24, 8});
  CHECK(values(m.in_proj_bias) == std::vector<double>(24, 0.0));
  CHECK(values(m.out_proj->bias) == std::vector<double>(8, 0.0));
  const double xavier = std::sqrt(6.0 / (24 + 8));  // xavier_uniform over [3E, E]
  CHECK(m.in_proj_weight.abs().max().item<double>() <= xavier);
  CHECK(m.describe() == "MultiheadAttention(embed_dim=8, num_heads=2)");
  CHECK(nn::MultiheadAttention(
            nn::MultiheadAttentionOptions(4, 4).dropout(0.1).bias(false).batch_first(true))
            .describe() ==
        "MultiheadAttention(embed_dim=4, num_heads=4, dropout=0.1, bias=false, batch_first=true)");
  CHECK(
      nn::MultiheadAttention(nn::MultiheadAttentionOptions(4, 1).bias(false)).parameters().size() ==
      2);
  expect_error([] { nn::MultiheadAttention(6, 4); },
               {"MultiheadAttention", "embed_dim 6", "num_heads 4"});
  expect_error([] { nn::MultiheadAttention(nn::MultiheadAttentionOptions(4, 2).dropout(1.0)); },
               {"MultiheadAttention", "dropout"});
  const Tensor x = zeros({3, 2, 8});
  expect_error(
      [&] {
        m.forward(x, zeros({3, 2, 6}), zeros({3, 2, 6}));
      },
      {"MultiheadAttention(8, 2)", "key [3, 2, 6]"});
  expect_error(
      [&] {
        m.forward(x, x, x, zeros({3, 3}, kBool));
      },
      {"key_padding_mask", "[3, 3]", "[2, 3]"});
  expect_error(
      [&] {
        m.forward(x, x, x, Tensor(), true, zeros({2, 3}, kBool));
      },
      {"attn_mask", "[2, 3]", "[3, 3]", "[4, 3, 3]"});
}
