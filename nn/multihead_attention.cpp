#include "halfgrad/nn/multihead_attention.h"

#include <limits>
#include <sstream>

#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/nn/init.h"

namespace hg::nn {

MultiheadAttention::MultiheadAttention(const MultiheadAttentionOptions& opts)
    : Module("MultiheadAttention"), options(opts) {
  HG_CHECK(opts.embed_dim > 0 && opts.num_heads > 0 && opts.embed_dim % opts.num_heads == 0,
           "MultiheadAttention: embed_dim ", opts.embed_dim, " must be divisible by num_heads ",
           opts.num_heads, " (both > 0)");
  HG_CHECK(opts.dropout_ >= 0.0 && opts.dropout_ < 1.0,
           "MultiheadAttention: dropout must be in [0, 1), got ", opts.dropout_);
  const int64_t e = opts.embed_dim;
  in_proj_weight = register_parameter("in_proj_weight", empty({3 * e, e}));
  if (opts.bias_) in_proj_bias = register_parameter("in_proj_bias", empty({3 * e}));
  out_proj =
      register_module("out_proj", std::make_shared<Linear>(LinearOptions(e, e).bias(opts.bias_)));
  reset_parameters();
}

void MultiheadAttention::reset_parameters() {
  init::xavier_uniform_(in_proj_weight);
  if (in_proj_bias.defined()) init::constant_(in_proj_bias, 0.0);
  out_proj->reset_parameters();
  if (out_proj->bias.defined()) init::constant_(out_proj->bias, 0.0);
}

namespace {

// A mask in the module's convention (bool true = masked out, floating = added) as an additive
// mask of `like`'s dtype: 0 where allowed, -inf where masked.
Tensor additive(const Tensor& mask, const Tensor& like) {
  if (mask.dtype() != kBool) {
    HG_CHECK(mask.is_floating_point(), "MultiheadAttention: a mask must be bool or floating, got ",
             describe(mask));
    return mask.to(like.dtype());
  }
  const double inf = std::numeric_limits<double>::infinity();
  return where(mask, wrap_scalar(-inf, like), wrap_scalar(0.0, like));
}

// Both masks as one additive mask broadcasting to [N, H, L, S] (undefined when neither is given).
Tensor combined_mask(const Tensor& key_padding_mask, const Tensor& attn_mask, const Tensor& q,
                     int64_t batch, int64_t heads, int64_t length, int64_t keys) {
  Tensor mask;
  if (attn_mask.defined()) {
    const bool per_head = attn_mask.dim() == 3;
    HG_CHECK((attn_mask.dim() == 2 && attn_mask.sizes() == Shape{length, keys}) ||
                 (per_head && attn_mask.sizes() == Shape{batch * heads, length, keys}),
             "MultiheadAttention: attn_mask ", describe(attn_mask), " must be [", length, ", ",
             keys, "] or [", batch * heads, ", ", length, ", ", keys, "]");
    mask = additive(attn_mask, q);
    if (per_head) mask = mask.reshape({batch, heads, length, keys});
  }
  if (key_padding_mask.defined()) {
    HG_CHECK((key_padding_mask.sizes() == Shape{batch, keys}),
             "MultiheadAttention: key_padding_mask ", describe(key_padding_mask), " must be [",
             batch, ", ", keys, "]");
    const Tensor padding = additive(key_padding_mask, q).reshape({batch, 1, 1, keys});
    mask = mask.defined() ? mask + padding : padding;
  }
  return mask;
}

}  // namespace

// [N, T, E] -> [N, H, T, hd] for each input. Self-attention (one tensor for all three) takes the
// three in one product with the packed weight [3E, E], as torch does: one GEMM instead of three.
std::array<Tensor, 3> MultiheadAttention::project_heads(const Tensor& q, const Tensor& k,
                                                        const Tensor& v, bool self_attention,
                                                        int64_t heads) const {
  const int64_t e = options.embed_dim;
  const auto split_heads = [&](const Tensor& x) {
    return x.reshape({x.size(0), x.size(1), heads, e / heads}).transpose(1, 2);
  };
  if (self_attention) {
    const std::vector<Tensor> parts = chunk(linear(q, in_proj_weight, in_proj_bias), 3, -1);
    return {split_heads(parts[0]), split_heads(parts[1]), split_heads(parts[2])};
  }
  const auto project = [&](const Tensor& x, int64_t part) {
    const Tensor w = in_proj_weight.narrow(0, part * e, e);
    const Tensor b = in_proj_bias.defined() ? in_proj_bias.narrow(0, part * e, e) : Tensor();
    return split_heads(linear(x, w, b));
  };
  return {project(q, 0), project(k, 1), project(v, 2)};
}

std::tuple<Tensor, Tensor> MultiheadAttention::forward(const Tensor& query, const Tensor& key,
                                                       const Tensor& value,
                                                       const Tensor& key_padding_mask,
                                                       bool need_weights, const Tensor& attn_mask,
                                                       bool average_attn_weights) {
  const int64_t e = options.embed_dim, heads = options.num_heads;
  HG_CHECK(query.defined() && key.defined() && value.defined(),
           "MultiheadAttention: query, key and value must be defined");
  const bool unbatched = query.dim() == 2;
  HG_CHECK((query.dim() == 3 || unbatched) && key.dim() == query.dim() &&
               value.dim() == query.dim() && query.size(-1) == e && key.size(-1) == e &&
               value.size(-1) == e && key.sizes() == value.sizes(),
           "MultiheadAttention(", e, ", ", heads, "): expected query [L, N, ", e,
           "], key and value [S, N, ", e,
           "] (or [N, L, E] with batch_first, or unbatched [L, E]), got query ",
           hg::describe(query), ", key ", hg::describe(key), ", value ", hg::describe(value));
  // to [N, L, E]: the batch first, whatever the caller's layout
  const auto batch_major = [&](const Tensor& t) {
    if (unbatched) return t.unsqueeze(0);
    return options.batch_first_ ? t : t.transpose(0, 1);
  };
  const Tensor q_in = batch_major(query), k_in = batch_major(key), v_in = batch_major(value);
  HG_CHECK(k_in.size(0) == q_in.size(0), "MultiheadAttention(", e, ", ", heads,
           "): query and key differ in batch size: query ", hg::describe(query), ", key ",
           hg::describe(key), options.batch_first_ ? " (batch_first)" : "");
  const int64_t batch = q_in.size(0), length = q_in.size(1), keys = k_in.size(1);
  const bool self_attention = query.is_same(key) && key.is_same(value);
  const auto [q, k, v] = project_heads(q_in, k_in, v_in, self_attention, heads);
  const Tensor padding =
      unbatched && key_padding_mask.defined() ? key_padding_mask.unsqueeze(0) : key_padding_mask;
  const Tensor mask = combined_mask(padding, attn_mask, q, batch, heads, length, keys);
  const double p = is_training() ? options.dropout_ : 0.0;
  // without the weights, the fused kernel where there is one (autograd/attention_ops.cpp)
  const AttentionOutput attention =
      need_weights ? scaled_dot_product_attention_with_weights(q, k, v, mask, p)
                   : AttentionOutput{scaled_dot_product_attention(q, k, v, mask, p), Tensor()};
  // [N, H, L, hd] -> [N, L, E], projected, back to the caller's layout
  Tensor out = out_proj->forward(attention.output.transpose(1, 2).reshape({batch, length, e}));
  out = unbatched ? out.squeeze(0) : (options.batch_first_ ? out : out.transpose(0, 1));
  if (!need_weights) return {out, Tensor()};
  Tensor weights = average_attn_weights ? mean(attention.weights, {1}) : attention.weights;
  return {out, unbatched ? weights.squeeze(0) : weights};
}

std::string MultiheadAttention::describe() const {
  std::ostringstream out;
  out << "MultiheadAttention(embed_dim=" << options.embed_dim
      << ", num_heads=" << options.num_heads;
  if (options.dropout_ != 0.0) out << ", dropout=" << options.dropout_;
  if (!options.bias_) out << ", bias=false";
  if (options.batch_first_) out << ", batch_first=true";
  out << ")";
  return out.str();
}

}  // namespace hg::nn
