#pragma once
#include <optional>

#include "halfgrad/nn/module.h"

namespace hg::nn {

struct EmbeddingOptions {
  EmbeddingOptions(int64_t num, int64_t dim) : num_embeddings(num), embedding_dim(dim) {}
  // A row (say the padding token's) that starts at zero and gets no gradient; negative counts
  // from the end.
  EmbeddingOptions& padding_idx(int64_t i) {
    padding_idx_ = i;
    return *this;
  }
  int64_t num_embeddings, embedding_dim;
  std::optional<int64_t> padding_idx_;
};

// index int64 [*] -> [*, dim]; weight [num_embeddings, dim] initialised N(0, 1) like PyTorch
// (the padding row, if any, zero).
class Embedding : public Module {
 public:
  explicit Embedding(const EmbeddingOptions& options);
  Embedding(int64_t num_embeddings, int64_t embedding_dim)
      : Embedding(EmbeddingOptions(num_embeddings, embedding_dim)) {}
  Tensor forward(const Tensor& index) override;
  std::string describe() const override;

  Tensor weight;
  EmbeddingOptions options;
};

}  // namespace hg::nn
