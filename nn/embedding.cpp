#include "halfgrad/nn/embedding.h"

#include <sstream>

#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/nn/init.h"

namespace hg::nn {

Embedding::Embedding(int64_t num_embeddings, int64_t embedding_dim) : Module("Embedding") {
  weight = register_parameter("weight", empty({num_embeddings, embedding_dim}));
  init::normal_(weight);
}

Tensor Embedding::forward(const Tensor& index) { return embedding(index, weight); }

std::string Embedding::describe() const {
  std::ostringstream out;
  out << "Embedding(" << weight.size(0) << ", " << weight.size(1) << ")";
  return out.str();
}

}  // namespace hg::nn
