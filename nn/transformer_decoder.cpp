#include "halfgrad/nn/transformer_decoder.h"

#include "halfgrad/core/error.h"

namespace hg::nn {

TransformerDecoderLayer::TransformerDecoderLayer(const TransformerDecoderLayerOptions& opts)
    : Module("TransformerDecoderLayer"), options(opts) {
  HG_CHECK(opts.dim_feedforward_ > 0, "TransformerDecoderLayer: dim_feedforward must be > 0, got ",
           opts.dim_feedforward_);
  const int64_t d = opts.d_model;
  const auto attention = MultiheadAttentionOptions(d, opts.nhead)
                             .dropout(opts.dropout_)
                             .batch_first(opts.batch_first_);
  self_attn = register_module("self_attn", std::make_shared<MultiheadAttention>(attention));
  multihead_attn =
      register_module("multihead_attn", std::make_shared<MultiheadAttention>(attention));
  linear1 = register_module("linear1", std::make_shared<Linear>(d, opts.dim_feedforward_));
  dropout = register_module("dropout", std::make_shared<Dropout>(opts.dropout_));
  linear2 = register_module("linear2", std::make_shared<Linear>(opts.dim_feedforward_, d));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(Shape{d}, opts.layer_norm_eps_));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(Shape{d}, opts.layer_norm_eps_));
  norm3 = register_module("norm3", std::make_shared<LayerNorm>(Shape{d}, opts.layer_norm_eps_));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(opts.dropout_));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(opts.dropout_));
  dropout3 = register_module("dropout3", std::make_shared<Dropout>(opts.dropout_));
}

Tensor TransformerDecoderLayer::self_attention_block(const Tensor& x, const Tensor& mask,
                                                     const Tensor& padding) {
  return dropout1->forward(std::get<0>(self_attn->forward(x, x, x, padding, false, mask)));
}

Tensor TransformerDecoderLayer::memory_attention_block(const Tensor& x, const Tensor& memory,
                                                       const Tensor& mask, const Tensor& padding) {
  return dropout2->forward(
      std::get<0>(multihead_attn->forward(x, memory, memory, padding, false, mask)));
}

Tensor TransformerDecoderLayer::forward(const Tensor& tgt, const Tensor& memory,
                                        const Tensor& tgt_mask, const Tensor& memory_mask,
                                        const Tensor& tgt_key_padding_mask,
                                        const Tensor& memory_key_padding_mask) {
  HG_CHECK(tgt.defined() && memory.defined() && tgt.dim() == memory.dim(),
           "TransformerDecoderLayer: tgt and memory must both be batched or both unbatched, got ",
           "tgt ", tgt.defined() ? hg::describe(tgt) : "undefined", " and memory ",
           memory.defined() ? hg::describe(memory) : "undefined");
  Tensor x = tgt;
  const auto feedforward = [&](const Tensor& in) {
    return dropout3->forward(
        detail::transformer_feedforward(in, *linear1, *dropout, *linear2, options.activation_));
  };
  const auto self_attention = [&](const Tensor& in) {
    return self_attention_block(in, tgt_mask, tgt_key_padding_mask);
  };
  const auto memory_attention = [&](const Tensor& in) {
    return memory_attention_block(in, memory, memory_mask, memory_key_padding_mask);
  };
  if (options.norm_first_) {
    x = x + self_attention(norm1->forward(x));
    x = x + memory_attention(norm2->forward(x));
    return x + feedforward(norm3->forward(x));
  }
  x = norm1->forward(x + self_attention(x));
  x = norm2->forward(x + memory_attention(x));
  return norm3->forward(x + feedforward(x));
}

std::string TransformerDecoderLayer::describe() const {
  return detail::describe_transformer_layer("TransformerDecoderLayer", options);
}

TransformerDecoder::TransformerDecoder(const TransformerDecoderLayerOptions& layer,
                                       int64_t num_layers, bool final_norm)
    : Module("TransformerDecoder") {
  HG_CHECK(num_layers >= 1, "TransformerDecoder: num_layers must be >= 1, got ", num_layers);
  layers = register_module("layers", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < num_layers; ++i)
    layers->push_back(std::make_shared<TransformerDecoderLayer>(layer));
  if (final_norm)
    norm = register_module(
        "norm", std::make_shared<LayerNorm>(Shape{layer.d_model}, layer.layer_norm_eps_));
}

Tensor TransformerDecoder::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                   const Tensor& memory_mask, const Tensor& tgt_key_padding_mask,
                                   const Tensor& memory_key_padding_mask) {
  Tensor x = tgt;
  for (int64_t i = 0; i < layers->size(); ++i)
    x = layers->at<TransformerDecoderLayer>(i)->forward(
        x, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask);
  return norm ? norm->forward(x) : x;
}

std::string TransformerDecoder::describe() const {
  return "TransformerDecoder(num_layers=" + std::to_string(layers->size()) +
         (norm ? ", norm=LayerNorm)" : ")");
}

}  // namespace hg::nn
