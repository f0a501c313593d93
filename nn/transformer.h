#pragma once
// torch.nn.Transformer: a TransformerEncoder and a TransformerDecoder, each with a final
// LayerNorm, the decoder attending over the encoder's output. PyTorch's submodule names
// ("encoder.layers.0.self_attn.in_proj_weight", "decoder.norm.weight", ...) and initialisation
// (xavier uniform for every matrix), so state dicts map one to one.
//
//   nn::Transformer model(nn::TransformerOptions(64, 4).num_encoder_layers(2)
//                             .num_decoder_layers(2).batch_first(true));
//   const Tensor causal = nn::Transformer::generate_square_subsequent_mask(tgt.size(1));
//   Tensor y = model.forward(src, tgt, Tensor(), causal);  // [N, S, 64], [N, T, 64] -> [N, T, 64]
#include <memory>

#include "halfgrad/nn/transformer_decoder.h"
#include "halfgrad/nn/transformer_encoder.h"

namespace hg::nn {

struct TransformerOptions {
  TransformerOptions(int64_t model = 512, int64_t heads = 8) : d_model(model), nhead(heads) {}
  // clang-format off
  TransformerOptions& num_encoder_layers(int64_t n) { num_encoder_layers_ = n; return *this; }
  TransformerOptions& num_decoder_layers(int64_t n) { num_decoder_layers_ = n; return *this; }
  TransformerOptions& dim_feedforward(int64_t d) { dim_feedforward_ = d; return *this; }
  TransformerOptions& dropout(double p) { dropout_ = p; return *this; }
  TransformerOptions& activation(TransformerActivation a) { activation_ = a; return *this; }
  TransformerOptions& layer_norm_eps(double e) { layer_norm_eps_ = e; return *this; }
  TransformerOptions& batch_first(bool b) { batch_first_ = b; return *this; }
  TransformerOptions& norm_first(bool b) { norm_first_ = b; return *this; }
  // clang-format on
  // the options of one encoder or decoder layer
  TransformerLayerOptions layer() const;

  int64_t d_model, nhead;
  int64_t num_encoder_layers_ = 6, num_decoder_layers_ = 6;
  int64_t dim_feedforward_ = 2048;
  double dropout_ = 0.1;
  TransformerActivation activation_ = TransformerActivation::ReLU;
  double layer_norm_eps_ = 1e-5;
  bool batch_first_ = false;
  bool norm_first_ = false;
};

// src [S, N, E], tgt [T, N, E] ([N, S, E] and [N, T, E] with batch_first; unbatched [S, E] and
// [T, E]) -> like tgt: memory = encoder(src, src_mask, src_key_padding_mask), then
// decoder(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask).
// The masks are TransformerEncoderLayer's and TransformerDecoderLayer's.
class Transformer : public Module {
 public:
  explicit Transformer(const TransformerOptions& options = {});
  Tensor forward(const Tensor& src, const Tensor& tgt, const Tensor& src_mask = Tensor(),
                 const Tensor& tgt_mask = Tensor(), const Tensor& memory_mask = Tensor(),
                 const Tensor& src_key_padding_mask = Tensor(),
                 const Tensor& tgt_key_padding_mask = Tensor(),
                 const Tensor& memory_key_padding_mask = Tensor());
  std::string describe() const override;
  void reset_parameters();  // xavier uniform for every parameter of more than one dim

  // [size, size] float32: 0 on and below the diagonal, -inf above it (position i attends to
  // positions <= i), as torch's; options to place or type it otherwise.
  static Tensor generate_square_subsequent_mask(int64_t size, TensorOptions options = {});

  std::shared_ptr<TransformerEncoder> encoder;
  std::shared_ptr<TransformerDecoder> decoder;
  TransformerOptions options;

 private:
  using Module::forward;  // the unary forward (an error here): a Transformer needs src and tgt
};

}  // namespace hg::nn
