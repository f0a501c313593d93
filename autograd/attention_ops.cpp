// scaled_dot_product_attention, composed of matmul, softmax and dropout: each part keeps its own
// autocast policy (the two products in the lower precision, the softmax in fp32, as PyTorch's
// math path), and the backward is the parts' backward. The scale multiplies the queries before
// the product, so the 16-bit scores are already scaled when they are rounded: q k^T alone can
// overflow fp16 where the scaled scores do not.
#include <cmath>
#include <limits>

#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/factories.h"

namespace hg {

namespace {

std::string operands(const Tensor& q, const Tensor& k, const Tensor& v) {
  return detail::concat("query ", describe(q), ", key ", describe(k), ", value ", describe(v));
}

void check_attention_operands(const Tensor& q, const Tensor& k, const Tensor& v) {
  const char* op = "scaled_dot_product_attention";
  autograd::check_floating(q, op);
  autograd::check_floating(k, op);
  autograd::check_floating(v, op);
  autograd::check_same_device(q, k, op);
  autograd::check_same_device(q, v, op);
  HG_CHECK(q.dim() >= 2 && k.dim() >= 2 && v.dim() >= 2, op,
           ": expected query [*, L, E], key [*, S, E], value [*, S, Ev], got ", operands(q, k, v));
  HG_CHECK(q.size(-1) == k.size(-1) && k.size(-2) == v.size(-2), op,
           ": the query and key widths (E) or the key and value lengths (S) differ: ",
           operands(q, k, v));
  const auto batch = [](const Tensor& t) { return Shape(t.sizes().begin(), t.sizes().end() - 2); };
  (void)broadcast_shapes(broadcast_shapes(batch(q), batch(k), op), batch(v), op);
}

// The scores with the mask applied: a bool mask keeps the scores where it is true (-inf
// elsewhere), a floating mask is added; either broadcasts to [*, L, S].
Tensor masked_scores(const Tensor& scores, const Tensor& mask, const Tensor& q) {
  if (!mask.defined()) return scores;
  autograd::check_same_device(scores, mask, "scaled_dot_product_attention");
  HG_CHECK(mask.dim() <= scores.dim() &&
               broadcast_shapes(scores.sizes(), mask.sizes(), "scaled_dot_product_attention") ==
                   scores.sizes(),
           "scaled_dot_product_attention: attn_mask ", describe(mask),
           " does not broadcast to the scores [*, L, S] = ", shape_str(scores.sizes()));
  if (mask.dtype() == kBool) {
    return where(mask, scores, wrap_scalar(-std::numeric_limits<double>::infinity(), scores));
  }
  HG_CHECK(mask.is_floating_point(), "scaled_dot_product_attention: attn_mask ", describe(mask),
           " must be bool or floating point (query ", describe(q), ")");
  return scores + mask.to(scores.dtype());
}

}  // namespace

AttentionOutput scaled_dot_product_attention_with_weights(const Tensor& q, const Tensor& k,
                                                          const Tensor& v, const Tensor& attn_mask,
                                                          double dropout_p, bool is_causal,
                                                          std::optional<double> scale) {
  check_attention_operands(q, k, v);
  HG_CHECK(!(is_causal && attn_mask.defined()),
           "scaled_dot_product_attention: give attn_mask or is_causal, not both (",
           operands(q, k, v), ")");
  HG_CHECK(!scale || std::isfinite(*scale),
           "scaled_dot_product_attention: scale must be finite, got ", scale.value_or(0.0));
  HG_CHECK(dropout_p >= 0.0 && dropout_p < 1.0,
           "scaled_dot_product_attention: dropout_p must be in [0, 1), got ", dropout_p);
  const double s = scale ? *scale : 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  const Tensor scores = matmul(q * s, k.transpose(-2, -1));  // [*, L, S]
  Tensor mask = attn_mask;
  if (is_causal) {  // query i attends to keys 0..i (top-left aligned, as torch)
    const int64_t length = q.size(-2), keys = k.size(-2);
    mask = tril(ones({length, keys}, TensorOptions(kBool).device(q.device())));
  }
  Tensor weights = softmax(masked_scores(scores, mask, q), -1);
  if (dropout_p > 0.0) weights = dropout(weights, dropout_p);
  return {matmul(weights, v), weights};
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& attn_mask, double dropout_p, bool is_causal,
                                    std::optional<double> scale) {
  return scaled_dot_product_attention_with_weights(q, k, v, attn_mask, dropout_p, is_causal, scale)
      .output;
}

}  // namespace hg
