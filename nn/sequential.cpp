#include "halfgrad/nn/sequential.h"

#include <algorithm>
#include <typeinfo>

#include "halfgrad/autograd/activation_checkpoint.h"
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

Tensor Sequential::forward(const Tensor& x) { return forward_range(x, 0, size()); }

Tensor Sequential::forward_range(const Tensor& x, int64_t first, int64_t last) {
  HG_CHECK(0 <= first && first <= last && last <= size(), "Sequential::forward_range: modules [",
           first, ", ", last, ") of ", size());
  Tensor out = x;
  const auto stop = begin() + last;
  for (auto it = begin() + first; it != stop; ++it) {
    Module& module = **it;
    if (it + 1 != stop && fuses_with_relu(module, **(it + 1))) {
      out = static_cast<BatchNorm&>(module).forward_relu(out);
      ++it;
      continue;
    }
    out = module.forward(out);
  }
  return out;
}

Tensor checkpoint_sequential(const std::shared_ptr<Sequential>& net, int64_t segments,
                             const Tensor& input, bool preserve_rng_state) {
  HG_CHECK(net != nullptr, "checkpoint_sequential: got a null Sequential");
  HG_CHECK(segments >= 1 && segments <= std::max<int64_t>(net->size(), 1),
           "checkpoint_sequential: segments must be in [1, ", net->size(), "] for ", net->size(),
           " modules, got ", segments);
  const int64_t n = net->size();
  Tensor out = input;
  for (int64_t s = 0; s < segments; ++s) {
    const int64_t first = s * n / segments, last = (s + 1) * n / segments;
    if (s + 1 == segments) return net->forward_range(out, first, last);
    out = autograd::checkpoint(
        [net, first, last](const Tensor& x) { return net->forward_range(x, first, last); }, out,
        preserve_rng_state);
  }
  return out;
}

}  // namespace hg::nn
