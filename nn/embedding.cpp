#include "nn/embedding.h"

#include <sstream>

#include "autograd/nn_ops.h"
#include "core/factories.h"
#include "nn/init.h"

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
