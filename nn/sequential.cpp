#include "nn/sequential.h"

#include "core/error.h"

namespace hg::nn {

Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> modules) : Sequential() {
  for (const auto& m : modules) push_back(m);
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor out = x;
  for (const auto& [name, module] : named_children()) out = module->forward(out);
  return out;
}

std::shared_ptr<Module> Sequential::operator[](int64_t index) const {
  HG_CHECK(index >= -size_ && index < size_, "Sequential: index ", index, " out of range for ",
           size_, " modules (expected [", -size_, ", ", size_ - 1, "])");
  return named_children()[static_cast<size_t>(index < 0 ? index + size_ : index)].second;
}

}  // namespace hg::nn
