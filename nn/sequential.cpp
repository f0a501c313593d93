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
  const auto children = named_children();
  for (size_t i = 0; i < children.size(); ++i) {
    Module& module = *children[i].second;
    if (i + 1 < children.size() && fuses_with_relu(module, *children[i + 1].second)) {
      out = static_cast<BatchNorm&>(module).forward_relu(out);
      ++i;
      continue;
    }
    out = module.forward(out);
  }
  return out;
}

std::shared_ptr<Module> Sequential::operator[](int64_t index) const {
  HG_CHECK(index >= -size_ && index < size_, "Sequential: index ", index, " out of range for ",
           size_, " modules (expected [", -size_, ", ", size_ - 1, "])");
  return named_children()[static_cast<size_t>(index < 0 ? index + size_ : index)].second;
}

}  // namespace hg::nn
