#pragma once
#include "halfgrad/nn/module.h"

namespace hg::nn {

// index int64 [*] -> [*, dim]; weight [num_embeddings, dim] initialised N(0, 1) like PyTorch.
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim);
  Tensor forward(const Tensor& index) override;
  std::string describe() const override;

  Tensor weight;
};

}  // namespace hg::nn
