#pragma once
// The decoder half of torch.nn.Transformer: TransformerDecoderLayer (masked self-attention,
// attention over the encoder's output, and a feed-forward block, each with a residual connection
// and layer norm) and TransformerDecoder (a stack of them). PyTorch's submodule names, so state
// dicts map one to one.
#include <memory>

#include "halfgrad/nn/transformer_encoder.h"

namespace hg::nn {

// tgt [T, N, E], memory [S, N, E] ([N, T, E] and [N, S, E] with batch_first; unbatched [T, E]
// and [S, E]) -> like tgt. The masks, all optional, follow MultiheadAttention (a bool true is not
// allowed, a floating mask is added): tgt_mask [T, T] (or per head) for the target's
// self-attention, causal for autoregressive training (Transformer::
// generate_square_subsequent_mask); memory_mask [T, S] for its attention over the memory;
// tgt_key_padding_mask [N, T]; memory_key_padding_mask [N, S]. Post-norm (the default):
//   x = norm1(x + self_attention(x)), x = norm2(x + attention(x, memory)),
//   x = norm3(x + feedforward(x));
// norm_first: x = x + self_attention(norm1(x)), x = x + attention(norm2(x), memory),
//   x = x + feedforward(norm3(x)).
class TransformerDecoderLayer : public Module {
 public:
  explicit TransformerDecoderLayer(const TransformerDecoderLayerOptions& options);
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = Tensor(),
                 const Tensor& memory_mask = Tensor(),
                 const Tensor& tgt_key_padding_mask = Tensor(),
                 const Tensor& memory_key_padding_mask = Tensor());
  std::string describe() const override;

  std::shared_ptr<MultiheadAttention> self_attn, multihead_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<LayerNorm> norm1, norm2, norm3;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2, dropout3;
  TransformerDecoderLayerOptions options;

 private:
  using Module::forward;  // the unary forward (an error here): a decoder needs the memory
  Tensor self_attention_block(const Tensor& x, const Tensor& mask, const Tensor& padding);
  Tensor memory_attention_block(const Tensor& x, const Tensor& memory, const Tensor& mask,
                                const Tensor& padding);
};

// num_layers TransformerDecoderLayers ("layers.0", ...), each with its own initialisation, and an
// optional final LayerNorm ("norm"). Every layer attends over the same memory.
class TransformerDecoder : public Module {
 public:
  TransformerDecoder(const TransformerDecoderLayerOptions& layer, int64_t num_layers,
                     bool final_norm = false);
  // the masks as TransformerDecoderLayer's, passed to every layer
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = Tensor(),
                 const Tensor& memory_mask = Tensor(),
                 const Tensor& tgt_key_padding_mask = Tensor(),
                 const Tensor& memory_key_padding_mask = Tensor());
  std::string describe() const override;

  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<LayerNorm> norm;  // null without final_norm

 private:
  using Module::forward;
};

}  // namespace hg::nn
