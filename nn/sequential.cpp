#include "halfgrad/nn/sequential.h"

#include <algorithm>
#include <memory>
#include <typeinfo>
#include <vector>

#include "halfgrad/autograd/activation_checkpoint.h"
#include "halfgrad/autograd/grad_mode.h"
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

namespace {

// Modules [first, last) of net, for checkpoint_sequential: the first call runs them; a rerun
// (the backward's) puts their buffers back as the first run left them, so a BatchNorm's running
// statistics take each batch once, as without checkpointing.
Tensor run_segment(Sequential& net, int64_t first, int64_t last, const Tensor& x, int& calls) {
  if (calls++ == 0) return net.forward_range(x, first, last);
  std::vector<Tensor> buffers, kept;
  for (int64_t i = first; i < last; ++i)
    for (const Tensor& b : net[i]->buffers()) {
      buffers.push_back(b);
      kept.push_back(b.clone());
    }
  Tensor out = net.forward_range(x, first, last);
  NoGradGuard no_grad;
  for (size_t i = 0; i < buffers.size(); ++i) buffers[i].copy_(kept[i]);
  return out;
}

}  // namespace

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
    auto calls = std::make_shared<int>(0);
    out = autograd::checkpoint(
        [net, first, last, calls](const Tensor& x) {
          return run_segment(*net, first, last, x, *calls);
        },
        out, preserve_rng_state);
  }
  return out;
}

}  // namespace hg::nn
