#pragma once
// The encoder half of torch.nn.Transformer (nn/transformer.h): TransformerEncoderLayer
// (self-attention and a feed-forward block, each with a residual connection and layer norm) and
// TransformerEncoder (a stack of them). PyTorch's submodule names, so state dicts map one to one.
#include <memory>
#include <string>

#include "halfgrad/nn/dropout.h"
#include "halfgrad/nn/layer_norm.h"
#include "halfgrad/nn/linear.h"
#include "halfgrad/nn/module_list.h"
#include "halfgrad/nn/multihead_attention.h"

namespace hg::nn {

enum class TransformerActivation { ReLU, GELU };

// The options of one encoder or decoder layer (torch's arguments of both).
struct TransformerLayerOptions {
  TransformerLayerOptions(int64_t model, int64_t heads) : d_model(model), nhead(heads) {}
  // clang-format off
  TransformerLayerOptions& dim_feedforward(int64_t d) { dim_feedforward_ = d; return *this; }
  TransformerLayerOptions& dropout(double p) { dropout_ = p; return *this; }
  TransformerLayerOptions& activation(TransformerActivation a) { activation_ = a; return *this; }
  TransformerLayerOptions& layer_norm_eps(double e) { layer_norm_eps_ = e; return *this; }
  TransformerLayerOptions& batch_first(bool b) { batch_first_ = b; return *this; }
  TransformerLayerOptions& norm_first(bool b) { norm_first_ = b; return *this; }
  // clang-format on
  int64_t d_model, nhead;
  int64_t dim_feedforward_ = 2048;
  double dropout_ = 0.1;
  TransformerActivation activation_ = TransformerActivation::ReLU;
  double layer_norm_eps_ = 1e-5;
  bool batch_first_ = false;
  bool norm_first_ = false;
};
using TransformerEncoderLayerOptions = TransformerLayerOptions;
using TransformerDecoderLayerOptions = TransformerLayerOptions;

namespace detail {
// linear2(dropout(activation(linear1(x)))): the feed-forward block of both kinds of layer
Tensor transformer_feedforward(const Tensor& x, Linear& linear1, Dropout& dropout, Linear& linear2,
                               TransformerActivation activation);
// "name(d_model=.., nhead=.., ...)"
std::string describe_transformer_layer(const std::string& name,
                                       const TransformerLayerOptions& options);
}  // namespace detail

// src [S, N, E] ([N, S, E] with batch_first; unbatched [S, E]) -> the same shape. Post-norm (the
// default): x = norm1(x + attention(x)), x = norm2(x + feedforward(x)); norm_first (pre-norm,
// easier to train deep): x = x + attention(norm1(x)), x = x + feedforward(norm2(x)). The masks
// are MultiheadAttention's (bool true = not allowed).
class TransformerEncoderLayer : public Module {
 public:
  explicit TransformerEncoderLayer(const TransformerEncoderLayerOptions& options);
  Tensor forward(const Tensor& src) override { return forward(src, Tensor(), Tensor()); }
  Tensor forward(const Tensor& src, const Tensor& src_mask, const Tensor& src_key_padding_mask);
  std::string describe() const override;

  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<LayerNorm> norm1, norm2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2;
  TransformerEncoderLayerOptions options;

 private:
  Tensor attention_block(const Tensor& x, const Tensor& mask, const Tensor& padding);
  Tensor feedforward_block(const Tensor& x);
};

// num_layers TransformerEncoderLayers ("layers.0", ...), each with its own initialisation (torch
// deep-copies one layer, so its layers start equal; load a state dict to compare the two), and
// an optional final LayerNorm ("norm", as torch's norm argument).
class TransformerEncoder : public Module {
 public:
  TransformerEncoder(const TransformerEncoderLayerOptions& layer, int64_t num_layers,
                     bool final_norm = false);
  Tensor forward(const Tensor& src) override { return forward(src, Tensor(), Tensor()); }
  Tensor forward(const Tensor& src, const Tensor& mask, const Tensor& src_key_padding_mask);
  std::string describe() const override;

  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<LayerNorm> norm;  // null without final_norm
};

}  // namespace hg::nn
