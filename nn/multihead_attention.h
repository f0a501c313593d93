#pragma once
#include <array>
#include <memory>
#include <tuple>

#include "halfgrad/nn/linear.h"
#include "halfgrad/nn/module.h"

namespace hg::nn {

struct MultiheadAttentionOptions {
  MultiheadAttentionOptions(int64_t embed, int64_t heads) : embed_dim(embed), num_heads(heads) {}
  MultiheadAttentionOptions& dropout(double p) {
    dropout_ = p;
    return *this;
  }
  MultiheadAttentionOptions& bias(bool b) {
    bias_ = b;
    return *this;
  }
  // [N, L, E] inputs and output instead of [L, N, E] (PyTorch's default is false).
  MultiheadAttentionOptions& batch_first(bool b) {
    batch_first_ = b;
    return *this;
  }
  int64_t embed_dim, num_heads;
  double dropout_ = 0.0;
  bool bias_ = true;
  bool batch_first_ = false;
};

// torch.nn.MultiheadAttention (query, key and value all of width embed_dim): the three inputs
// projected by in_proj_weight [3E, E] (+ in_proj_bias [3E]), split into num_heads heads of E /
// num_heads, each attending with scaled_dot_product_attention (autograd/nn_ops.h), the heads
// concatenated and projected by out_proj. PyTorch's parameter names and initialisation (xavier
// uniform in_proj_weight, zero biases), so its state dicts map one to one.
//
//   query [L, N, E], key and value [S, N, E] ([N, L, E] with batch_first; unbatched [L, E])
//   key_padding_mask [N, S]: bool, true = that key is padding (ignored); or floating, added
//   attn_mask [L, S] or [N * num_heads, L, S]: bool, true = not allowed; or floating, added
//   -> (output like query, weights [N, L, S] averaged over the heads, or [N, num_heads, L, S];
//       undefined unless need_weights)
// Note the mask convention: true masks out here (as torch's module), where the functional
// scaled_dot_product_attention's bool mask keeps (as torch's function).
class MultiheadAttention : public Module {
 public:
  explicit MultiheadAttention(const MultiheadAttentionOptions& options);
  MultiheadAttention(int64_t embed_dim, int64_t num_heads)
      : MultiheadAttention(MultiheadAttentionOptions(embed_dim, num_heads)) {}
  std::tuple<Tensor, Tensor> forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                     const Tensor& key_padding_mask = Tensor(),
                                     bool need_weights = true, const Tensor& attn_mask = Tensor(),
                                     bool average_attn_weights = true);
  std::string describe() const override;
  void reset_parameters();

  Tensor in_proj_weight, in_proj_bias;
  std::shared_ptr<Linear> out_proj;
  MultiheadAttentionOptions options;

 private:
  using Module::forward;  // the unary forward (an error here): not for callers
  std::array<Tensor, 3> project_heads(const Tensor& q, const Tensor& k, const Tensor& v,
                                      bool self_attention, int64_t heads) const;
};

}  // namespace hg::nn
