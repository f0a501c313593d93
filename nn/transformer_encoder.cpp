#include "halfgrad/nn/transformer_encoder.h"

#include <sstream>

#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/error.h"

namespace hg::nn {

namespace detail {

Tensor transformer_feedforward(const Tensor& x, Linear& linear1, Dropout& dropout, Linear& linear2,
                               TransformerActivation activation) {
  const Tensor hidden = linear1.forward(x);
  const Tensor activated = activation == TransformerActivation::GELU ? gelu(hidden) : relu(hidden);
  return linear2.forward(dropout.forward(activated));
}

std::string describe_transformer_layer(const std::string& name,
                                       const TransformerLayerOptions& options) {
  std::ostringstream out;
  out << name << "(d_model=" << options.d_model << ", nhead=" << options.nhead
      << ", dim_feedforward=" << options.dim_feedforward_ << ", dropout=" << options.dropout_
      << ", activation=" << (options.activation_ == TransformerActivation::GELU ? "gelu" : "relu");
  if (options.batch_first_) out << ", batch_first=true";
  if (options.norm_first_) out << ", norm_first=true";
  out << ")";
  return out.str();
}

}  // namespace detail

TransformerEncoderLayer::TransformerEncoderLayer(const TransformerEncoderLayerOptions& opts)
    : Module("TransformerEncoderLayer"), options(opts) {
  HG_CHECK(opts.dim_feedforward_ > 0, "TransformerEncoderLayer: dim_feedforward must be > 0, got ",
           opts.dim_feedforward_);
  const int64_t d = opts.d_model;
  self_attn = register_module(
      "self_attn", std::make_shared<MultiheadAttention>(MultiheadAttentionOptions(d, opts.nhead)
                                                            .dropout(opts.dropout_)
                                                            .batch_first(opts.batch_first_)));
  linear1 = register_module("linear1", std::make_shared<Linear>(d, opts.dim_feedforward_));
  dropout = register_module("dropout", std::make_shared<Dropout>(opts.dropout_));
  linear2 = register_module("linear2", std::make_shared<Linear>(opts.dim_feedforward_, d));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(Shape{d}, opts.layer_norm_eps_));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(Shape{d}, opts.layer_norm_eps_));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(opts.dropout_));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(opts.dropout_));
}

Tensor TransformerEncoderLayer::attention_block(const Tensor& x, const Tensor& mask,
                                                const Tensor& padding) {
  return dropout1->forward(std::get<0>(self_attn->forward(x, x, x, padding, false, mask)));
}

Tensor TransformerEncoderLayer::feedforward_block(const Tensor& x) {
  return dropout2->forward(
      detail::transformer_feedforward(x, *linear1, *dropout, *linear2, options.activation_));
}

Tensor TransformerEncoderLayer::forward(const Tensor& src, const Tensor& src_mask,
                                        const Tensor& src_key_padding_mask) {
  Tensor x = src;
  if (options.norm_first_) {
    x = x + attention_block(norm1->forward(x), src_mask, src_key_padding_mask);
    return x + feedforward_block(norm2->forward(x));
  }
  x = norm1->forward(x + attention_block(x, src_mask, src_key_padding_mask));
  return norm2->forward(x + feedforward_block(x));
}

std::string TransformerEncoderLayer::describe() const {
  return detail::describe_transformer_layer("TransformerEncoderLayer", options);
}

TransformerEncoder::TransformerEncoder(const TransformerEncoderLayerOptions& layer,
                                       int64_t num_layers, bool final_norm)
    : Module("TransformerEncoder") {
  HG_CHECK(num_layers >= 1, "TransformerEncoder: num_layers must be >= 1, got ", num_layers);
  layers = register_module("layers", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < num_layers; ++i)
    layers->push_back(std::make_shared<TransformerEncoderLayer>(layer));
  if (final_norm)
    norm = register_module(
        "norm", std::make_shared<LayerNorm>(Shape{layer.d_model}, layer.layer_norm_eps_));
}

Tensor TransformerEncoder::forward(const Tensor& src, const Tensor& mask,
                                   const Tensor& src_key_padding_mask) {
  Tensor x = src;
  for (int64_t i = 0; i < layers->size(); ++i)
    x = layers->at<TransformerEncoderLayer>(i)->forward(x, mask, src_key_padding_mask);
  return norm ? norm->forward(x) : x;
}

std::string TransformerEncoder::describe() const {
  return "TransformerEncoder(num_layers=" + std::to_string(layers->size()) +
         (norm ? ", norm=LayerNorm)" : ")");
}

}  // namespace hg::nn
