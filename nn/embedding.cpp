#include "halfgrad/nn/embedding.h"

#include <sstream>

#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/nn/init.h"

namespace hg::nn {

Embedding::Embedding(const EmbeddingOptions& opts) : Module("Embedding"), options(opts) {
  const int64_t rows = opts.num_embeddings;
  HG_CHECK(!opts.padding_idx_ || (*opts.padding_idx_ >= -rows && *opts.padding_idx_ < rows),
           "Embedding: padding_idx ", opts.padding_idx_.value_or(0), " is out of range for ", rows,
           " embeddings");
  if (opts.padding_idx_ && *opts.padding_idx_ < 0) options.padding_idx_ = *opts.padding_idx_ + rows;
  weight = register_parameter("weight", empty({rows, opts.embedding_dim}));
  init::normal_(weight);
  if (options.padding_idx_) {
    NoGradGuard no_grad;
    weight.select(0, *options.padding_idx_).zero_();
  }
}

Tensor Embedding::forward(const Tensor& index) {
  return options.padding_idx_ ? embedding(index, weight, *options.padding_idx_)
                              : embedding(index, weight);
}

std::string Embedding::describe() const {
  std::ostringstream out;
  out << "Embedding(" << weight.size(0) << ", " << weight.size(1);
  if (options.padding_idx_) out << ", padding_idx=" << *options.padding_idx_;
  out << ")";
  return out.str();
}

}  // namespace hg::nn
