// scaled_dot_product_attention. Two paths with one meaning:
// - the fused kernel (kernels/attention_kernels.h), where the device has one and nothing needs
//   the composite (no dropout, no weights asked for, a mask that wants no gradient): one pass each
//   way, float inside, the scores never stored; under autocast it takes query, key and value in
//   the lower precision and rounds only its output.
// - the composite of matmul, softmax and dropout, where each part keeps its own autocast policy
//   (the two products in the lower precision, the softmax in fp32, as PyTorch's math path) and
//   the backward is the parts' backward. The scale multiplies the queries before the product, so
//   16-bit scores are already scaled when they are rounded: q k^T alone can overflow fp16 where
//   the scaled scores do not.
#include <cmath>
#include <limits>

#include "halfgrad/amp/autocast.h"
#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/kernels/attention_kernels.h"

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

// A mask is bool or floating, on the query's device, and broadcasts to the scores [*, L, S].
void check_mask(const Tensor& mask, const Shape& scores, const Tensor& q) {
  autograd::check_same_device(q, mask, "scaled_dot_product_attention");
  const auto broadcasts = [&] {  // each of the mask's trailing dims is 1 or the scores'
    if (mask.dim() > static_cast<int64_t>(scores.size())) return false;
    const size_t offset = scores.size() - static_cast<size_t>(mask.dim());
    for (size_t d = 0; d < static_cast<size_t>(mask.dim()); ++d)
      if (mask.sizes()[d] != 1 && mask.sizes()[d] != scores[offset + d]) return false;
    return true;
  };
  HG_CHECK(broadcasts(), "scaled_dot_product_attention: attn_mask ", describe(mask),
           " does not broadcast to the scores [*, L, S] = ", shape_str(scores));
  HG_CHECK(mask.dtype() == kBool || mask.is_floating_point(),
           "scaled_dot_product_attention: attn_mask ", describe(mask),
           " must be bool or floating point (query ", describe(q), ")");
}

// The scores with the mask applied: a bool mask keeps the scores where it is true (-inf
// elsewhere), a floating mask is added.
Tensor masked_scores(const Tensor& scores, const Tensor& mask, const Tensor& q) {
  if (!mask.defined()) return scores;
  check_mask(mask, scores.sizes(), q);
  if (mask.dtype() == kBool) {
    return where(mask, scores, wrap_scalar(-std::numeric_limits<double>::infinity(), scores));
  }
  return scores + mask.to(scores.dtype());
}

Shape batch_dims(const Tensor& t) { return Shape(t.sizes().begin(), t.sizes().end() - 2); }

void check_arguments(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask,
                     double dropout_p, bool is_causal, std::optional<double> scale) {
  check_attention_operands(q, k, v);
  HG_CHECK(!(is_causal && attn_mask.defined()),
           "scaled_dot_product_attention: give attn_mask or is_causal, not both (",
           operands(q, k, v), ")");
  HG_CHECK(!scale || std::isfinite(*scale),
           "scaled_dot_product_attention: scale must be finite, got ", scale.value_or(0.0));
  HG_CHECK(dropout_p >= 0.0 && dropout_p < 1.0,
           "scaled_dot_product_attention: dropout_p must be in [0, 1), got ", dropout_p);
}

// The fused kernel's compute dtype: float64 for fp64 operands, float32 otherwise.
DType compute_dtype(const Tensor& q) { return q.dtype() == kFloat64 ? kFloat64 : kFloat32; }

double scale_of(const Tensor& q, std::optional<double> scale) {
  return scale ? *scale : 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
}

class AttentionBackward final : public autograd::Node {
 public:
  AttentionBackward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& weights,
                    double scale)
      : q_(q), k_(k), v_(v), weights_(weights), scale_(scale) {}
  std::string name() const override { return "ScaledDotProductAttentionBackward"; }
  bool release_saved() override { return autograd::release_all(q_, k_, v_, weights_); }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor &q = q_.unpack(*this), &k = k_.unpack(*this), &v = v_.unpack(*this);
    const Tensor grad_out = autograd::grad_as(grads[0], q.dtype()).contiguous();
    Tensor grad_q = make_tensor(q.sizes(), q.dtype(), q.device());
    Tensor grad_k = make_tensor(k.sizes(), k.dtype(), k.device());
    Tensor grad_v = make_tensor(v.sizes(), v.dtype(), v.device());
    kernels::attention_backward(q.device())(
        kernels::view_of(q), kernels::view_of(k), kernels::view_of(v),
        kernels::view_of(weights_.unpack(*this)), scale_, kernels::view_of(grad_out),
        kernels::view_of(grad_q), kernels::view_of(grad_k), kernels::view_of(grad_v));
    return {grad_q, grad_k, grad_v};
  }

 private:
  autograd::SavedTensor q_, k_, v_, weights_;
  double scale_;
};

// Whether the fused kernel can compute this call: the device has one, no dropout, a mask that
// wants no gradient. (It then also needs the operands in one dtype after autocast.)
bool fused_path_applies(const Tensor& q, const Tensor& attn_mask, double dropout_p) {
  return dropout_p == 0.0 && kernels::attention.supports(q.device().type) &&
         !(attn_mask.defined() && attn_mask.requires_grad());
}

bool same_dtype_and_device(const std::vector<Tensor>& in) {
  return in[1].dtype() == in[0].dtype() && in[2].dtype() == in[0].dtype() &&
         in[1].device() == in[0].device() && in[2].device() == in[0].device();
}

// The mask as the kernel takes it: additive, in the compute dtype, [B, L, S] (a view with stride
// 0 where the mask broadcasts and the dims merge, else a copy).
Tensor kernel_mask(const Tensor& attn_mask, const Tensor& q, const Shape& scores,
                   int64_t problems) {
  if (!attn_mask.defined()) return Tensor();
  check_mask(attn_mask, scores, q);
  const TensorOptions compute(compute_dtype(q));
  const Tensor additive =
      attn_mask.dtype() == kBool
          ? where(attn_mask, zeros({}, compute.device(q.device())),
                  full({}, -std::numeric_limits<double>::infinity(), compute.device(q.device())))
          : attn_mask.to(compute.dtype());
  const int64_t length = scores[scores.size() - 2], keys = scores.back();
  return additive.expand(scores).reshape({problems, length, keys});
}

// softmax(q k^T * scale + mask) v by the fused kernel; q, k, v as autocast left them.
Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask,
                       bool is_causal, double scale) {
  const Shape batch = broadcast_shapes(
      broadcast_shapes(batch_dims(q), batch_dims(k), "scaled_dot_product_attention"), batch_dims(v),
      "scaled_dot_product_attention");
  int64_t problems = 1;
  for (const int64_t size : batch) problems *= size;
  const auto flat = [&](const Tensor& t) {  // [*, R, C] -> [B, R, C], contiguous
    Shape full = batch;
    full.insert(full.end(), {t.size(-2), t.size(-1)});
    return t.expand(full).reshape({problems, t.size(-2), t.size(-1)}).contiguous();
  };
  const Tensor q3 = flat(q), k3 = flat(k), v3 = flat(v);
  const int64_t length = q.size(-2), keys = k.size(-2);
  Shape scores = batch;
  scores.insert(scores.end(), {length, keys});
  const Tensor mask = kernel_mask(attn_mask, q, scores, problems);
  Tensor out = make_tensor({problems, length, v.size(-1)}, q.dtype(), q.device());
  Tensor weights = make_tensor({problems, length, keys}, compute_dtype(q), q.device());
  const kernels::TensorView mask_view =
      mask.defined() ? kernels::view_of(mask) : kernels::TensorView{};
  kernels::attention(q.device())(kernels::view_of(q3), kernels::view_of(k3), kernels::view_of(v3),
                                 mask.defined() ? &mask_view : nullptr, is_causal, scale,
                                 kernels::view_of(out), kernels::view_of(weights));
  if (autograd::needs_grad({&q3, &k3, &v3})) {
    auto node = std::make_shared<AttentionBackward>(q3, k3, v3, weights, scale);
    autograd::record(node, {q3, k3, v3}, {out});
  }
  Shape result = batch;
  result.insert(result.end(), {length, v.size(-1)});
  return out.reshape(result);
}

// softmax(q k^T * scale + mask) v composed of matmul, softmax and dropout (arguments checked).
AttentionOutput composite_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& attn_mask, double dropout_p, bool is_causal,
                                    double scale) {
  const Tensor scores = matmul(q * scale, k.transpose(-2, -1));  // [*, L, S]
  Tensor mask = attn_mask;
  if (is_causal) {  // query i attends to keys 0..i (top-left aligned, as torch)
    const int64_t length = q.size(-2), keys = k.size(-2);
    mask = tril(ones({length, keys}, TensorOptions(kBool).device(q.device())));
  }
  Tensor weights = softmax(masked_scores(scores, mask, q), -1);
  if (dropout_p > 0.0) weights = dropout(weights, dropout_p);
  return {matmul(weights, v), weights};
}

}  // namespace

AttentionOutput scaled_dot_product_attention_with_weights(const Tensor& q, const Tensor& k,
                                                          const Tensor& v, const Tensor& attn_mask,
                                                          double dropout_p, bool is_causal,
                                                          std::optional<double> scale) {
  check_arguments(q, k, v, attn_mask, dropout_p, is_causal, scale);
  return composite_attention(q, k, v, attn_mask, dropout_p, is_causal, scale_of(q, scale));
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& attn_mask, double dropout_p, bool is_causal,
                                    std::optional<double> scale) {
  check_arguments(q, k, v, attn_mask, dropout_p, is_causal, scale);
  if (fused_path_applies(q, attn_mask, dropout_p)) {
    const std::vector<Tensor> in = amp::autocast(amp::OpId::Attention, {q, k, v});
    if (same_dtype_and_device(in))
      return fused_attention(in[0], in[1], in[2], attn_mask, is_causal, scale_of(q, scale));
  }
  return composite_attention(q, k, v, attn_mask, dropout_p, is_causal, scale_of(q, scale)).output;
}

}  // namespace hg
