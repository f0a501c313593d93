#include "halfgrad/nn/sequential.h"

#include <typeinfo>

#include "halfgrad/core/error.h"
#include "halfgrad/nn/activations.h"
#include "halfgrad/nn/batch_norm1d.h"
#include "halfgrad/nn/batch_norm2d.h"

namespace hg::nn {

Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> modules) : Sequential() {
  for (const auto& m : modules) push_back(m);
}

namespace {
// A BatchNorm1d/2d followed by a ReLU (the classes themselves: a subclass may override forward)
// runs as one op, BatchNorm::forward_relu: one kernel each way instead of two, the same bits.
bool fuses_with_relu(const Module& first, const Module& second) {
  const std::type_info& bn = typeid(first);
  return (bn == typeid(BatchNorm2d) || bn == typeid(BatchNorm1d)) && typeid(second) == typeid(ReLU);
}
}  // namespace

Tensor Sequential::forward(const Tensor& x) {
  Tensor out = x;
  for (auto it = begin(); it != end(); ++it) {
    Module& module = **it;
    if (it + 1 != end() && fuses_with_relu(module, **(it + 1))) {
      out = static_cast<BatchNorm&>(module).forward_relu(out);
      ++it;
      continue;
    }
    out = module.forward(out);
  }
  return out;
}

}  // namespace hg::nn
