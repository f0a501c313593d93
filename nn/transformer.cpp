#include "halfgrad/nn/transformer.h"

#include <limits>

#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/nn/init.h"

namespace hg::nn {

TransformerLayerOptions TransformerOptions::layer() const {
  return TransformerLayerOptions(d_model, nhead)
      .dim_feedforward(dim_feedforward_)
      .dropout(dropout_)
      .activation(activation_)
      .layer_norm_eps(layer_norm_eps_)
      .batch_first(batch_first_)
      .norm_first(norm_first_);
}

Transformer::Transformer(const TransformerOptions& opts) : Module("Transformer"), options(opts) {
  encoder = register_module("encoder", std::make_shared<TransformerEncoder>(
                                           opts.layer(), opts.num_encoder_layers_, true));
  decoder = register_module("decoder", std::make_shared<TransformerDecoder>(
                                           opts.layer(), opts.num_decoder_layers_, true));
  reset_parameters();
}

void Transformer::reset_parameters() {
  for (const Tensor& p : parameters())
    if (p.dim() > 1) init::xavier_uniform_(p);
}

Tensor Transformer::forward(const Tensor& src, const Tensor& tgt, const Tensor& src_mask,
                            const Tensor& tgt_mask, const Tensor& memory_mask,
                            const Tensor& src_key_padding_mask, const Tensor& tgt_key_padding_mask,
                            const Tensor& memory_key_padding_mask) {
  HG_CHECK(src.defined() && tgt.defined() && src.dim() == tgt.dim() &&
               (src.dim() == 2 || src.dim() == 3),
           "Transformer: expected src and tgt both batched (3-D) or both unbatched (2-D), got src ",
           src.defined() ? hg::describe(src) : "undefined", " and tgt ",
           tgt.defined() ? hg::describe(tgt) : "undefined");
  const int64_t batch_dim = options.batch_first_ ? 0 : 1;
  HG_CHECK(src.dim() == 2 || src.size(batch_dim) == tgt.size(batch_dim),
           "Transformer: src and tgt must have the same batch size (dim ", batch_dim, "), got src ",
           hg::describe(src), " and tgt ", hg::describe(tgt));
  HG_CHECK(src.size(-1) == options.d_model && tgt.size(-1) == options.d_model,
           "Transformer: src and tgt must have d_model = ", options.d_model, " features, got src ",
           hg::describe(src), " and tgt ", hg::describe(tgt));
  const Tensor memory = encoder->forward(src, src_mask, src_key_padding_mask);
  return decoder->forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
                          memory_key_padding_mask);
}

std::string Transformer::describe() const {
  return "Transformer(d_model=" + std::to_string(options.d_model) +
         ", nhead=" + std::to_string(options.nhead) +
         ", num_encoder_layers=" + std::to_string(options.num_encoder_layers_) +
         ", num_decoder_layers=" + std::to_string(options.num_decoder_layers_) + ")";
}

Tensor Transformer::generate_square_subsequent_mask(int64_t size, TensorOptions options) {
  HG_CHECK(size >= 0, "Transformer::generate_square_subsequent_mask: size must be >= 0, got ",
           size);
  HG_CHECK(is_floating(options.dtype()),
           "Transformer::generate_square_subsequent_mask: the mask is -inf and 0, so it needs a ",
           "floating dtype, got ", dtype_name(options.dtype()));
  return triu(full({size, size}, -std::numeric_limits<double>::infinity(), options), 1);
}

}  // namespace hg::nn
